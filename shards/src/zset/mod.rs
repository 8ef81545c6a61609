//! Sorted sets: members ordered by (score, member), packed into one buffer while small
//! (Redis's `listpack`), an indexed slab + order-statistic B+tree when large (Redis's
//! `skiplist`), by `zset-max-listpack-entries` and `zset-max-listpack-value`. Like Redis, a
//! set never goes back to the packed encoding by itself: only a freshly stored result
//! (ZUNIONSTORE…, ZRANGESTORE) is packed again when it fits.
//!
//! - [`packed`]: the small encoding.
//! - [`large`]: the large encoding (slab, hash index, tree).
//! - [`tree`]: the order-statistic B+tree.
//! - [`score`]: score parsing and printing as Redis does them, score and lex ranges.

pub mod large;
pub mod packed;
pub mod score;
pub(crate) mod tree;

use crate::blob::Blob;
use large::Large;
use packed::Packed;
use score::{LexRange, ScoreRange};

/// Thresholds for the packed encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZsetLimits {
    /// Most members kept packed.
    pub max_listpack_entries: usize,
    /// Longest member kept packed.
    pub max_listpack_value: usize,
}

impl Default for ZsetLimits {
    fn default() -> Self {
        ZsetLimits {
            max_listpack_entries: 128,
            max_listpack_value: 64,
        }
    }
}

impl ZsetLimits {
    /// Whether `len` members, the longest `longest` bytes, stay packed.
    pub fn fits(&self, len: usize, longest: usize) -> bool {
        len <= self.max_listpack_entries && longest <= self.max_listpack_value
    }
}

/// ZADD's options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddFlags {
    /// INCR: add to the current score.
    pub incr: bool,
    /// NX: only add new members.
    pub nx: bool,
    /// XX: only update existing members.
    pub xx: bool,
    /// GT: only update when the new score is greater.
    pub gt: bool,
    /// LT: only update when the new score is less.
    pub lt: bool,
}

/// What one ZADD element did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AddOutcome {
    /// A new member with this score.
    Added(f64),
    /// The member's score changed to this.
    Updated(f64),
    /// The member already had this score.
    Unchanged(f64),
    /// NX, XX, GT or LT skipped it.
    Skipped,
    /// The resulting score would be NaN (nothing changed).
    NotANumber,
}

/// A sorted set value.
#[derive(Clone)]
pub enum ZsetValue {
    /// Small: one packed buffer.
    Packed(Packed),
    /// Large: slab, hash index and tree.
    Large(Box<Large>),
}

impl Default for ZsetValue {
    fn default() -> Self {
        ZsetValue::Packed(Packed::default())
    }
}

impl PartialEq for ZsetValue {
    fn eq(&self, other: &ZsetValue) -> bool {
        self.len() == other.len() && self.to_vec() == other.to_vec()
    }
}

// Scores are never NaN, so equality is an equivalence.
impl Eq for ZsetValue {}

impl std::fmt::Debug for ZsetValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Zset({}, {} members)", self.encoding(), self.len())
    }
}

