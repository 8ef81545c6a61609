//! One packed chunk of list elements: the unit a list is made of (Redis's listpack node).
//!
//! # Layout
//! ```text
//! buf: [ reference | dead space | entry entry … entry | free space ]
//!        0..rlen     rlen..head   head..tail            tail..cap
//! ```
//! The *reference* is a copy of (up to [`REF_MAX`] bytes of) the first element the chunk
//! received. Every entry stores the length of the prefix it shares with the reference and only
//! the rest of its bytes, so runs of similar elements (`item:1000`, `item:1001`, …) take two or
//! three bytes each; an element sharing nothing is stored whole, as in a listpack.
//!
//! An entry is `header | own bytes | backlen`:
//! - header `0x00..=0x7F`: nothing shared, the byte is the length;
//! - `0x80..=0xEF`: `v = h - 0x80` shares `v / 8 + 1` bytes (1..=14) and owns `v % 8` (0..=7);
//! - `0xF0`, varint length: nothing shared, long element;
//! - `0xF1`, varint shared, varint own length: the general form;
//! - `0xF2..=0xF6`: an integer in canonical decimal form (`-7`, `1234567`) stored as 1, 2, 3,
//!   4 or 8 little-endian bytes (as a listpack stores integers).
//!
//! Each element takes the shortest of the forms that apply.
//!
//! `backlen` is the size of header + own bytes written so it can be read from the right (the
//! rightmost byte holds the low 7 bits, a set high bit says "more bytes to the left"), so the
//! chunk can be walked from either end. Entries live between `head` and `tail` with free space
//! on both sides: pushes at either end are amortised O(1), pops at either end are O(1).

use crate::blob::Blob;

/// Longest reference prefix kept per chunk.
pub const REF_MAX: usize = 32;

/// Smallest buffer a chunk allocates.
const MIN_CAP: usize = 16;

/// A packed run of list elements.
#[derive(Clone, Default)]
pub struct Chunk {
    buf: Box<[u8]>,
    head: u32,
    tail: u32,
    count: u32,
    rlen: u8,
}

/// An element as stored.
#[derive(Clone, Copy, Debug)]
pub enum Elem<'a> {
    /// The prefix it shares with its chunk's reference, then its own bytes.
    Bytes(&'a [u8], &'a [u8]),
    /// An integer (the element is its canonical decimal form).
    Int(i64),
}

/// Room for an integer's decimal form.
pub type IntBuf = [u8; 20];

fn format_int(v: i64, buf: &mut IntBuf) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

impl<'a> Elem<'a> {
    /// The element as two slices (`buf` holds an integer's digits).
    #[inline]
    pub fn parts<'b>(&self, buf: &'b mut IntBuf) -> (&'b [u8], &'b [u8])
    where
        'a: 'b,
    {
        match *self {
            Elem::Bytes(p, s) => (p, s),
            Elem::Int(v) => (format_int(v, buf), &[]),
        }
    }

    /// Length of the element.
    #[inline]
    pub fn len(&self) -> usize {
        let mut buf = IntBuf::default();
        let (a, b) = self.parts(&mut buf);
        a.len() + b.len()
    }

    /// Whether the element is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the element equals `b`.
    #[inline]
    pub fn eq_bytes(&self, b: &[u8]) -> bool {
        match *self {
            Elem::Bytes(p, s) => {
                b.len() == p.len() + s.len() && &b[..p.len()] == p && &b[p.len()..] == s
            }
            // Stored as an integer only when canonical, so equal iff `b` is the same integer
            // in canonical form.
            Elem::Int(v) => crate::strings::parse_i64(b) == Some(v),
        }
    }

    /// A copy of the element.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = IntBuf::default();
        let (a, b) = self.parts(&mut buf);
        let mut v = Vec::with_capacity(a.len() + b.len());
        v.extend_from_slice(a);
        v.extend_from_slice(b);
        v
    }

    /// A copy of the element as a blob.
    #[inline]
    pub fn to_blob(&self) -> Blob {
        let mut buf = IntBuf::default();
        let (a, b) = self.parts(&mut buf);
        Blob::from_parts(a, b)
    }
}

#[inline]
fn varint_len(mut n: usize) -> usize {
    let mut k = 1;
    while n >= 0x80 {
        n >>= 7;
        k += 1;
    }
    k
}

