//! Sets: a sorted integer array while every member is an integer (Redis's intset), a packed
//! list while small (listpack), a hash set when large — by `set-max-intset-entries`,
//! `set-max-listpack-entries` and `set-max-listpack-value`.

use crate::blob::Blob;
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

/// A set value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetValue {
    /// Sorted, distinct integers.
    Ints(Vec<i64>),
    /// Distinct members in insertion order.
    Packed(Vec<Blob>),
    /// A hash set.
    Table(IndexSet<Blob, ahash::RandomState>),
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::Ints(Vec::new())
    }
}

impl SetValue {
    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            SetValue::Ints(v) => v.len(),
            SetValue::Packed(v) => v.len(),
            SetValue::Table(t) => t.len(),
        }
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Membership.
    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetValue::Ints(v) => parse_i64(m).is_some_and(|i| v.binary_search(&i).is_ok()),
            SetValue::Packed(v) => v.iter().any(|b| b.as_slice() == m),
            SetValue::Table(t) => t.contains(m),
        }
    }

    /// Adds `m`; true when new.
    pub fn add(&mut self, m: &[u8], lim: SetLimits) -> bool {
        if let SetValue::Ints(v) = self {
            if let Some(i) = parse_i64(m) {
                match v.binary_search(&i) {
                    Ok(_) => return false,
                    Err(pos) if v.len() < lim.max_intset_entries => {
                        v.insert(pos, i);
                        return true;
                    }
                    Err(_) => {}
                }
            }
            // Leave the intset: packed when it would still fit, else a table.
            let fits = v.len() < lim.max_listpack_entries && m.len() <= lim.max_listpack_value;
            let members: Vec<Blob> = v
                .iter()
                .map(|i| Blob::new(i.to_string().as_bytes()))
                .collect();
            *self = if fits {
                SetValue::Packed(members)
            } else {
                SetValue::Table(members.into_iter().collect())
            };
        }
        if let SetValue::Packed(v) = self {
            if v.iter().any(|b| b.as_slice() == m) {
                return false;
            }
            if v.len() < lim.max_listpack_entries && m.len() <= lim.max_listpack_value {
                v.push(Blob::new(m));
                return true;
            }
            *self = SetValue::Table(std::mem::take(v).into_iter().collect());
        }
        match self {
            SetValue::Table(t) => t.insert(Blob::new(m)),
            _ => false,
        }
    }

    /// Removes `m`; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            SetValue::Ints(v) => match parse_i64(m).map(|i| v.binary_search(&i)) {
                Some(Ok(pos)) => {
                    v.remove(pos);
                    true
                }
                _ => false,
            },
            SetValue::Packed(v) => match v.iter().position(|b| b.as_slice() == m) {
                Some(pos) => {
                    v.remove(pos);
                    true
                }
                None => false,
            },
            SetValue::Table(t) => t.swap_remove(m),
        }
    }

    /// Every member (owned, in storage order).
    pub fn members(&self) -> Vec<Vec<u8>> {
        match self {
            SetValue::Ints(v) => v.iter().map(|i| i.to_string().into_bytes()).collect(),
            SetValue::Packed(v) => v.iter().map(|b| b.to_vec()).collect(),
            SetValue::Table(t) => t.iter().map(|b| b.to_vec()).collect(),
        }
    }

    /// The member at position `i`.
    pub fn member_at(&self, i: usize) -> Option<Vec<u8>> {
        match self {
            SetValue::Ints(v) => v.get(i).map(|x| x.to_string().into_bytes()),
            SetValue::Packed(v) => v.get(i).map(|b| b.to_vec()),
            SetValue::Table(t) => t.get_index(i).map(|b| b.to_vec()),
        }
    }

    /// Drops up to `n` elements (lazy free); returns (dropped, whether nothing is left).
    pub fn drop_some(&mut self, n: usize) -> (usize, bool) {
        match self {
            SetValue::Table(t) => {
                let k = n.min(t.len());
                for _ in 0..k {
                    t.pop();
                }
                (k, t.is_empty())
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

    /// Heap bytes owned.
    pub fn heap_size(&self) -> usize {
        match self {
            SetValue::Ints(v) => v.capacity() * 8,
            SetValue::Packed(v) => {
                v.capacity() * std::mem::size_of::<Blob>()
                    + v.iter().map(|b| b.heap_size()).sum::<usize>()
            }
            SetValue::Table(t) => {
                t.capacity() * (std::mem::size_of::<Blob>() + 17)
                    + t.iter().map(|b| b.heap_size()).sum::<usize>()
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