impl ZsetValue {
    /// A set holding distinct `entries` (any order), packed when `lim` allows.
    pub fn from_entries(mut entries: Vec<(Vec<u8>, f64)>, lim: ZsetLimits) -> ZsetValue {
        entries.sort_by(|a, b| packed::cmp_entry((&a.0, a.1), (&b.0, b.1)));
        let longest = entries.iter().map(|e| e.0.len()).max().unwrap_or(0);
        if lim.fits(entries.len(), longest) {
            ZsetValue::Packed(Packed::from_sorted(
                entries.iter().map(|(m, s)| (m.as_slice(), *s)),
            ))
        } else {
            ZsetValue::Large(Box::new(Large::from_sorted(
                entries
                    .into_iter()
                    .map(|(m, s)| (Blob::from_vec(m), s))
                    .collect(),
            )))
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            ZsetValue::Packed(p) => p.len(),
            ZsetValue::Large(l) => l.len(),
        }
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZsetValue::Packed(_) => "listpack",
            ZsetValue::Large(_) => "skiplist",
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZsetValue::Packed(p) => p.score(member),
            ZsetValue::Large(l) => l.score(member),
        }
    }

    fn convert_to_large(&mut self) {
        if let ZsetValue::Packed(p) = self {
            let entries = p.iter().map(|(m, s, ..)| (Blob::new(m), s)).collect();
            *self = ZsetValue::Large(Box::new(Large::from_sorted(entries)));
        }
    }

    /// ZADD of one element with its options (Redis's `zsetAdd`).
    pub fn add(&mut self, member: &[u8], score: f64, f: AddFlags, lim: ZsetLimits) -> AddOutcome {
        if score.is_nan() {
            return AddOutcome::NotANumber;
        }
        match self.score(member) {
            Some(cur) => {
                if f.nx {
                    return AddOutcome::Skipped;
                }
                let new = if f.incr { score + cur } else { score };
                if new.is_nan() {
                    return AddOutcome::NotANumber;
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    return AddOutcome::Skipped;
                }
                if new == cur {
                    return AddOutcome::Unchanged(new);
                }
                match self {
                    ZsetValue::Packed(p) => {
                        p.remove(member);
                        p.insert(member, new);
                    }
                    ZsetValue::Large(l) => l.update(member, new),
                }
                AddOutcome::Updated(new)
            }
            None if f.xx => AddOutcome::Skipped,
            None => {
                self.insert_new(member, score, lim);
                AddOutcome::Added(score)
            }
        }
    }

    /// Adds a member known to be absent, converting to the large encoding when the limits
    /// say so.
    fn insert_new(&mut self, member: &[u8], score: f64, lim: ZsetLimits) {
        if let ZsetValue::Packed(p) = self {
            if !lim.fits(p.len() + 1, member.len()) {
                self.convert_to_large();
            }
        }
        match self {
            ZsetValue::Packed(p) => p.insert(member, score),
            ZsetValue::Large(l) => l.insert(member, score),
        }
    }

    /// Removes `member`; false when absent.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZsetValue::Packed(p) => p.remove(member),
            ZsetValue::Large(l) => l.remove(member),
        }
    }

    /// The rank of `member` (0 = lowest score, or highest when `rev`) and its score.
    pub fn rank(&self, member: &[u8], rev: bool) -> Option<(usize, f64)> {
        let (r, s) = match self {
            ZsetValue::Packed(p) => p
                .iter()
                .enumerate()
                .find(|(_, e)| e.0 == member)
                .map(|(i, e)| (i, e.1))?,
            ZsetValue::Large(l) => l.rank(member)?,
        };
        Some((if rev { self.len() - 1 - r } else { r }, s))
    }

    /// The member and score at ascending `rank`.
    pub fn at(&self, rank: usize) -> Option<(&[u8], f64)> {
        match self {
            ZsetValue::Packed(p) => p.iter().nth(rank).map(|e| (e.0, e.1)),
            ZsetValue::Large(l) => l.at(rank),
        }
    }

    /// Calls `f` on the members at ascending ranks `from..to`, in order or reversed.
    pub fn visit(&self, from: usize, to: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        let to = to.min(self.len());
        if from >= to {
            return;
        }
        match self {
            ZsetValue::Packed(p) => {
                let e = p.entries();
                if rev {
                    e[from..to].iter().rev().for_each(|&(m, s)| f(m, s));
                } else {
                    e[from..to].iter().for_each(|&(m, s)| f(m, s));
                }
            }
            ZsetValue::Large(l) => l.visit(from, to, rev, f),
        }
    }

    /// The members at ascending ranks `from..to` (owned), in order or reversed.
    pub fn range(&self, from: usize, to: usize, rev: bool) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::with_capacity(to.min(self.len()).saturating_sub(from));
        self.visit(from, to, rev, |m, s| out.push((m.to_vec(), s)));
        out
    }

    /// Every (member, score), in order.
    pub fn to_vec(&self) -> Vec<(Vec<u8>, f64)> {
        self.range(0, self.len(), false)
    }

    /// The ascending ranks `start..end` of the members whose score is in `r`.
    pub fn score_span(&self, r: &ScoreRange) -> (usize, usize) {
        let (start, end) = match self {
            ZsetValue::Packed(p) => {
                let (mut below, mut upto) = (0, 0);
                for (_, s, ..) in p.iter() {
                    below += !r.gte_min(s) as usize;
                    upto += r.lte_max(s) as usize;
                }
                (below, upto)
            }
            ZsetValue::Large(l) => (
                l.partition_by_score(|s| !r.gte_min(s)),
                l.partition_by_score(|s| r.lte_max(s)),
            ),
        };
        (start, end.max(start))
    }

    /// The ascending ranks `start..end` a lexicographic range selects when walked forward
    /// (or backward when `rev`). Packed sets follow Redis's listpack walk exactly, also when
    /// scores differ (then the result depends on the direction, as in Redis).
    pub fn lex_span(&self, r: &LexRange, rev: bool) -> (usize, usize) {
        if r.is_empty() || self.is_empty() {
            return (0, 0);
        }
        match self {
            ZsetValue::Packed(p) => {
                let e = p.entries();
                let n = e.len();
                if !r.gte_min(e[n - 1].0) || !r.lte_max(e[0].0) {
                    return (0, 0);
                }
                if !rev {
                    let Some(i) = e.iter().position(|x| r.gte_min(x.0)) else {
                        return (0, 0);
                    };
                    let j = i + e[i..].iter().take_while(|x| r.lte_max(x.0)).count();
                    (i, j)
                } else {
                    let Some(i) = e.iter().rposition(|x| r.lte_max(x.0)) else {
                        return (0, 0);
                    };
                    let j = i + 1 - e[..=i].iter().rev().take_while(|x| r.gte_min(x.0)).count();
                    (j, i + 1)
                }
            }
            ZsetValue::Large(l) => {
                let start = l.partition_point(|m, _| !r.gte_min(m));
                let end = l.partition_point(|m, _| r.lte_max(m));
                (start, end.max(start))
            }
        }
    }

    /// Removes the members at ascending ranks `from..to`; returns how many.
    pub fn remove_ranks(&mut self, from: usize, to: usize) -> usize {
        match self {
            ZsetValue::Packed(p) => {
                let n = p.remove_ranks(from, to);
                p.shrink();
                n
            }
            ZsetValue::Large(l) => l.remove_ranks(from, to),
        }
    }

    /// Removes and returns up to `count` members with the lowest scores (or the highest when
    /// `max`), in pop order.
    pub fn pop(&mut self, max: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
        let n = self.len();
        let k = count.min(n);
        let (from, to) = if max { (n - k, n) } else { (0, k) };
        let out = self.range(from, to, max);
        self.remove_ranks(from, to);
        out
    }

    /// One ZSCAN step: packed sets are returned whole (cursor 0); large ones walk their
    /// slots from `cursor`.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<(&[u8], f64)>) {
        match self {
            ZsetValue::Packed(p) => (0, p.entries()),
            ZsetValue::Large(l) => l.scan(cursor, count),
        }
    }

    /// Drops up to `n` members (lazy free); returns (dropped, whether nothing is left).
    pub fn drop_some(&mut self, n: usize) -> (usize, bool) {
        match self {
            ZsetValue::Large(l) => {
                let k = l.remove_ranks(0, n.min(l.len()));
                (k, l.is_empty())
            }
            ZsetValue::Packed(p) => {
                let k = p.len();
                *p = Packed::default();
                (k, true)
            }
        }
    }

    /// Heap bytes owned (O(1)).
    pub fn heap_size(&self) -> usize {
        match self {
            ZsetValue::Packed(p) => p.heap_size(),
            ZsetValue::Large(l) => std::mem::size_of::<Large>() + l.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests;
