//! `Packed`: the compact encoding small hashes and sets share (Redis's listpack): byte strings,
//! each prefixed with its LEB128 length, in one exact-size [`ThinBytes`] allocation (the owner
//! holds 8 bytes; an empty buffer allocates nothing). Every change builds the new exact-size
//! buffer, as a listpack reallocates: these buffers hold at most a few hundred small items.

use crate::thin::ThinBytes;

/// Length-prefixed byte strings in one allocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Packed(ThinBytes);

/// Appends `n` as LEB128.
pub fn put_len(out: &mut impl Extend<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.extend([b]);
            return;
        }
        out.extend([b | 0x80]);
    }
}

/// Reads a LEB128 length at `pos`: (value, position after it).
fn get_len(buf: &[u8], mut pos: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    while let Some(&b) = buf.get(pos) {
        if shift < usize::BITS {
            n |= ((b & 0x7f) as usize) << shift;
        }
        pos += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (n, pos)
}

fn encode(items: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.iter().map(|i| i.len() + 2).sum());
    for i in items {
        put_len(&mut out, i.len());
        out.extend_from_slice(i);
    }
    out
}

/// The items of a [`Packed`], each with the byte range it occupies (prefix included).
pub struct Items<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Items<'a> {
    type Item = (&'a [u8], std::ops::Range<usize>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let (len, p) = get_len(self.buf, start);
        let item = self.buf.get(p..p.checked_add(len)?)?;
        self.pos = p + len;
        Some((item, start..self.pos))
    }
}

impl Packed {
    /// The items in order.
    pub fn items(&self) -> Items<'_> {
        Items {
            buf: self.0.as_slice(),
            pos: 0,
        }
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of items (a walk: these buffers are small).
    pub fn count(&self) -> usize {
        self.items().count()
    }

    /// Appends `items`.
    pub fn push(&mut self, items: &[&[u8]]) {
        let enc = encode(items);
        self.0 = ThinBytes::from_parts(&[self.0.as_slice(), &enc]);
    }

    /// Replaces the bytes in `range` (item boundaries) with `items`.
    pub fn replace(&mut self, range: std::ops::Range<usize>, items: &[&[u8]]) {
        let enc = encode(items);
        let old = self.0.as_slice();
        self.0 = ThinBytes::from_parts(&[&old[..range.start], &enc, &old[range.end..]]);
    }

    /// Removes the bytes in `range` (item boundaries).
    pub fn remove(&mut self, range: std::ops::Range<usize>) {
        self.replace(range, &[]);
    }

    /// Heap bytes: the allocation (length header and bytes), none when empty.
    pub fn heap_size(&self) -> usize {
        self.0.heap_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip_and_stay_exact() {
        let long = vec![9u8; 300];
        let mut p = Packed::default();
        assert_eq!(p.heap_size(), 0);
        p.push(&[b"a", b"", &long]);
        let got: Vec<&[u8]> = p.items().map(|(i, _)| i).collect();
        assert_eq!(got, vec![&b"a"[..], &b""[..], &long[..]]);
        let (_, r) = p.items().nth(1).unwrap();
        p.replace(r, &[b"xyz", b"w"]);
        assert_eq!(p.count(), 4);
        let (_, r) = p.items().next().unwrap();
        p.remove(r);
        let got: Vec<&[u8]> = p.items().map(|(i, _)| i).collect();
        assert_eq!(got, vec![&b"xyz"[..], &b"w"[..], &long[..]]);
        assert_eq!(p.heap_size(), 1 + 3 + 1 + 1 + 2 + 300 + 2);
    }

    #[test]
    fn truncated_buffers_end_the_walk() {
        let mut p = Packed::default();
        p.push(&[b"hello"]);
        let cut = p.0.as_slice()[..3].to_vec();
        p.0 = ThinBytes::from_parts(&[&cut]);
        assert_eq!(p.count(), 0);
    }
}