#[inline]
fn put_varint(buf: &mut [u8], mut at: usize, mut n: usize) -> usize {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf[at] = b;
            return at + 1;
        }
        buf[at] = b | 0x80;
        at += 1;
    }
}

#[inline]
fn get_varint(buf: &[u8], mut at: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[at];
        at += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            return (n, at);
        }
        shift += 7;
    }
}

/// Writes `n` (the entry size) as a backlen occupying `varint_len(n)` bytes at `at`.
#[inline]
fn put_backlen(buf: &mut [u8], at: usize, n: usize) -> usize {
    let k = varint_len(n);
    for i in 0..k {
        let bits = ((n >> (7 * i)) & 0x7f) as u8;
        let more = if i + 1 < k { 0x80 } else { 0 };
        buf[at + k - 1 - i] = bits | more;
    }
    at + k
}

/// Reads the backlen ending at `end` (exclusive): (entry size, offset of the backlen).
#[inline]
fn get_backlen(buf: &[u8], end: usize) -> (usize, usize) {
    let mut pos = end - 1;
    let mut n = 0usize;
    let mut i = 0;
    loop {
        let b = buf[pos];
        n |= ((b & 0x7f) as usize) << (7 * i);
        if b & 0x80 == 0 {
            return (n, pos);
        }
        pos -= 1;
        i += 1;
    }
}

/// The next capacity for a buffer of `cap` bytes that needs `min`: tiny buffers grow to fit
/// (8-byte steps: a list of a few short elements wastes nothing), others double, up to
/// `max_cap` unless one entry needs more.
fn grown(cap: usize, min: usize, max_cap: usize) -> usize {
    if min <= 64 {
        (min + 7) & !7
    } else {
        (cap * 2).min(max_cap).max(min)
    }
}

/// How an element will be encoded in a chunk with a given reference.
struct Plan {
    hdr: [u8; 21],
    hlen: usize,
    /// Bytes shared with the reference (for an integer: the whole element, nothing follows the
    /// header, which holds the integer).
    shared: usize,
}

/// The integer form of `elem` when it is a canonical integer: (header code, bytes).
#[inline]
fn int_form(elem: &[u8]) -> Option<(i64, u8, usize)> {
    if elem.len() < 2 || !(elem[0].is_ascii_digit() || elem[0] == b'-') {
        return None;
    }
    let v = crate::strings::parse_i64(elem)?;
    Some(match v {
        -0x80..=0x7F => (v, 0xF2, 1),
        -0x8000..=0x7FFF => (v, 0xF3, 2),
        -0x80_0000..=0x7F_FFFF => (v, 0xF4, 3),
        -0x8000_0000..=0x7FFF_FFFF => (v, 0xF5, 4),
        _ => (v, 0xF6, 8),
    })
}

impl Plan {
    fn new(reference: &[u8], elem: &[u8]) -> Plan {
        let mut p = Plan::bytes(reference, elem);
        if let Some((v, code, n)) = int_form(elem) {
            if 1 + n < p.hlen + elem.len() - p.shared {
                p.hdr[0] = code;
                p.hdr[1..1 + n].copy_from_slice(&v.to_le_bytes()[..n]);
                p.hlen = 1 + n;
                p.shared = elem.len();
            }
        }
        p
    }

    fn bytes(reference: &[u8], elem: &[u8]) -> Plan {
        let shared = reference
            .iter()
            .zip(elem)
            .take_while(|(a, b)| a == b)
            .count();
        let len = elem.len();
        let lit_hlen = if len < 0x80 { 1 } else { 1 + varint_len(len) };
        let mut p = Plan {
            hdr: [0; 21],
            hlen: lit_hlen,
            shared: 0,
        };
        if shared > 0 {
            let own = len - shared;
            let short = shared <= 14 && own <= 7;
            let hlen = if short {
                1
            } else {
                1 + varint_len(shared) + varint_len(own)
            };
            if hlen + own < lit_hlen + len {
                p.shared = shared;
                p.hlen = hlen;
                if short {
                    p.hdr[0] = 0x80 + ((shared - 1) * 8 + own) as u8;
                } else {
                    p.hdr[0] = 0xF1;
                    let at = put_varint(&mut p.hdr, 1, shared);
                    put_varint(&mut p.hdr, at, own);
                }
                return p;
            }
        }
        if len < 0x80 {
            p.hdr[0] = len as u8;
        } else {
            p.hdr[0] = 0xF0;
            put_varint(&mut p.hdr, 1, len);
        }
        p
    }

