//! Lists: a deque of packed chunks (Redis's quicklist of listpacks), one chunk alone while the
//! list is small.
//!
//! - [`ListValue::Packed`]: the whole list in one [`Chunk`] while it fits the node limit
//!   (`list-max-listpack-size`; OBJECT ENCODING `listpack`).
//! - [`ListValue::Quick`]: a `VecDeque` of chunks, each within the limit (`quicklist`). It
//!   packs back into one chunk when a single chunk of at most half the limit is left (Redis
//!   7.2's rule, so a list at the boundary does not flip at every push and pop).
//!
//! Pushes and pops at either end touch only the end chunk: O(1) amortised. An index walks the
//! chunk element counts from the nearer end, then the entries of one chunk from its nearer end
//! (`LINDEX 0`, `LINDEX -1` are O(1)). Edits in the middle (LSET, LINSERT, LREM) decode one
//! chunk, change it and pack it again, splitting or merging with a neighbour as needed.
//!
//! Memory: an entry costs its own bytes plus two (header and backlen) for elements under 128
//! bytes, like a listpack, but bytes an element shares with its chunk's reference (the first
//! element the chunk received) are not stored again: 10 million `v0`…`v9999999` take about 4
//! bytes each instead of Redis's 10. Heap use is kept incrementally (O(1) per operation).

mod chunk;

pub use chunk::{Chunk, Elem, IntBuf};

use crate::blob::Blob;
use std::collections::VecDeque;

/// The node limits of `list-max-listpack-size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListLimits {
    /// Most bytes per chunk.
    pub max_bytes: usize,
    /// Most elements per chunk.
    pub max_count: usize,
}

impl ListLimits {
    /// Redis's `list-max-listpack-size` semantics: -1..=-5 limit a chunk to 4, 8, 16, 32 or 64
    /// KB (lower values count as -5); a positive value limits the element count (0 counts as 1),
    /// with a safety limit of 8 KB.
    pub fn from_fill(fill: i64) -> ListLimits {
        if fill >= 0 {
            ListLimits {
                max_bytes: 8192,
                max_count: (fill as usize).max(1),
            }
        } else {
            let level = (fill.unsigned_abs() - 1).min(4) as u32;
            ListLimits {
                max_bytes: 4096 << level,
                max_count: usize::MAX,
            }
        }
    }
}

impl Default for ListLimits {
    fn default() -> Self {
        ListLimits::from_fill(-2)
    }
}

/// First capacity of a new chunk in a large list (it doubles up to the limit).
const QUICK_START_CAP: usize = 512;

/// A list value.
#[derive(Clone)]
pub enum ListValue {
    /// One chunk (a small list).
    Packed(Chunk),
    /// Several chunks.
    Quick(Box<Quick>),
}

/// The chunks of a large list, with its length and allocated bytes.
#[derive(Clone, Default)]
pub struct Quick {
    chunks: VecDeque<Chunk>,
    len: usize,
    bytes: usize,
}

impl Default for ListValue {
    fn default() -> Self {
        ListValue::Packed(Chunk::default())
    }
}

impl Quick {
    fn locate(&self, mut i: usize) -> (usize, usize) {
        if i < self.len / 2 {
            for (ci, c) in self.chunks.iter().enumerate() {
                if i < c.len() {
                    return (ci, i);
                }
                i -= c.len();
            }
        } else {
            let mut r = self.len - 1 - i;
            for ci in (0..self.chunks.len()).rev() {
                let c = &self.chunks[ci];
                if r < c.len() {
                    return (ci, c.len() - 1 - r);
                }
                r -= c.len();
            }
        }
        (0, 0)
    }

    fn push(&mut self, elem: &[u8], left: bool, lim: ListLimits) {
        let end = if left {
            self.chunks.front_mut()
        } else {
            self.chunks.back_mut()
        };
        self.len += 1;
        if let Some(c) = end {
            let before = c.cap();
            if c.try_push(elem, left, lim.max_bytes, lim.max_count) {
                self.bytes = self.bytes + c.cap() - before;
                return;
            }
        }
        let c = Chunk::with_first(elem, QUICK_START_CAP.min(lim.max_bytes), !left);
        self.bytes += c.cap();
        if left {
            self.chunks.push_front(c);
        } else {
            self.chunks.push_back(c);
        }
    }

