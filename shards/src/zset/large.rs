//! The encoding of large sorted sets (Redis's `skiplist`): every member stored once, in a
//! slab of `(member, score)` slots with stable ids; a hash index from member to id (O(1)
//! ZSCORE, membership); and an order-statistic B+tree of `(score, id)` keys (O(log n) ranks,
//! O(log n + m) ranges).
//!
//! Memory per member (members up to 22 bytes live inline in their [`Blob`]): a 32-byte slab
//! slot, 12 bytes of tree leaf at 65–100% fill, and a 4-byte id plus a control byte in the
//! hash index at 44–87% load: about 60 bytes, where Redis's skiplist node, dict entry, bucket
//! and sds string take about 100.

use super::tree::{Key, Members, Tree};
use crate::blob::Blob;
use hashbrown::HashTable;

/// Slots per slab page (32 KB pages: growth never copies the whole slab).
const PAGE: usize = 1024;

#[derive(Clone)]
struct Slot {
    member: Blob,
    /// NaN marks a free slot (a stored score is never NaN).
    score: f64,
}

/// Member storage with stable ids.
#[derive(Clone, Default)]
struct Slab {
    pages: Vec<Box<[Slot]>>,
    /// Slots ever handed out (ids below this are in pages).
    high: u32,
    free: Vec<u32>,
}

impl Slab {
    #[inline]
    fn slot(&self, id: u32) -> &Slot {
        &self.pages[id as usize / PAGE][id as usize % PAGE]
    }

    #[inline]
    fn slot_mut(&mut self, id: u32) -> &mut Slot {
        &mut self.pages[id as usize / PAGE][id as usize % PAGE]
    }

    fn alloc(&mut self, member: Blob, score: f64) -> u32 {
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                let id = self.high;
                if id as usize / PAGE == self.pages.len() {
                    let page: Vec<Slot> = (0..PAGE)
                        .map(|_| Slot {
                            member: Blob::new(b""),
                            score: f64::NAN,
                        })
                        .collect();
                    self.pages.push(page.into_boxed_slice());
                }
                self.high += 1;
                id
            }
        };
        *self.slot_mut(id) = Slot { member, score };
        id
    }

    fn release(&mut self, id: u32) -> Blob {
        let slot = self.slot_mut(id);
        slot.score = f64::NAN;
        let m = std::mem::replace(&mut slot.member, Blob::new(b""));
        self.free.push(id);
        m
    }

    fn heap_size(&self) -> usize {
        self.pages.capacity() * std::mem::size_of::<Box<[Slot]>>()
            + self.pages.len() * PAGE * std::mem::size_of::<Slot>()
            + self.free.capacity() * 4
    }
}

impl Members for Slab {
    #[inline]
    fn member(&self, id: u32) -> &[u8] {
        &self.slot(id).member
    }
}

/// A large sorted set.
#[derive(Clone)]
pub struct Large {
    slab: Slab,
    index: HashTable<u32>,
    tree: Tree,
    hasher: ahash::RandomState,
    /// Heap bytes owned by members stored out of line.
    member_heap: usize,
}

impl Default for Large {
    fn default() -> Self {
        Large {
            slab: Slab::default(),
            index: HashTable::new(),
            tree: Tree::default(),
            hasher: ahash::RandomState::new(),
            member_heap: 0,
        }
    }
}

impl Large {
    /// Builds a set from distinct members in (score, member) order.
    pub fn from_sorted(entries: Vec<(Blob, f64)>) -> Large {
        let mut z = Large::default();
        z.index.reserve(entries.len(), |_| 0);
        let mut keys = Vec::with_capacity(entries.len());
        for (m, s) in entries {
            z.member_heap += m.heap_size();
            let h = z.hasher.hash_one(m.as_slice());
            let id = z.slab.alloc(m, s);
            let slab = &z.slab;
            let hasher = &z.hasher;
            z.index
                .insert_unique(h, id, |&i| hasher.hash_one(slab.member(i)));
            keys.push((s, id));
        }
        z.tree = Tree::from_sorted(&keys);
        z
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn id_of(&self, member: &[u8]) -> Option<u32> {
        let h = self.hasher.hash_one(member);
        let slab = &self.slab;
        self.index.find(h, |&id| slab.member(id) == member).copied()
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.id_of(member).map(|id| self.slab.slot(id).score)
    }

    /// Adds a member that is not present.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let blob = Blob::new(member);
        self.member_heap += blob.heap_size();
        let h = self.hasher.hash_one(member);
        let id = self.slab.alloc(blob, score);
        let (slab, hasher) = (&self.slab, &self.hasher);
        self.index
            .insert_unique(h, id, |&i| hasher.hash_one(slab.member(i)));
        self.tree.insert((score, id), &self.slab);
    }

