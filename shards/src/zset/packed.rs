//! The encoding of small sorted sets (Redis's `listpack`): one buffer of
//! `[LEB128 length][member][score, 8 bytes]` entries in (score, member) order, plus a count.

use std::cmp::Ordering;

/// A packed sorted set.
#[derive(Clone, Default)]
pub struct Packed {
    buf: Vec<u8>,
    len: usize,
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

/// Iterates over entries: (member, score, start offset, end offset).
pub struct Iter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64, usize, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.pos;
        let mut n = 0usize;
        let mut shift = 0;
        let mut p = self.pos;
        loop {
            let b = *self.buf.get(p)?;
            n |= ((b & 0x7f) as usize) << shift;
            p += 1;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let m = self.buf.get(p..p + n)?;
        let s = self.buf.get(p + n..p + n + 8)?;
        let score = f64::from_le_bytes(s.try_into().ok()?);
        self.pos = p + n + 8;
        Some((m, score, start, self.pos))
    }
}

/// The score as a listpack keeps it: Redis stores integral scores as integers, so -0 reads
/// back as 0.
#[inline]
fn listpack_score(s: f64) -> f64 {
    if s == 0.0 {
        0.0
    } else {
        s
    }
}

/// Redis's order: by score, then by member bytes.
#[inline]
pub fn cmp_entry(a: (&[u8], f64), b: (&[u8], f64)) -> Ordering {
    match a.1.partial_cmp(&b.1) {
        Some(Ordering::Equal) | None => a.0.cmp(b.0),
        Some(o) => o,
    }
}

impl Packed {
    /// Builds from distinct entries already in order.
    pub fn from_sorted<'a>(entries: impl IntoIterator<Item = (&'a [u8], f64)>) -> Packed {
        let mut p = Packed::default();
        for (m, s) in entries {
            let s = listpack_score(s);
            put_len(&mut p.buf, m.len());
            p.buf.extend_from_slice(m);
            p.buf.extend_from_slice(&s.to_le_bytes());
            p.len += 1;
        }
        p
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entries in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            buf: &self.buf,
            pos: 0,
        }
    }

    /// Every (member, score), in order.
    pub fn entries(&self) -> Vec<(&[u8], f64)> {
        self.iter().map(|(m, s, ..)| (m, s)).collect()
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.iter().find(|e| e.0 == member).map(|e| e.1)
    }

    /// Adds a member that is not present, at its place.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let score = listpack_score(score);
        let at = self
            .iter()
            .find(|&(m, s, ..)| cmp_entry((m, s), (member, score)) == Ordering::Greater)
            .map_or(self.buf.len(), |e| e.2);
        let mut e = Vec::with_capacity(member.len() + 10);
        put_len(&mut e, member.len());
        e.extend_from_slice(member);
        e.extend_from_slice(&score.to_le_bytes());
        self.buf.splice(at..at, e);
        self.len += 1;
    }

    /// Removes `member`; false when absent.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.iter().find(|e| e.0 == member) {
            Some((_, _, s, e)) => {
                self.buf.drain(s..e);
                self.len -= 1;
                true
            }
            None => false,
        }
    }

    /// Removes the members at ranks `from..to`; returns how many.
    pub fn remove_ranks(&mut self, from: usize, to: usize) -> usize {
        let to = to.min(self.len);
        if from >= to {
            return 0;
        }
        let offsets: Vec<(usize, usize)> = self.iter().map(|e| (e.2, e.3)).collect();
        let (s, e) = (offsets[from].0, offsets[to - 1].1);
        self.buf.drain(s..e);
        self.len -= to - from;
        to - from
    }

    /// Heap bytes owned.
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    /// Releases spare capacity.
    pub fn shrink(&mut self) {
        if self.buf.capacity() > self.buf.len() + self.buf.len() / 4 + 16 {
            self.buf.shrink_to_fit();
        }
    }
}