    fn pop(&mut self, left: bool) -> Option<Blob> {
        let c = if left {
            self.chunks.front_mut()?
        } else {
            self.chunks.back_mut()?
        };
        let before = c.cap();
        let v = if left { c.pop_front() } else { c.pop_back() };
        self.bytes = self.bytes + c.cap() - before;
        if c.is_empty() {
            let gone = if left {
                self.chunks.pop_front()
            } else {
                self.chunks.pop_back()
            };
            self.bytes -= gone.map_or(0, |c| c.cap());
        }
        if v.is_some() {
            self.len -= 1;
        }
        v
    }

    /// Replaces chunk `ci` by what `f` makes of its elements (packed again within the limits;
    /// nothing left removes it), merging small results with a neighbour.
    fn edit<R>(&mut self, ci: usize, lim: ListLimits, f: impl FnOnce(&mut Vec<Vec<u8>>) -> R) -> R {
        let Some(old) = self.chunks.get(ci) else {
            return f(&mut Vec::new());
        };
        let mut elems: Vec<Vec<u8>> = old.elems().map(|e| e.to_vec()).collect();
        let before = elems.len();
        let r = f(&mut elems);
        self.len = self.len - before + elems.len();
        let built = Chunk::build(
            elems.iter().map(|e| e.as_slice()),
            lim.max_bytes,
            lim.max_count,
        );
        let n = built.len();
        if let Some(old) = self.chunks.remove(ci) {
            self.bytes -= old.cap();
        }
        for (k, c) in built.into_iter().enumerate() {
            self.bytes += c.cap();
            self.chunks.insert(ci + k, c);
        }
        // Merge around the edited range: its last chunk with the next, its first with the
        // previous.
        if n > 0 {
            self.try_merge(ci + n - 1, lim);
        }
        if ci > 0 {
            self.try_merge(ci - 1, lim);
        }
        r
    }

    /// Merges chunks `i` and `i + 1` when together they fill at most three quarters of a
    /// chunk (so that edits do not leave a trail of tiny chunks, nor merge and split in turn).
    fn try_merge(&mut self, i: usize, lim: ListLimits) {
        let (Some(a), Some(b)) = (self.chunks.get(i), self.chunks.get(i + 1)) else {
            return;
        };
        if a.used() + b.used() > lim.max_bytes * 3 / 4
            || a.len().saturating_add(b.len()) > lim.max_count
        {
            return;
        }
        let elems: Vec<Vec<u8>> = a.elems().chain(b.elems()).map(|e| e.to_vec()).collect();
        let built = Chunk::build(
            elems.iter().map(|e| e.as_slice()),
            lim.max_bytes,
            lim.max_count,
        );
        for _ in 0..2 {
            if let Some(old) = self.chunks.remove(i) {
                self.bytes -= old.cap();
            }
        }
        for (k, c) in built.into_iter().enumerate() {
            self.bytes += c.cap();
            self.chunks.insert(i + k, c);
        }
    }
}

