//! Hashes: a packed encoding for small hashes (one buffer of length-prefixed field/value
//! pairs, insertion ordered, like Redis's listpack) that converts to a hash table once it holds
//! more than `max_entries` pairs or any field or value longer than `max_value` bytes (Redis's
//! `hash-max-listpack-entries` / `hash-max-listpack-value`).

use crate::blob::Blob;
use crate::packed::Packed;
use indexmap::IndexMap;
use std::ops::Range;

/// Thresholds for the packed encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashLimits {
    /// Most pairs kept packed.
    pub max_entries: usize,
    /// Longest field or value kept packed.
    pub max_value: usize,
}

impl Default for HashLimits {
    fn default() -> Self {
        HashLimits {
            max_entries: 128,
            max_value: 64,
        }
    }
}

/// A hash value (16 bytes: a thin pointer either way).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashValue {
    /// Field, value, field, value… in insertion order.
    Packed(Packed),
    /// A hash table.
    Table(Box<HashTable>),
}

/// A large hash: the table and the heap bytes its fields and values own (kept as they change,
/// so memory accounting is O(1) per write).
#[derive(Clone, Debug, Default)]
pub struct HashTable {
    map: IndexMap<Blob, Blob, ahash::RandomState>,
    bytes: usize,
}

impl PartialEq for HashTable {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}
impl Eq for HashTable {}

impl HashTable {
    fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        let v = Blob::new(value);
        self.bytes += v.heap_size();
        match self.map.get_mut(field) {
            Some(old) => {
                self.bytes -= old.heap_size();
                *old = v;
                false
            }
            None => {
                let f = Blob::new(field);
                self.bytes += f.heap_size();
                self.map.insert(f, v);
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.map.swap_remove_entry(field) {
            Some((f, v)) => {
                self.bytes -= f.heap_size() + v.heap_size();
                true
            }
            None => false,
        }
    }

    fn pop(&mut self) {
        if let Some((f, v)) = self.map.pop() {
            self.bytes -= f.heap_size() + v.heap_size();
        }
    }
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Packed(Packed::default())
    }
}

/// (field, value, byte range of the pair) over a packed hash.
fn packed_pairs(p: &Packed) -> impl Iterator<Item = (&[u8], &[u8], Range<usize>)> {
    let mut items = p.items();
    std::iter::from_fn(move || {
        let (f, a) = items.next()?;
        let (v, b) = items.next()?;
        Some((f, v, a.start..b.end))
    })
}

impl HashValue {
    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            HashValue::Packed(p) => p.count() / 2,
            HashValue::Table(t) => t.map.len(),
        }
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        match self {
            HashValue::Packed(p) => p.is_empty(),
            HashValue::Table(t) => t.map.is_empty(),
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            HashValue::Packed(p) => packed_pairs(p)
                .find(|(f, ..)| *f == field)
                .map(|(_, v, _)| v),
            HashValue::Table(t) => t.map.get(field).map(|v| v.as_slice()),
        }
    }

    /// Sets `field`; returns true when it is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        if let HashValue::Packed(p) = self {
            let too_big = field.len() > limits.max_value || value.len() > limits.max_value;
            if !too_big {
                let mut n = 0;
                let mut found = None;
                for (f, _, r) in packed_pairs(p) {
                    if f == field {
                        found = Some(r);
                        break;
                    }
                    n += 1;
                }
                match found {
                    Some(r) => {
                        p.replace(r, &[field, value]);
                        return false;
                    }
                    None if n < limits.max_entries => {
                        p.push(&[field, value]);
                        return true;
                    }
                    None => {}
                }
            }
            self.convert();
        }
        match self {
            HashValue::Table(t) => t.insert(field, value),
            HashValue::Packed(_) => false,
        }
    }

    fn convert(&mut self) {
        if let HashValue::Packed(p) = self {
            let mut t = HashTable::default();
            for (f, v, _) in packed_pairs(p) {
                t.insert(f, v);
            }
            *self = HashValue::Table(Box::new(t));
        }
    }

    /// Removes `field`; returns whether it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Packed(p) => {
                let found = packed_pairs(p).find(|(f, ..)| *f == field).map(|(.., r)| r);
                found.map(|r| p.remove(r)).is_some()
            }
            HashValue::Table(t) => t.remove(field),
        }
    }

    /// Every (field, value), in storage order.
    pub fn pairs(&self) -> Vec<(&[u8], &[u8])> {
        match self {
            HashValue::Packed(p) => packed_pairs(p).map(|(f, v, _)| (f, v)).collect(),
            HashValue::Table(t) => t
                .map
                .iter()
                .map(|(f, v)| (f.as_slice(), v.as_slice()))
                .collect(),
        }
    }

    /// The pair at position `i` (for random sampling).
    pub fn pair_at(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match self {
            HashValue::Packed(p) => packed_pairs(p).nth(i).map(|(f, v, _)| (f, v)),
            HashValue::Table(t) => t
                .map
                .get_index(i)
                .map(|(f, v)| (f.as_slice(), v.as_slice())),
        }
    }

    /// Drops up to `n` elements (lazy free); returns (dropped, whether nothing is left).
    pub fn drop_some(&mut self, n: usize) -> (usize, bool) {
        match self {
            HashValue::Table(t) => {
                let k = n.min(t.map.len());
                for _ in 0..k {
                    t.pop();
                }
                (k, t.map.is_empty())
            }
            compact => {
                let k = compact.len();
                *compact = HashValue::default();
                (k, true)
            }
        }
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Packed(_) => "listpack",
            HashValue::Table(_) => "hashtable",
        }
    }

    /// Heap bytes owned (O(1)).
    pub fn heap_size(&self) -> usize {
        match self {
            HashValue::Packed(p) => p.heap_size(),
            HashValue::Table(t) => {
                std::mem::size_of::<HashTable>()
                    + t.map.capacity() * (2 * std::mem::size_of::<Blob>() + 17)
                    + t.bytes
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_then_table() {
        let lim = HashLimits {
            max_entries: 4,
            max_value: 8,
        };
        let mut h = HashValue::default();
        assert!(h.set(b"a", b"1", lim));
        assert!(h.set(b"b", b"2", lim));
        assert!(!h.set(b"a", b"one", lim));
        assert_eq!(h.get(b"a"), Some(&b"one"[..]));
        assert_eq!(
            h.pairs(),
            vec![(&b"a"[..], &b"one"[..]), (&b"b"[..], &b"2"[..])]
        );
        assert_eq!(h.encoding(), "listpack");
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(h.len(), 1);
        for i in 0..5 {
            h.set(format!("f{i}").as_bytes(), b"v", lim);
        }
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 6);
        let mut h2 = HashValue::default();
        h2.set(b"k", &[b'x'; 9], lim);
        assert_eq!(h2.encoding(), "hashtable");
        assert_eq!(h2.get(b"k").map(|v| v.len()), Some(9));
    }

    #[test]
    fn long_lengths_round_trip() {
        let lim = HashLimits {
            max_entries: 10,
            max_value: 1000,
        };
        let mut h = HashValue::default();
        let v = vec![7u8; 300];
        h.set(b"f", &v, lim);
        h.set(b"g", b"", lim);
        assert_eq!(h.get(b"f"), Some(&v[..]));
        assert_eq!(h.get(b"g"), Some(&b""[..]));
    }
}