    /// Bytes of the encoded entry for an element of `len` bytes, backlen included.
    fn size(&self, len: usize) -> usize {
        let n = self.hlen + len - self.shared;
        n + varint_len(n)
    }
}

impl Chunk {
    /// A shared empty chunk.
    pub fn empty() -> &'static Chunk {
        static EMPTY: std::sync::OnceLock<Chunk> = std::sync::OnceLock::new();
        EMPTY.get_or_init(Chunk::default)
    }

    /// A chunk holding `elem` alone, with room for about `cap_hint` bytes; `at_back` says
    /// which way it is expected to grow (free space goes after the entry, or before it).
    pub fn with_first(elem: &[u8], cap_hint: usize, at_back: bool) -> Chunk {
        let rlen = elem.len().min(REF_MAX);
        let plan = Plan::new(&elem[..rlen], elem);
        let need = rlen + plan.size(elem.len());
        let cap = cap_hint.max(need).max(MIN_CAP);
        let mut c = Chunk {
            buf: vec![0u8; cap].into_boxed_slice(),
            head: 0,
            tail: 0,
            count: 0,
            rlen: rlen as u8,
        };
        c.buf[..rlen].copy_from_slice(&elem[..rlen]);
        let at = if at_back { rlen } else { cap - (need - rlen) };
        c.head = at as u32;
        c.tail = at as u32;
        c.write_at(at, &plan, elem);
        c.tail = (at + need - rlen) as u32;
        c.count = 1;
        c
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the chunk holds nothing.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes in use (reference + entries): what the size limit applies to.
    #[inline]
    pub fn used(&self) -> usize {
        self.rlen as usize + (self.tail - self.head) as usize
    }

    /// Bytes allocated.
    #[inline]
    pub fn cap(&self) -> usize {
        self.buf.len()
    }

    fn reference(&self) -> &[u8] {
        &self.buf[..self.rlen as usize]
    }

    fn write_at(&mut self, at: usize, plan: &Plan, elem: &[u8]) -> usize {
        let own = &elem[plan.shared..];
        let n = plan.hlen + own.len();
        self.buf[at..at + plan.hlen].copy_from_slice(&plan.hdr[..plan.hlen]);
        self.buf[at + plan.hlen..at + n].copy_from_slice(own);
        put_backlen(&mut self.buf, at + n, n)
    }

    /// Decodes the entry starting at `at`: the element and the offset of the next entry.
    #[inline]
    pub fn entry(&self, at: usize) -> (Elem<'_>, usize) {
        let h = self.buf[at];
        let (shared, own, data) = match h {
            0x00..=0x7F => (0, h as usize, at + 1),
            0x80..=0xEF => {
                let v = (h - 0x80) as usize;
                (v / 8 + 1, v % 8, at + 1)
            }
            0xF0 => {
                let (n, p) = get_varint(&self.buf, at + 1);
                (0, n, p)
            }
            0xF1 => {
                let (s, p) = get_varint(&self.buf, at + 1);
                let (n, p) = get_varint(&self.buf, p);
                (s, n, p)
            }
            _ => {
                let n = match h {
                    0xF2 => 1,
                    0xF3 => 2,
                    0xF4 => 3,
                    0xF5 => 4,
                    _ => 8,
                };
                let mut le = [0u8; 8];
                le[..n].copy_from_slice(&self.buf[at + 1..at + 1 + n]);
                // Sign-extend from n bytes.
                let shift = 64 - 8 * n as u32;
                let v = (i64::from_le_bytes(le) << shift) >> shift;
                let end = at + 1 + n;
                return (Elem::Int(v), end + varint_len(end - at));
            }
        };
        let end = data + own;
        let next = end + varint_len(end - at);
        (Elem::Bytes(&self.buf[..shared], &self.buf[data..end]), next)
    }

    /// Decodes the entry ending at `end` (exclusive, backlen included): the element and the
    /// offset where the entry starts.
    #[inline]
    pub fn entry_before(&self, end: usize) -> (Elem<'_>, usize) {
        let (n, bl) = get_backlen(&self.buf, end);
        let start = bl - n;
        (self.entry(start).0, start)
    }

    /// Offset of the first entry.
    #[inline]
    pub fn head(&self) -> usize {
        self.head as usize
    }

    /// Offset just past the last entry.
    #[inline]
    pub fn tail(&self) -> usize {
        self.tail as usize
    }

    /// Offset of the `k`-th entry (walking from the nearer end).
    pub fn offset_of(&self, k: usize) -> usize {
        let n = self.len();
        if k <= n / 2 {
            let mut at = self.head();
            for _ in 0..k {
                at = self.entry(at).1;
            }
            at
        } else {
            let mut at = self.tail();
            for _ in k..n {
                at = self.entry_before(at).1;
            }
            at
        }
    }

    /// The first element.
    pub fn first(&self) -> Option<Elem<'_>> {
        (self.count > 0).then(|| self.entry(self.head()).0)
    }

    /// The last element.
    pub fn last(&self) -> Option<Elem<'_>> {
        (self.count > 0).then(|| self.entry_before(self.tail()).0)
    }

    /// Every element, in order.
    pub fn elems(&self) -> impl Iterator<Item = Elem<'_>> + '_ {
        let mut at = self.head();
        (0..self.len()).map(move |_| {
            let (e, next) = self.entry(at);
            at = next;
            e
        })
    }

    /// Moves the entries to `new_head` in a buffer of `cap` bytes (reallocating when `cap`
    /// differs); the reference stays at the front.
    fn relayout(&mut self, cap: usize, new_head: usize) {
        let (h, t) = (self.head(), self.tail());
        let used = t - h;
        if cap == self.cap() {
            self.buf.copy_within(h..t, new_head);
        } else {
            let mut nb = vec![0u8; cap].into_boxed_slice();
            let r = self.rlen as usize;
            nb[..r].copy_from_slice(&self.buf[..r]);
            nb[new_head..new_head + used].copy_from_slice(&self.buf[h..t]);
            self.buf = nb;
        }
        self.head = new_head as u32;
        self.tail = (new_head + used) as u32;
    }

    /// Room for `need` more bytes after the tail: compacts when the dead space in front is
    /// large, otherwise grows (doubling, up to `max_cap` unless one entry needs more).
    fn room_back(&mut self, need: usize, max_cap: usize) {
        if self.cap() - self.tail() >= need {
            return;
        }
        let r = self.rlen as usize;
        let used = self.tail() - self.head();
        let dead = self.head() - r;
        if dead + (self.cap() - self.tail()) >= need && dead >= self.cap() / 4 {
            self.relayout(self.cap(), r);
            return;
        }
        let cap = grown(self.cap(), r + used + need, max_cap);
        self.relayout(cap, r);
    }

    /// Room for `need` more bytes before the head (mirror of `room_back`).
    fn room_front(&mut self, need: usize, max_cap: usize) {
        let r = self.rlen as usize;
        if self.head() - r >= need {
            return;
        }
        let used = self.tail() - self.head();
        let free_back = self.cap() - self.tail();
        if free_back + (self.head() - r) >= need && free_back >= self.cap() / 4 {
            let cap = self.cap();
            self.relayout(cap, cap - used);
            return;
        }
        let cap = grown(self.cap(), r + used + need, max_cap);
        self.relayout(cap, cap - used);
    }

    /// Pushes `elem` at the front (`left`) or the back if the chunk stays within
    /// `max_bytes` and `max_count` (an empty chunk takes anything); false when it would not.
    /// The buffer grows by doubling, up to `max_bytes`.
    #[inline]
    pub fn try_push(
        &mut self,
        elem: &[u8],
        left: bool,
        max_bytes: usize,
        max_count: usize,
    ) -> bool {
        if self.count == 0 {
            *self = Chunk::with_first(elem, 0, !left);
            return true;
        }
        if self.len() >= max_count {
            return false;
        }
        let plan = Plan::new(self.reference(), elem);
        let need = plan.size(elem.len());
        if self.used() + need > max_bytes {
            return false;
        }
        self.push_planned(&plan, need, elem, left, max_bytes);
        true
    }

    fn push_planned(&mut self, plan: &Plan, need: usize, elem: &[u8], left: bool, max_cap: usize) {
        if left {
            self.room_front(need, max_cap);
            let at = self.head() - need;
            self.write_at(at, plan, elem);
            self.head = at as u32;
        } else {
            self.room_back(need, max_cap);
            let at = self.tail();
            self.tail = self.write_at(at, plan, elem) as u32;
        }
        self.count += 1;
    }

    /// Appends `elem` whatever the limits; the buffer grows up to `max_cap` bytes at a time.
    pub fn push_back(&mut self, elem: &[u8], max_cap: usize) {
        self.push_any(elem, false, max_cap);
    }

    /// Prepends `elem` whatever the limits.
    pub fn push_front(&mut self, elem: &[u8], max_cap: usize) {
        self.push_any(elem, true, max_cap);
    }

    fn push_any(&mut self, elem: &[u8], left: bool, max_cap: usize) {
        if self.count == 0 {
            *self = Chunk::with_first(elem, 0, !left);
            return;
        }
        let plan = Plan::new(self.reference(), elem);
        let need = plan.size(elem.len());
        self.push_planned(&plan, need, elem, left, max_cap);
    }

    /// Removes and returns the first element.
    pub fn pop_front(&mut self) -> Option<Blob> {
        if self.count == 0 {
            return None;
        }
        let (e, next) = self.entry(self.head());
        let b = e.to_blob();
        self.head = next as u32;
        self.count -= 1;
        self.after_pop();
        Some(b)
    }

    /// Removes and returns the last element.
    pub fn pop_back(&mut self) -> Option<Blob> {
        if self.count == 0 {
            return None;
        }
        let (e, start) = self.entry_before(self.tail());
        let b = e.to_blob();
        self.tail = start as u32;
        self.count -= 1;
        self.after_pop();
        Some(b)
    }

    /// Releases memory once three quarters of the buffer are unused.
    fn after_pop(&mut self) {
        let used = self.used();
        if self.count == 0 {
            let r = self.rlen as usize;
            self.head = r as u32;
            self.tail = r as u32;
        }
        if self.cap() > 64 && used * 4 < self.cap() {
            let cap = (used * 2).max(MIN_CAP);
            let r = self.rlen as usize;
            let slack = cap - used;
            self.relayout(cap, r + slack / 2);
        }
    }

    /// Shrinks the buffer to what the entries use.
    pub fn shrink_to_fit(&mut self) {
        let used = self.used();
        if used < self.cap() {
            self.relayout(used.max(1), self.rlen as usize);
        }
    }

    /// Packs `elems` into chunks of at most `max_bytes` bytes and `max_count` elements
    /// (an element larger than the limit gets a chunk of its own), each shrunk to fit.
    pub fn build<'b>(
        elems: impl IntoIterator<Item = &'b [u8]>,
        max_bytes: usize,
        max_count: usize,
    ) -> Vec<Chunk> {
        let mut out: Vec<Chunk> = Vec::new();
        for e in elems {
            if let Some(c) = out.last_mut() {
                if c.try_push(e, false, max_bytes, max_count) {
                    continue;
                }
                c.shrink_to_fit();
            }
            out.push(Chunk::with_first(e, 64, true));
        }
        if let Some(c) = out.last_mut() {
            c.shrink_to_fit();
        }
        out
    }
}