impl ListValue {
    /// A list of `elems`, in order.
    pub fn from_elems<'a>(elems: impl IntoIterator<Item = &'a [u8]>, lim: ListLimits) -> Self {
        let mut l = ListValue::default();
        for e in elems {
            l.push(e, false, lim);
        }
        l
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            ListValue::Packed(c) => c.len(),
            ListValue::Quick(q) => q.len,
        }
    }

    /// Whether the list is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            ListValue::Packed(_) => "listpack",
            ListValue::Quick(_) => "quicklist",
        }
    }

    /// Heap bytes owned (not counting the box holding the value itself).
    #[inline]
    pub fn heap_size(&self) -> usize {
        match self {
            ListValue::Packed(c) => c.cap(),
            ListValue::Quick(q) => {
                std::mem::size_of::<Quick>()
                    + q.chunks.capacity() * std::mem::size_of::<Chunk>()
                    + q.bytes
            }
        }
    }

    fn nchunks(&self) -> usize {
        match self {
            ListValue::Packed(c) => usize::from(!c.is_empty()),
            ListValue::Quick(q) => q.chunks.len(),
        }
    }

    fn chunk(&self, i: usize) -> &Chunk {
        match self {
            ListValue::Packed(c) => c,
            ListValue::Quick(q) => &q.chunks[i],
        }
    }

    fn locate(&self, i: usize) -> (usize, usize) {
        match self {
            ListValue::Packed(_) => (0, i),
            ListValue::Quick(q) => q.locate(i),
        }
    }

    /// The list as a [`Quick`] (converting a packed one).
    fn quick_mut(&mut self) -> &mut Quick {
        if let ListValue::Packed(c) = self {
            let c = std::mem::take(c);
            let mut q = Quick::default();
            if !c.is_empty() {
                q.len = c.len();
                q.bytes = c.cap();
                q.chunks.push_back(c);
            }
            *self = ListValue::Quick(Box::new(q));
        }
        match self {
            ListValue::Quick(q) => q,
            ListValue::Packed(_) => unreachable!("converted above"),
        }
    }

    /// Goes back to one packed chunk when one is left: any size after an edit of a packed
    /// list, at most half the limits after shrinking.
    fn normalize(&mut self, lim: ListLimits, shrinking: bool) {
        let ListValue::Quick(q) = self else { return };
        match q.chunks.len() {
            0 => *self = ListValue::default(),
            1 => {
                let c = &q.chunks[0];
                if !shrinking || (c.used() <= lim.max_bytes / 2 && c.len() <= lim.max_count / 2) {
                    let c = q.chunks.pop_front().unwrap_or_default();
                    *self = ListValue::Packed(c);
                }
            }
            _ => {}
        }
    }

    /// Pushes `elem` at the head (`left`) or the tail.
    #[inline]
    pub fn push(&mut self, elem: &[u8], left: bool, lim: ListLimits) {
        if let ListValue::Packed(c) = self {
            if c.try_push(elem, left, lim.max_bytes, lim.max_count) {
                return;
            }
        }
        self.quick_mut().push(elem, left, lim);
    }

    /// Pops from the head (`left`) or the tail.
    #[inline]
    pub fn pop(&mut self, left: bool, lim: ListLimits) -> Option<Blob> {
        match self {
            ListValue::Packed(c) => {
                if left {
                    c.pop_front()
                } else {
                    c.pop_back()
                }
            }
            ListValue::Quick(q) => {
                let v = q.pop(left);
                if q.chunks.len() <= 1 {
                    self.normalize(lim, true);
                }
                v
            }
        }
    }

    /// The element at `i`.
    pub fn get(&self, i: usize) -> Option<Elem<'_>> {
        if i >= self.len() {
            return None;
        }
        let (ci, k) = self.locate(i);
        let c = self.chunk(ci);
        Some(c.entry(c.offset_of(k)).0)
    }

    /// Replaces the element at `i`; false when out of range.
    pub fn set(&mut self, i: usize, elem: &[u8], lim: ListLimits) -> bool {
        if i >= self.len() {
            return false;
        }
        let (ci, k) = self.locate(i);
        let packed = matches!(self, ListValue::Packed(_));
        self.quick_mut().edit(ci, lim, |v| v[k] = elem.to_vec());
        self.normalize(lim, !packed);
        true
    }

    /// Inserts `elem` before position `i` (`i == len` appends).
    pub fn insert(&mut self, i: usize, elem: &[u8], lim: ListLimits) {
        if i == 0 {
            return self.push(elem, true, lim);
        }
        if i >= self.len() {
            return self.push(elem, false, lim);
        }
        let (ci, k) = self.locate(i);
        let packed = matches!(self, ListValue::Packed(_));
        self.quick_mut()
            .edit(ci, lim, |v| v.insert(k, elem.to_vec()));
        self.normalize(lim, !packed);
    }

    /// Removes up to `max` elements equal to `elem`, scanning from the head or from the tail
    /// (`from_back`); returns how many were removed (LREM).
    pub fn remove(&mut self, elem: &[u8], max: usize, from_back: bool, lim: ListLimits) -> usize {
        let packed = matches!(self, ListValue::Packed(_));
        let mut removed = 0;
        let mut ci = if from_back { self.nchunks() } else { 0 };
        loop {
            if removed >= max {
                break;
            }
            if from_back {
                if ci == 0 {
                    break;
                }
                ci -= 1;
            } else if ci >= self.nchunks() {
                break;
            }
            let matches = self.chunk(ci).elems().filter(|e| e.eq_bytes(elem)).count();
            if matches == 0 {
                if !from_back {
                    ci += 1;
                }
                continue;
            }
            let take = matches.min(max - removed);
            removed += take;
            self.quick_mut().edit(ci, lim, |v| {
                let mut left = take;
                if from_back {
                    let mut i = v.len();
                    while i > 0 && left > 0 {
                        i -= 1;
                        if v[i] == elem {
                            v.remove(i);
                            left -= 1;
                        }
                    }
                } else {
                    let mut i = 0;
                    while i < v.len() && left > 0 {
                        if v[i] == elem {
                            v.remove(i);
                            left -= 1;
                        } else {
                            i += 1;
                        }
                    }
                }
            });
            // The edit may have split, merged or dropped chunks. Every match it saw is gone
            // (or the limit is reached), so rescanning from the chunk before it is harmless and
            // covers a neighbour merged into it; going backward, `ci - 1` still holds the
            // unscanned elements before it.
            if !from_back {
                ci = ci.saturating_sub(1);
            }
        }
        self.normalize(lim, !packed);
        removed
    }

    /// Keeps only positions `start..=end` (LTRIM, after normalising the range); `None`
    /// empties the list.
    pub fn trim(&mut self, keep: Option<(usize, usize)>, lim: ListLimits) {
        let Some((s, e)) = keep else {
            *self = ListValue::default();
            return;
        };
        let back = self.len().saturating_sub(e + 1);
        self.drop_end(s, true);
        self.drop_end(back, false);
        self.normalize(lim, true);
    }

    /// Drops `n` elements at one end, whole chunks at a time where possible.
    fn drop_end(&mut self, mut n: usize, front: bool) {
        while n > 0 {
            match self {
                ListValue::Packed(c) => {
                    for _ in 0..n.min(c.len()) {
                        if front {
                            c.pop_front();
                        } else {
                            c.pop_back();
                        }
                    }
                    return;
                }
                ListValue::Quick(q) => {
                    let end = if front {
                        q.chunks.front()
                    } else {
                        q.chunks.back()
                    };
                    let Some(c) = end else { return };
                    if c.len() <= n {
                        n -= c.len();
                        q.len -= c.len();
                        q.bytes -= c.cap();
                        if front {
                            q.chunks.pop_front();
                        } else {
                            q.chunks.pop_back();
                        }
                    } else {
                        for _ in 0..n {
                            q.pop(front);
                        }
                        return;
                    }
                }
            }
        }
    }

    /// Drops about `n` units of work for lazy free, a chunk (one deallocation, whatever its
    /// element count) being one unit; returns (units dropped, whether nothing is left).
    pub fn drop_some(&mut self, n: usize) -> (usize, bool) {
        match self {
            ListValue::Packed(c) => {
                *c = Chunk::default();
                (1, true)
            }
            ListValue::Quick(q) => {
                let mut dropped = 0;
                while dropped < n {
                    let Some(c) = q.chunks.pop_back() else { break };
                    dropped += 1;
                    q.len -= c.len();
                    q.bytes -= c.cap();
                }
                (dropped, q.chunks.is_empty())
            }
        }
    }

    /// Every element, from the head (double-ended: `.rev()` walks from the tail).
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// The elements from position `i` on.
    pub fn iter_from(&self, i: usize) -> Iter<'_> {
        let n = self.nchunks();
        let len = self.len();
        if i >= len || n == 0 {
            return Iter {
                list: self,
                front: Chunk::empty(),
                back: Chunk::empty(),
                fc: 0,
                fo: 0,
                bc: 0,
                bo: 0,
                left: 0,
            };
        }
        let (ci, k) = self.locate(i);
        let (front, back) = (self.chunk(ci), self.chunk(n - 1));
        Iter {
            list: self,
            front,
            back,
            fc: ci,
            fo: front.offset_of(k),
            bc: n - 1,
            bo: back.tail(),
            left: len - i,
        }
    }
}

/// An iterator over a list's elements.
pub struct Iter<'a> {
    list: &'a ListValue,
    /// The chunks the front and the back are in (`fc`, `bc`).
    front: &'a Chunk,
    back: &'a Chunk,
    fc: usize,
    fo: usize,
    bc: usize,
    bo: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;

    #[inline]
    fn next(&mut self) -> Option<Elem<'a>> {
        if self.left == 0 {
            return None;
        }
        loop {
            if self.fo < self.front.tail() {
                let (e, next) = self.front.entry(self.fo);
                self.fo = next;
                self.left -= 1;
                return Some(e);
            }
            self.fc += 1;
            self.front = self.list.chunk(self.fc);
            self.fo = self.front.head();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        loop {
            if self.bo > self.back.head() {
                let (e, start) = self.back.entry_before(self.bo);
                self.bo = start;
                self.left -= 1;
                return Some(e);
            }
            self.bc -= 1;
            self.back = self.list.chunk(self.bc);
            self.bo = self.back.tail();
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl PartialEq for ListValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| a.eq_bytes(&b.to_vec()))
    }
}

impl Eq for ListValue {}

impl std::fmt::Debug for ListValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|e| String::from_utf8_lossy(&e.to_vec()).into_owned()),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests;