    /// Changes the score of a present member.
    pub fn update(&mut self, member: &[u8], score: f64) {
        let Some(id) = self.id_of(member) else {
            return;
        };
        let old = self.slab.slot(id).score;
        self.tree.remove((old, id), &self.slab);
        self.slab.slot_mut(id).score = score;
        self.tree.insert((score, id), &self.slab);
    }

    fn unindex(&mut self, id: u32) {
        let slab = &self.slab;
        let h = self.hasher.hash_one(slab.member(id));
        if let Ok(e) = self.index.find_entry(h, |&i| i == id) {
            e.remove();
        }
    }

    /// Removes `member`; false when absent.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let Some(id) = self.id_of(member) else {
            return false;
        };
        let score = self.slab.slot(id).score;
        self.tree.remove((score, id), &self.slab);
        self.unindex(id);
        let m = self.slab.release(id);
        self.member_heap -= m.heap_size();
        true
    }

    /// The 0-based rank of `member` (ascending) and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let id = self.id_of(member)?;
        let score = self.slab.slot(id).score;
        Some((self.tree.rank((score, id), &self.slab), score))
    }

    /// The member and score at `rank`.
    pub fn at(&self, rank: usize) -> Option<(&[u8], f64)> {
        let (s, id) = self.tree.get(rank)?;
        Some((self.slab.member(id), s))
    }

    /// Number of leading members (in order) for which `pred(member, score)` holds; `pred`
    /// must hold on a prefix.
    pub fn partition_point(&self, mut pred: impl FnMut(&[u8], f64) -> bool) -> usize {
        let slab = &self.slab;
        self.tree
            .partition_point(|(s, id): Key| pred(slab.member(id), s))
    }

    /// Number of leading members with a score for which `pred` holds (`pred` must hold on a
    /// prefix).
    pub fn partition_by_score(&self, mut pred: impl FnMut(f64) -> bool) -> usize {
        self.tree.partition_point(|(s, _)| pred(s))
    }

    /// Calls `f` on the members at ranks `from..to`, in order or reversed.
    pub fn visit(&self, from: usize, to: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        let slab = &self.slab;
        self.tree
            .visit(from, to, rev, &mut |(s, id)| f(slab.member(id), s));
    }

    /// Removes the members at ranks `from..to`; returns how many.
    pub fn remove_ranks(&mut self, from: usize, to: usize) -> usize {
        let to = to.min(self.len());
        if from >= to {
            return 0;
        }
        let mut keys = Vec::with_capacity(to - from);
        self.tree.visit(from, to, false, &mut |k| keys.push(k));
        if keys.len() <= 4 {
            // A few keys (ZPOPMIN and friends): one descent each, no range surgery.
            for &k in &keys {
                self.tree.remove(k, &self.slab);
            }
        } else {
            self.tree.remove_range(from, to);
        }
        let ids: Vec<u32> = keys.into_iter().map(|k| k.1).collect();
        for &id in &ids {
            self.unindex(id);
            let m = self.slab.release(id);
            self.member_heap -= m.heap_size();
        }
        if self.tree.len() == 0 {
            *self = Large::default();
        }
        ids.len()
    }

    /// One ZSCAN step over slab slots from `cursor` (slot ids, ascending); returns the next
    /// cursor (0 when done) and the members and scores seen. A member present for the whole
    /// scan keeps its slot, so it is returned exactly once.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<(&[u8], f64)>) {
        let high = self.slab.high as u64;
        let mut at = cursor.min(high);
        let end = at.saturating_add(count.max(1) as u64).min(high);
        let mut out = Vec::new();
        while at < end {
            let slot = self.slab.slot(at as u32);
            if !slot.score.is_nan() {
                out.push((slot.member.as_slice(), slot.score));
            }
            at += 1;
        }
        (if at >= high { 0 } else { at }, out)
    }

    /// Heap bytes owned (O(1)).
    pub fn heap_size(&self) -> usize {
        self.slab.heap_size()
            + self.index.allocation_size()
            + self.tree.heap_size()
            + self.member_heap
    }

    #[cfg(test)]
    pub(crate) fn check(&self) {
        self.tree.check(&self.slab);
        assert_eq!(self.index.len(), self.tree.len());
        let mut live = 0;
        for id in 0..self.slab.high {
            let s = self.slab.slot(id);
            if !s.score.is_nan() {
                live += 1;
                assert_eq!(self.id_of(&s.member), Some(id));
            }
        }
        assert_eq!(live, self.len());
    }
}