impl std::fmt::Debug for Chunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.elems()
                    .map(|e| String::from_utf8_lossy(&e.to_vec()).into_owned()),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(c: &Chunk) -> Vec<Vec<u8>> {
        c.elems().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn varints_and_backlens_round_trip() {
        for n in [
            0usize,
            1,
            127,
            128,
            300,
            16383,
            16384,
            1 << 21,
            usize::MAX >> 8,
        ] {
            let mut b = [0u8; 12];
            let end = put_varint(&mut b, 0, n);
            assert_eq!(get_varint(&b, 0), (n, end));
            assert_eq!(end, varint_len(n));
            let end = put_backlen(&mut b, 1, n);
            assert_eq!(get_backlen(&b, end), (n, 1));
        }
    }

    #[test]
    fn shares_prefixes_with_the_reference() {
        let mut c = Chunk::with_first(b"item:1000", 64, true);
        for i in 1001..1100 {
            c.push_back(format!("item:{i}").as_bytes(), 8192);
        }
        // 9-byte reference + 100 entries of header + 3 own bytes + backlen.
        assert!(c.used() <= 9 + 100 * 5 + 5, "{}", c.used());
        assert_eq!(c.first().map(|e| e.to_vec()), Some(b"item:1000".to_vec()));
        assert_eq!(c.last().map(|e| e.to_vec()), Some(b"item:1099".to_vec()));
        assert!(c.last().is_some_and(|e| e.eq_bytes(b"item:1099")));
        assert_eq!(c.offset_of(0), c.head());
        let (e, _) = c.entry(c.offset_of(57));
        assert_eq!(e.to_vec(), b"item:1057");
        let (e, _) = c.entry(c.offset_of(98));
        assert_eq!(e.to_vec(), b"item:1098");
    }

    #[test]
    fn canonical_integers_are_stored_as_integers() {
        let vals: Vec<Vec<u8>> = [
            "-128",
            "127",
            "-129",
            "128",
            "32767",
            "-32768",
            "8388607",
            "-8388608",
            "2147483647",
            "-2147483648",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "-0",
            "007",
            "0",
            "12",
            "+5",
            "1e3",
            "99999999999999999999",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let mut c = Chunk::with_first(b"x", 16, true);
        for v in &vals {
            c.push_back(v, 1 << 20);
            c.push_front(v, 1 << 20);
        }
        let got = all(&c);
        let mut want: Vec<Vec<u8>> = vals.iter().rev().cloned().collect();
        want.push(b"x".to_vec());
        want.extend(vals.iter().cloned());
        assert_eq!(got, want);
        for (e, w) in c.elems().zip(&want) {
            assert!(e.eq_bytes(w));
            assert_eq!(e.len(), w.len());
            assert_eq!(e.to_blob().as_slice(), &w[..]);
        }
        assert!(matches!(
            c.entry(c.offset_of(8)).0,
            Elem::Int(9223372036854775807)
        ));
        assert!(
            matches!(c.entry(c.offset_of(6)).0, Elem::Bytes(..)),
            "-0 is not canonical"
        );
        assert!(!c.elems().any(|e| e.eq_bytes(b"0127")));
        // 7-digit random integers: 24-bit form, 5 bytes with the backlen (Redis: 5).
        let mut c = Chunk::with_first(b"5550123", 16, true);
        c.push_back(b"8130977", 1 << 20);
        assert_eq!(c.used(), 7 + 2 + 5);
    }

    #[test]
    fn both_ends_and_long_elements() {
        let long = vec![b'x'; 300];
        let mut c = Chunk::with_first(b"m", 16, false);
        c.push_front(&long, 1 << 20);
        c.push_back(b"", 1 << 20);
        c.push_front(b"mm", 1 << 20);
        let mut mixed = long.clone();
        mixed[0] = b'y';
        c.push_back(&mixed, 1 << 20);
        assert_eq!(
            all(&c),
            vec![
                b"mm".to_vec(),
                long.clone(),
                b"m".to_vec(),
                vec![],
                mixed.clone()
            ]
        );
        assert_eq!(c.pop_back().as_deref(), Some(&mixed[..]));
        assert_eq!(c.pop_front().as_deref(), Some(&b"mm"[..]));
        assert_eq!(c.pop_front().as_deref(), Some(&long[..]));
        assert_eq!(c.pop_back().as_deref(), Some(&b""[..]));
        assert_eq!(c.pop_back().as_deref(), Some(&b"m"[..]));
        assert!(c.is_empty());
        assert_eq!(c.pop_back(), None);
    }

    #[test]
    fn queue_use_compacts_instead_of_growing() {
        let mut c = Chunk::with_first(b"a", 64, true);
        for i in 0..10_000 {
            c.push_back(format!("e{i}").as_bytes(), 8192);
            c.pop_front();
        }
        assert_eq!(c.len(), 1);
        assert!(c.cap() <= 128, "{}", c.cap());
    }

    #[test]
    fn build_respects_limits() {
        let v: Vec<Vec<u8>> = (0..1000)
            .map(|i| format!("value-{i}").into_bytes())
            .collect();
        let chunks = Chunk::build(v.iter().map(|e| e.as_slice()), 256, usize::MAX);
        assert!(chunks.len() > 4);
        assert!(chunks.iter().all(|c| c.used() <= 256));
        let back: Vec<Vec<u8>> = chunks.iter().flat_map(all).collect();
        assert_eq!(back, v);
        let chunks = Chunk::build(v.iter().map(|e| e.as_slice()), 8192, 10);
        assert_eq!(chunks.len(), 100);
    }
}
