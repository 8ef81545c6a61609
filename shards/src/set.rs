//! Sets: a sorted integer array while every member is an integer (Redis's intset), a packed
//! list while small (listpack), a hash set when large — by `set-max-intset-entries`,
//! `set-max-listpack-entries` and `set-max-listpack-value`.

use crate::blob::Blob;
use crate::intset::IntSet;
use crate::packed::Packed;
use crate::strings::parse_i64;
use indexmap::IndexSet;

/// Thresholds for the compact encodings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetLimits {
    /// Most integers kept as an intset.
    pub max_intset_entries: usize,
    /// Most members kept packed.
    pub max_listpack_entries: usize,
    /// Longest member kept packed.
    pub max_listpack_value: usize,
}

impl Default for SetLimits {
    fn default() -> Self {
        SetLimits {
            max_intset_entries: 512,
            max_listpack_entries: 128,
            max_listpack_value: 64,
        }
    }
}

/// A set value (16 bytes: a thin pointer in every encoding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetValue {
    /// Sorted, distinct integers.
    Ints(IntSet),
    /// Distinct members in insertion order.
    Packed(Packed),
    /// A hash set.
    Table(Box<SetTable>),
}

/// A large set: the table and the heap bytes its members own (kept as they change, so memory
/// accounting is O(1) per write).
#[derive(Clone, Debug, Default)]
pub struct SetTable {
    set: IndexSet<Blob, ahash::RandomState>,
    bytes: usize,
}

impl PartialEq for SetTable {
    fn eq(&self, other: &Self) -> bool {
        self.set == other.set
    }
}
impl Eq for SetTable {}

impl SetTable {
    fn insert(&mut self, m: &[u8]) -> bool {
        if self.set.contains(m) {
            return false;
        }
        let b = Blob::new(m);
        self.bytes += b.heap_size();
        self.set.insert(b)
    }

    fn remove(&mut self, m: &[u8]) -> bool {
        match self.set.swap_take(m) {
            Some(b) => {
                self.bytes -= b.heap_size();
                true
            }
            None => false,
        }
    }
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::Ints(IntSet::default())
    }
}

impl SetValue {
    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            SetValue::Ints(v) => v.len(),
            SetValue::Packed(p) => p.count(),
            SetValue::Table(t) => t.set.len(),
        }
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        match self {
            SetValue::Ints(v) => v.is_empty(),
            SetValue::Packed(p) => p.is_empty(),
            SetValue::Table(t) => t.set.is_empty(),
        }
    }

    /// Membership.
    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetValue::Ints(v) => parse_i64(m).is_some_and(|i| v.contains(i)),
            SetValue::Packed(p) => p.items().any(|(b, _)| b == m),
            SetValue::Table(t) => t.set.contains(m),
        }
    }

    /// Adds `m`; true when new.
    pub fn add(&mut self, m: &[u8], lim: SetLimits) -> bool {
        if let SetValue::Ints(v) = self {
            if let Some(i) = parse_i64(m) {
                if v.contains(i) {
                    return false;
                }
                if v.len() < lim.max_intset_entries {
                    return v.insert(i);
                }
            }
            // Leave the intset: packed when it would still fit, else a table.
            let fits = v.len() < lim.max_listpack_entries && m.len() <= lim.max_listpack_value;
            let members: Vec<Vec<u8>> = v.iter().map(|i| i.to_string().into_bytes()).collect();
            *self = if fits {
                let mut p = Packed::default();
                p.push(&members.iter().map(|m| m.as_slice()).collect::<Vec<_>>());
                SetValue::Packed(p)
            } else {
                let mut t = SetTable::default();
                for m in &members {
                    t.insert(m);
                }
                SetValue::Table(Box::new(t))
            };
        }
        if let SetValue::Packed(p) = self {
            let mut n = 0;
            for (b, _) in p.items() {
                if b == m {
                    return false;
                }
                n += 1;
            }
            if n < lim.max_listpack_entries && m.len() <= lim.max_listpack_value {
                p.push(&[m]);
                return true;
            }
            let mut t = SetTable::default();
            for (b, _) in p.items() {
                t.insert(b);
            }
            *self = SetValue::Table(Box::new(t));
        }
        match self {
            SetValue::Table(t) => t.insert(m),
            _ => false,
        }
    }

    /// Removes `m`; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            SetValue::Ints(v) => parse_i64(m).is_some_and(|i| v.remove(i)),
            SetValue::Packed(p) => match p.items().find(|(b, _)| *b == m) {
                Some((_, r)) => {
                    p.remove(r);
                    true
                }
                None => false,
            },
            SetValue::Table(t) => t.remove(m),
        }
    }

    /// Every member (owned, in storage order).
    pub fn members(&self) -> Vec<Vec<u8>> {
        match self {
            SetValue::Ints(v) => v.iter().map(|i| i.to_string().into_bytes()).collect(),
            SetValue::Packed(p) => p.items().map(|(b, _)| b.to_vec()).collect(),
            SetValue::Table(t) => t.set.iter().map(|b| b.to_vec()).collect(),
        }
    }

    /// The member at position `i`.
    pub fn member_at(&self, i: usize) -> Option<Vec<u8>> {
        match self {
            SetValue::Ints(v) => v.get(i).map(|x| x.to_string().into_bytes()),
            SetValue::Packed(p) => p.items().nth(i).map(|(b, _)| b.to_vec()),
            SetValue::Table(t) => t.set.get_index(i).map(|b| b.to_vec()),
        }
    }

    /// Drops up to `n` elements (lazy free); returns (dropped, whether nothing is left).
    pub fn drop_some(&mut self, n: usize) -> (usize, bool) {
        match self {
            SetValue::Table(t) => {
                let k = n.min(t.set.len());
                for _ in 0..k {
                    if let Some(b) = t.set.pop() {
                        t.bytes -= b.heap_size();
                    }
                }
                (k, t.set.is_empty())
            }
            compact => {
                let k = compact.len();
                *compact = SetValue::default();
                (k, true)
            }
        }
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Ints(_) => "intset",
            SetValue::Packed(_) => "listpack",
            SetValue::Table(_) => "hashtable",
        }
    }

    /// Heap bytes owned (O(1)).
    pub fn heap_size(&self) -> usize {
        match self {
            SetValue::Ints(v) => v.heap_size(),
            SetValue::Packed(p) => p.heap_size(),
            SetValue::Table(t) => {
                std::mem::size_of::<SetTable>()
                    + t.set.capacity() * (std::mem::size_of::<Blob>() + 17)
                    + t.bytes
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_contents_and_size() {
        let lim = SetLimits {
            max_intset_entries: 4,
            max_listpack_entries: 3,
            max_listpack_value: 4,
        };
        let mut s = SetValue::default();
        assert!(s.add(b"3", lim));
        assert!(s.add(b"1", lim));
        assert!(!s.add(b"3", lim));
        assert_eq!(s.encoding(), "intset");
        assert_eq!(s.members(), vec![b"1".to_vec(), b"3".to_vec()]);
        assert!(s.add(b"abc", lim));
        assert_eq!(s.encoding(), "listpack");
        assert!(s.contains(b"1") && s.contains(b"abc") && !s.contains(b"2"));
        assert!(s.add(b"x", lim));
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 4);
        assert!(s.remove(b"1"));
        assert!(!s.remove(b"1"));
        let mut t = SetValue::default();
        t.add(b"longer-than-four", lim);
        assert_eq!(t.encoding(), "hashtable");
        assert!(!t.contains(b"01"));
    }
}
