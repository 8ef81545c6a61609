//! `Blob`: a compact, immutable byte string for keys and string values.
//!
//! 24 bytes on the stack. Up to [`INLINE_CAP`] bytes live inline (no allocation: most keys and
//! counters); longer contents live in one exact-size heap allocation (`Box<[u8]>`), so a 100-byte
//! value costs 100 bytes of heap plus the allocator's rounding, not a growable buffer's slack.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Largest content stored inline.
pub const INLINE_CAP: usize = 22;

/// A compact immutable byte string.
#[derive(Clone)]
pub struct Blob(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, data: [u8; INLINE_CAP] },
    Heap(Box<[u8]>),
}

impl Blob {
    /// Copies `bytes` into a new blob.
    #[inline]
    pub fn new(bytes: &[u8]) -> Blob {
        if bytes.len() <= INLINE_CAP {
            let mut data = [0u8; INLINE_CAP];
            data[..bytes.len()].copy_from_slice(bytes);
            Blob(Repr::Inline {
                len: bytes.len() as u8,
                data,
            })
        } else {
            Blob(Repr::Heap(bytes.into()))
        }
    }

    /// The concatenation of `a` and `b` (no intermediate buffer).
    #[inline]
    pub fn from_parts(a: &[u8], b: &[u8]) -> Blob {
        let n = a.len() + b.len();
        if n <= INLINE_CAP {
            let mut data = [0u8; INLINE_CAP];
            data[..a.len()].copy_from_slice(a);
            data[a.len()..n].copy_from_slice(b);
            Blob(Repr::Inline { len: n as u8, data })
        } else {
            let mut v = Vec::with_capacity(n);
            v.extend_from_slice(a);
            v.extend_from_slice(b);
            Blob(Repr::Heap(v.into_boxed_slice()))
        }
    }

    /// Takes ownership of a vector (shrinking it to its length when it goes to the heap).
    pub fn from_vec(v: Vec<u8>) -> Blob {
        if v.len() <= INLINE_CAP {
            Blob::new(&v)
        } else {
            Blob(Repr::Heap(v.into_boxed_slice()))
        }
    }

    /// The contents.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, data } => &data[..*len as usize],
            Repr::Heap(b) => b,
        }
    }

    /// Bytes this blob owns on the heap (0 when inline).
    #[inline]
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(b) => b.len(),
        }
    }

    /// Whether the contents are stored inline.
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }
}

impl Deref for Blob {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for Blob {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for Blob {
    #[inline]
    fn eq(&self, other: &Blob) -> bool {
        self.as_slice() == other.as_slice()
    }
}
impl Eq for Blob {}

impl Hash for Blob {
    // Must hash exactly like `[u8]` so that lookups by `&[u8]` find the entry.
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({:?})", String::from_utf8_lossy(self.as_slice()))
    }
}

impl From<&[u8]> for Blob {
    fn from(b: &[u8]) -> Blob {
        Blob::new(b)
    }
}

impl From<&str> for Blob {
    fn from(s: &str) -> Blob {
        Blob::new(s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Blob>(), 24);
    }

    #[test]
    fn inline_and_heap_round_trip() {
        for n in [0usize, 1, 21, 22, 23, 100, 5000] {
            let v: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let b = Blob::new(&v);
            assert_eq!(b.as_slice(), &v[..]);
            assert_eq!(b.is_inline(), n <= INLINE_CAP);
            assert_eq!(Blob::from_vec(v.clone()).as_slice(), &v[..]);
            let (x, y) = v.split_at(n / 3);
            assert_eq!(Blob::from_parts(x, y).as_slice(), &v[..]);
        }
    }

    #[test]
    fn hashes_like_a_slice() {
        use std::collections::HashSet;
        let mut s: HashSet<Blob> = HashSet::new();
        s.insert(Blob::new(b"hello"));
        assert!(s.contains(&b"hello"[..]));
    }
}
