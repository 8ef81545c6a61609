//! Hashes: a packed encoding for small hashes (one buffer of length-prefixed field/value
//! pairs, insertion ordered, like Redis's listpack) that converts to a hash table once it holds
//! more than `max_entries` pairs or any field or value longer than `max_value` bytes (Redis's
//! `hash-max-listpack-entries` / `hash-max-listpack-value`).

use crate::blob::Blob;
use indexmap::IndexMap;

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

/// A hash value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashValue {
    /// `[len][field][len][value]…` with LEB128 lengths, in insertion order.
    Packed(Vec<u8>),
    /// A hash table.
    Table(IndexMap<Blob, Blob, ahash::RandomState>),
}

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn get_len(buf: &[u8], mut pos: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    while let Some(&b) = buf.get(pos) {
        n |= ((b & 0x7f) as usize) << shift;
        pos += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (n, pos)
}

/// Iterates over a packed buffer: (field, value, start offset of the pair, end offset).
struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (&'a [u8], &'a [u8], usize, usize);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let (fl, p) = get_len(self.buf, self.pos);
        let f = self.buf.get(p..p + fl)?;
        let (vl, p2) = get_len(self.buf, p + fl);
        let v = self.buf.get(p2..p2 + vl)?;
        self.pos = p2 + vl;
        Some((f, v, start, self.pos))
    }
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Packed(Vec::new())
    }
}

impl HashValue {
    fn packed_iter(buf: &[u8]) -> PackedIter<'_> {
        PackedIter { buf, pos: 0 }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            HashValue::Packed(b) => Self::packed_iter(b).count(),
            HashValue::Table(t) => t.len(),
        }
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        match self {
            HashValue::Packed(b) => b.is_empty(),
            HashValue::Table(t) => t.is_empty(),
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            HashValue::Packed(b) => Self::packed_iter(b)
                .find(|(f, ..)| *f == field)
                .map(|(_, v, ..)| v),
            HashValue::Table(t) => t.get(field).map(|v| v.as_slice()),
        }
    }

    /// Sets `field`; returns true when it is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        if let HashValue::Packed(b) = self {
            let found = Self::packed_iter(b)
                .find(|(f, ..)| *f == field)
                .map(|(_, _, s, e)| (s, e));
            let too_big = field.len() > limits.max_value || value.len() > limits.max_value;
            if !too_big {
                let mut pair = Vec::with_capacity(field.len() + value.len() + 4);
                put_len(&mut pair, field.len());
                pair.extend_from_slice(field);
                put_len(&mut pair, value.len());
                pair.extend_from_slice(value);
                match found {
                    Some((s, e)) => {
                        b.splice(s..e, pair);
                        return false;
                    }
                    None if Self::packed_iter(b).count() < limits.max_entries => {
                        b.extend_from_slice(&pair);
                        return true;
                    }
                    None => {}
                }
            }
            self.convert();
        }
        match self {
            HashValue::Table(t) => t.insert(Blob::new(field), Blob::new(value)).is_none(),
            HashValue::Packed(_) => false,
        }
    }

    fn convert(&mut self) {
        if let HashValue::Packed(b) = self {
            let mut t = IndexMap::with_hasher(ahash::RandomState::new());
            for (f, v, ..) in Self::packed_iter(b) {
                t.insert(Blob::new(f), Blob::new(v));
            }
            *self = HashValue::Table(t);
        }
    }

    /// Removes `field`; returns whether it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Packed(b) => match Self::packed_iter(b).find(|(f, ..)| *f == field) {
                Some((_, _, s, e)) => {
                    b.drain(s..e);
                    true
                }
                None => false,
            },
            HashValue::Table(t) => t.swap_remove(field).is_some(),
        }
    }

    /// Every (field, value), in storage order.
    pub fn pairs(&self) -> Vec<(&[u8], &[u8])> {
        match self {
            HashValue::Packed(b) => Self::packed_iter(b).map(|(f, v, ..)| (f, v)).collect(),
            HashValue::Table(t) => t
                .iter()
                .map(|(f, v)| (f.as_slice(), v.as_slice()))
                .collect(),
        }
    }

    /// The pair at position `i` (for random sampling).
    pub fn pair_at(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match self {
            HashValue::Packed(b) => Self::packed_iter(b).nth(i).map(|(f, v, ..)| (f, v)),
            HashValue::Table(t) => t.get_index(i).map(|(f, v)| (f.as_slice(), v.as_slice())),
        }
    }

    /// Drops up to `n` elements (lazy free); returns (dropped, whether nothing is left).
    pub fn drop_some(&mut self, n: usize) -> (usize, bool) {
        match self {
            HashValue::Table(t) => {
                let k = n.min(t.len());
                for _ in 0..k {
                    t.pop();
                }
                (k, t.is_empty())
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

    /// Heap bytes owned.
    pub fn heap_size(&self) -> usize {
        match self {
            HashValue::Packed(b) => b.capacity(),
            HashValue::Table(t) => {
                t.capacity() * (2 * std::mem::size_of::<Blob>() + 17)
                    + t.iter()
                        .map(|(f, v)| f.heap_size() + v.heap_size())
                        .sum::<usize>()
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
