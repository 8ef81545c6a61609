//! The keyspace of one shard: key → [`Entry`], with lazy and active expiry, SCAN cursors,
//! random sampling and memory accounting.
//!
//! Storage is an `IndexMap` (a hash index over a dense vector of entries). The dense vector
//! gives O(1) random sampling (RANDOMKEY, eviction) and a stable SCAN cursor: SCAN walks
//! indices downwards, and since removal moves only the *last* entry into the hole, an entry
//! present for the whole scan is always visited (possibly twice, which SCAN allows) no matter
//! how the map grows, shrinks or rehashes in between.
//!
//! # Memory accounting
//! `used_memory()` is the sum of: entries × bytes per entry (key, entry and stored hash in the
//! dense vector), index buckets × (`usize` index and control byte), and heap bytes owned by keys
//! and values
//! (maintained incrementally on every insert, replace and remove). The dense vector's spare
//! capacity is left out: `IndexMap` reserves it up to the index's capacity (up to 1.8× the
//! entries just after a resize), but a large reservation is mapped lazily and only the slots
//! written become resident, and each is counted as it is written. Allocator rounding is left
//! out too, so the figure tracks RSS from slightly below (1M hashes of 10 fields: 253 MB
//! counted, 270 MB RSS).

use crate::blob::Blob;
use crate::glob;
use crate::value::{Value, ValueType};
use indexmap::IndexMap;
use std::collections::HashSet;

/// A stored entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Absolute expiry in Unix milliseconds (0 = none) in the low 63 bits; the top bit marks
    /// the entry as already written by the snapshot in progress (see [`crate::snapshot`]).
    meta: u64,
}

/// The top bit of [`Entry`]'s `meta`.
pub(crate) const SNAP_BIT: u64 = 1 << 63;

impl Entry {
    /// An entry expiring at `expire_at` (Unix ms, 0 = never; clamped below 2^63).
    #[inline]
    pub fn new(value: Value, expire_at: u64) -> Entry {
        Entry {
            value,
            meta: expire_at.min(SNAP_BIT - 1),
        }
    }

    /// The value and its absolute expiry (Unix ms, 0 = none).
    #[inline]
    pub fn into_parts(self) -> (Value, u64) {
        let at = self.expire_at();
        (self.value, at)
    }

    /// Absolute expiry in Unix milliseconds; 0 means no expiry.
    #[inline]
    pub fn expire_at(&self) -> u64 {
        self.meta & !SNAP_BIT
    }

    #[inline]
    fn set_expire_at(&mut self, at: u64) {
        self.meta = (self.meta & SNAP_BIT) | at.min(SNAP_BIT - 1);
    }

    /// The snapshot mark.
    #[inline]
    pub(crate) fn mark(&self) -> bool {
        self.meta & SNAP_BIT != 0
    }

    #[inline]
    pub(crate) fn set_mark(&mut self, m: bool) {
        self.meta = (self.meta & !SNAP_BIT) | if m { SNAP_BIT } else { 0 };
    }

    /// Whether the entry is expired at `now`.
    #[inline]
    pub fn is_expired(&self, now: u64) -> bool {
        let at = self.expire_at();
        at != 0 && at <= now
    }
}

/// The time to live of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// No such key.
    Missing,
    /// The key has no expiry.
    Persistent,
    /// The key expires at this Unix time in milliseconds.
    At(u64),
}

/// Filters SCAN and KEYS apply.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScanFilter<'a> {
    /// Glob pattern keys must match.
    pub pattern: Option<&'a [u8]>,
    /// Type values must have.
    pub value_type: Option<ValueType>,
}

impl ScanFilter<'_> {
    fn accepts(&self, key: &[u8], entry: &Entry) -> bool {
        if let Some(t) = self.value_type {
            if entry.value.value_type() != t {
                return false;
            }
        }
        match self.pattern {
            Some(p) => glob::matches(p, key),
            None => true,
        }
    }
}

/// Counters kept by the keyspace itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyspaceStats {
    /// Lookups that found a live key.
    pub hits: u64,
    /// Lookups that found nothing.
    pub misses: u64,
    /// Keys removed because they expired (lazily or by the active cycle).
    pub expired: u64,
}

/// Bytes of an entry in the dense vector: key, entry and the stored hash (`usize`).
const ENTRY_BYTES: usize = std::mem::size_of::<Blob>() + std::mem::size_of::<Entry>() + 8;
/// Bytes of a bucket of the hash index: the `usize` index and one control byte.
const BUCKET_BYTES: usize = 8 + 1;

/// The keyspace of one shard.
pub struct Keyspace {
    pub(crate) map: IndexMap<Blob, Entry, ahash::RandomState>,
    volatile: usize,
    heap_bytes: usize,
    expire_cursor: usize,
    rng: u64,
    /// Keys some blocked client waits on (see [`Keyspace::watch`]).
    watched: HashSet<Blob, ahash::RandomState>,
    /// Watched keys created or replaced since the last [`Keyspace::take_ready`].
    ready: Vec<Blob>,
    /// Changes made (inserts, updates, removals, expiry changes): a write command that moved it
    /// changed the dataset.
    changes: u64,
    /// The mark new entries get: the mark of the snapshot in progress or last taken.
    pub(crate) mark: bool,
    /// The snapshot in progress.
    pub(crate) capture: Option<Box<crate::snapshot::Capture>>,
    /// Counters.
    pub stats: KeyspaceStats,
    /// Keys removed because they expired, kept for the journal while set (see
    /// [`Keyspace::log_expired`]); `None` = not collected (one branch per expired key).
    expired_log: Option<Vec<Blob>>,
}

impl Default for Keyspace {
    fn default() -> Self {
        Keyspace::new()
    }
}

#[inline]
fn entry_heap(key: &Blob, e: &Entry) -> usize {
    key.heap_size() + e.value.heap_size()
}

impl Keyspace {
    /// An empty keyspace.
    pub fn new() -> Keyspace {
        Keyspace {
            map: IndexMap::with_hasher(ahash::RandomState::new()),
            volatile: 0,
            heap_bytes: 0,
            expire_cursor: 0,
            expired_log: None,
            rng: 0x9E37_79B9_7F4A_7C15
                ^ (std::process::id() as u64).wrapping_mul(0x2545_F491_4F6C_DD1D),
            watched: HashSet::with_hasher(ahash::RandomState::new()),
            ready: Vec::new(),
            changes: 0,
            mark: false,
            capture: None,
            stats: KeyspaceStats::default(),
        }
    }

    /// Changes made so far (compare before and after a command to know whether it wrote).
    #[inline]
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Before the entry at `idx` changes: a snapshot in progress that has not written it yet
    /// writes its current state first.
    #[inline]
    fn before_change(&mut self, idx: usize) {
        self.changes += 1;
        if self.capture.is_some() {
            self.capture_entry(idx);
        }
    }

    /// Number of keys (including expired keys not yet removed).
    #[inline]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of keys with an expiry.
    pub fn volatile_len(&self) -> usize {
        self.volatile
    }

    /// Estimated bytes used (see the module docs).
    pub fn used_memory(&self) -> usize {
        // hashbrown keeps at most 7/8 of its buckets full.
        let buckets = self.map.capacity() * 8 / 7;
        self.map.len() * ENTRY_BYTES + buckets * BUCKET_BYTES + self.heap_bytes
    }

    /// Index of a live key, removing it first if it has expired.
    #[inline]
    fn live_index(&mut self, key: &[u8], now: u64) -> Option<usize> {
        let idx = self.map.get_index_of(key)?;
        if self.map[idx].is_expired(now) {
            self.remove_expired(idx);
            return None;
        }
        Some(idx)
    }

    /// Removes the expired entry at `idx`, remembering its key when expired keys are logged.
    fn remove_expired(&mut self, idx: usize) {
        let gone = self.remove_index(idx);
        self.stats.expired += 1;
        if let (Some(log), Some((k, _))) = (self.expired_log.as_mut(), gone) {
            log.push(k);
        }
    }

    /// Starts (`true`) or stops collecting the keys removed because they expired (lazily or
    /// by [`Keyspace::active_expire_step`]), for a master to journal a DEL for each
    /// ([`Keyspace::take_expired`]). Off by default: nothing is collected.
    pub fn log_expired(&mut self, on: bool) {
        match (on, self.expired_log.is_some()) {
            (true, false) => self.expired_log = Some(Vec::new()),
            (false, true) => self.expired_log = None,
            _ => {}
        }
    }

    /// Whether expired keys are being collected.
    pub fn logs_expired(&self) -> bool {
        self.expired_log.is_some()
    }

    /// The keys that expired since the last call, oldest first (None when there are none).
    #[inline]
    pub fn take_expired(&mut self) -> Option<Vec<Blob>> {
        match &mut self.expired_log {
            Some(log) if !log.is_empty() => Some(std::mem::take(log)),
            _ => None,
        }
    }

    fn remove_index(&mut self, idx: usize) -> Option<(Blob, Entry)> {
        self.before_change(idx);
        let (k, e) = self.map.swap_remove_index(idx)?;
        self.heap_bytes -= entry_heap(&k, &e);
        if e.expire_at() != 0 {
            self.volatile -= 1;
        }
        Some((k, e))
    }

    /// Bytes attributed to `key` (its table slot plus the heap its key and value own), as
    /// MEMORY USAGE reports; None when the key is missing.
    pub fn entry_memory(&mut self, key: &[u8], now: u64) -> Option<usize> {
        let idx = self.live_index(key, now)?;
        let (k, e) = self.map.get_index(idx)?;
        Some(ENTRY_BYTES + BUCKET_BYTES * 8 / 7 + entry_heap(k, e))
    }

    /// The live entry for `key`, counting a hit or a miss.
    #[inline]
    pub fn lookup(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        match self.live_index(key, now) {
            Some(idx) => {
                self.stats.hits += 1;
                Some(&self.map[idx])
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// The live entry for `key` without touching hit/miss counters.
    #[inline]
    pub fn peek(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        let idx = self.live_index(key, now)?;
        Some(&self.map[idx])
    }

    /// Whether `key` exists and is live.
    #[inline]
    pub fn contains(&mut self, key: &[u8], now: u64) -> bool {
        self.live_index(key, now).is_some()
    }

    /// Stores `value` under `key` with `expire_at` (0 = none), returning the previous live entry.
    pub fn insert(&mut self, key: &[u8], value: Value, expire_at: u64, now: u64) -> Option<Entry> {
        match self.live_index(key, now) {
            Some(idx) => self.replace_at(idx, value, expire_at),
            None => {
                self.changes += 1;
                let k = Blob::new(key);
                let mut new = Entry::new(value, expire_at);
                new.set_mark(self.mark);
                self.heap_bytes += entry_heap(&k, &new);
                if expire_at != 0 {
                    self.volatile += 1;
                }
                self.map.insert(k, new);
                self.signal(key);
                None
            }
        }
    }

    /// Watches `key` for blocked clients: once a value is stored under it (created, or
    /// replaced by RENAME and the like), it is reported by [`Keyspace::take_ready`]. Costs
    /// nothing while no key is watched.
    pub fn watch(&mut self, key: &[u8]) {
        if !self.watched.contains(key) {
            self.watched.insert(Blob::new(key));
        }
    }

    /// Stops watching `key`.
    pub fn unwatch(&mut self, key: &[u8]) {
        self.watched.remove(key);
    }

    /// Number of watched keys.
    pub fn watched_len(&self) -> usize {
        self.watched.len()
    }

    /// Whether watched keys got a value since the last [`Keyspace::take_ready`].
    #[inline]
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The watched keys that got a value, in the order they got it (each once).
    pub fn take_ready(&mut self) -> Vec<Blob> {
        std::mem::take(&mut self.ready)
    }

    #[inline]
    fn signal(&mut self, key: &[u8]) {
        if !self.watched.is_empty()
            && self.watched.contains(key)
            && !self.ready.iter().any(|k| k.as_slice() == key)
        {
            self.ready.push(Blob::new(key));
        }
    }

    /// Runs `f` on the live value of `key` with memory accounting kept right; when `create`
    /// gives a value for a missing key, it is inserted first. Aggregates left empty are deleted
    /// (as Redis does). Returns None when the key is missing and nothing was created.
    pub fn update<R>(
        &mut self,
        key: &[u8],
        now: u64,
        create: Option<fn() -> Value>,
        f: impl FnOnce(&mut Value) -> R,
    ) -> Option<R> {
        let idx = match self.live_index(key, now) {
            Some(i) => i,
            None => {
                let v = create?();
                self.insert(key, v, 0, now);
                // A new key goes at the end of the entry vector.
                self.map.len() - 1
            }
        };
        self.update_at(idx, f)
    }

    /// [`Keyspace::update`] on the live entry at a position from [`Keyspace::find`] (no other
    /// change in between): one lookup for a type check and a write.
    #[inline]
    pub fn update_at<R>(&mut self, idx: usize, f: impl FnOnce(&mut Value) -> R) -> Option<R> {
        self.before_change(idx);
        let (_, e) = self.map.get_index_mut(idx)?;
        let before = e.value.heap_size();
        let r = f(&mut e.value);
        let after = e.value.heap_size();
        let empty = e.value.is_empty_aggregate();
        self.heap_bytes = self.heap_bytes + after - before;
        if empty {
            self.remove_index(idx);
        }
        Some(r)
    }

    /// Position of the live entry for `key` (removing it first if expired); use with
    /// [`Keyspace::entry_at`] and [`Keyspace::replace_at`] to look a key up once per write.
    #[inline]
    pub fn find(&mut self, key: &[u8], now: u64) -> Option<usize> {
        self.live_index(key, now)
    }

    /// The entry at a position from [`Keyspace::find`].
    #[inline]
    pub fn entry_at(&self, idx: usize) -> Option<&Entry> {
        self.map.get_index(idx).map(|(_, e)| e)
    }

    /// Replaces the entry at a position from [`Keyspace::find`] (no other change in between),
    /// returning the old entry.
    #[inline]
    pub fn replace_at(&mut self, idx: usize, value: Value, expire_at: u64) -> Option<Entry> {
        if idx >= self.map.len() {
            return None;
        }
        self.before_change(idx);
        let mark = self.mark;
        let (k, slot) = self.map.get_index_mut(idx)?;
        let mut new = Entry::new(value, expire_at);
        new.set_mark(mark);
        let before = entry_heap(k, slot);
        let after = entry_heap(k, &new);
        let old = std::mem::replace(slot, new);
        if !self.watched.is_empty() {
            let k = k.clone();
            self.signal(&k);
        }
        self.heap_bytes = self.heap_bytes + after - before;
        match (old.expire_at() != 0, expire_at != 0) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
        Some(old)
    }

    /// Removes `key`, returning its live entry.
    pub fn remove(&mut self, key: &[u8], now: u64) -> Option<Entry> {
        let idx = self.live_index(key, now)?;
        self.remove_index(idx).map(|(_, e)| e)
    }

    /// Sets the expiry of a live key (0 = persist). Returns false when the key is missing.
    pub fn set_expire(&mut self, key: &[u8], expire_at: u64, now: u64) -> bool {
        let Some(idx) = self.live_index(key, now) else {
            return false;
        };
        self.before_change(idx);
        let e = &mut self.map[idx];
        match (e.expire_at() != 0, expire_at != 0) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
        e.set_expire_at(expire_at);
        true
    }

    /// The TTL of `key`.
    pub fn ttl(&mut self, key: &[u8], now: u64) -> Ttl {
        match self.peek(key, now) {
            None => Ttl::Missing,
            Some(e) if e.expire_at() == 0 => Ttl::Persistent,
            Some(e) => Ttl::At(e.expire_at()),
        }
    }

    /// Takes every key out, leaving this keyspace empty (the caller frees the returned one,
    /// possibly lazily). Counters stay.
    pub fn take_all(&mut self) -> Keyspace {
        self.changes += 1;
        self.capture_all();
        let mut old = Keyspace::new();
        std::mem::swap(&mut old.map, &mut self.map);
        self.volatile = 0;
        self.heap_bytes = 0;
        self.expire_cursor = 0;
        old
    }

    /// Drops up to `n` entries; returns (dropped, whether it is now empty).
    pub fn drop_some(&mut self, n: usize) -> (usize, bool) {
        let mut dropped = 0;
        while dropped < n {
            if self.map.pop().is_none() {
                break;
            }
            dropped += 1;
        }
        (dropped, self.map.is_empty())
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.changes += 1;
        self.capture_all();
        self.map = IndexMap::with_hasher(ahash::RandomState::new());
        self.volatile = 0;
        self.heap_bytes = 0;
        self.expire_cursor = 0;
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A random live key, or None when the keyspace is empty.
    pub fn random_key(&mut self, now: u64) -> Option<Blob> {
        // Sample; expired keys found on the way are removed. Bounded so a keyspace full of
        // expired keys cannot loop for long.
        for _ in 0..100 {
            if self.map.is_empty() {
                return None;
            }
            let idx = (self.next_rand() % self.map.len() as u64) as usize;
            if self.map[idx].is_expired(now) {
                self.remove_expired(idx);
                continue;
            }
            return self.map.get_index(idx).map(|(k, _)| k.clone());
        }
        self.map
            .iter()
            .find(|(_, e)| !e.is_expired(now))
            .map(|(k, _)| k.clone())
    }

    /// One SCAN step. `cursor` 0 starts a scan; the returned cursor is 0 when the scan is
    /// complete. Visits up to `count` entries and returns the keys among them that are live and
    /// pass `filter`.
    pub fn scan(
        &self,
        cursor: u64,
        count: usize,
        filter: ScanFilter<'_>,
        now: u64,
    ) -> (u64, Vec<Blob>) {
        let len = self.map.len();
        if len == 0 {
            return (0, Vec::new());
        }
        // Cursor c > 0 means "next index to visit is c - 1" (walking down).
        let mut next = if cursor == 0 {
            len as u64
        } else {
            cursor.min(len as u64)
        };
        let mut out = Vec::new();
        let mut visited = 0;
        while next > 0 && visited < count.max(1) {
            let idx = (next - 1) as usize;
            if let Some((k, e)) = self.map.get_index(idx) {
                if !e.is_expired(now) && filter.accepts(k, e) {
                    out.push(k.clone());
                }
            }
            next -= 1;
            visited += 1;
        }
        (next, out)
    }

    /// Every live key matching `filter` (KEYS).
    pub fn keys(&self, filter: ScanFilter<'_>, now: u64) -> Vec<Blob> {
        self.map
            .iter()
            .filter(|(k, e)| !e.is_expired(now) && filter.accepts(k, e))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// One step of the active expiry cycle: checks up to `max_checks` entries (continuing where
    /// the previous step stopped) and removes the expired ones. Returns (checked, expired).
    pub fn active_expire_step(&mut self, now: u64, max_checks: usize) -> (usize, usize) {
        if self.volatile == 0 {
            return (0, 0);
        }
        let mut checked = 0;
        let mut expired = 0;
        while checked < max_checks && !self.map.is_empty() {
            if self.expire_cursor == 0 || self.expire_cursor > self.map.len() {
                self.expire_cursor = self.map.len();
            }
            let idx = self.expire_cursor - 1;
            if self.map[idx].is_expired(now) {
                self.remove_expired(idx);
                expired += 1;
            }
            self.expire_cursor -= 1;
            checked += 1;
            if self.volatile == 0 {
                break;
            }
        }
        (checked, expired)
    }

    /// Removes and returns every entry whose key satisfies `pred` (re-sharding at start-up).
    pub fn extract(&mut self, mut pred: impl FnMut(&[u8]) -> bool) -> Vec<(Blob, Entry)> {
        let mut out = Vec::new();
        let mut i = self.map.len();
        while i > 0 {
            i -= 1;
            let take = self.map.get_index(i).is_some_and(|(k, _)| pred(k));
            if take {
                if let Some(kv) = self.remove_index(i) {
                    out.push(kv);
                }
            }
        }
        out
    }

    /// Iterates over every entry (expired ones included), for snapshots and diagnostics.
    pub fn iter(&self) -> impl Iterator<Item = (&Blob, &Entry)> {
        self.map.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn s(v: &str) -> Value {
        Value::Str(Blob::from(v))
    }

    #[test]
    fn insert_lookup_remove_and_accounting() {
        let mut ks = Keyspace::new();
        assert!(ks.insert(b"a", s("1"), 0, 0).is_none());
        let big = "x".repeat(100);
        ks.insert(b"b", s(&big), 0, 0);
        assert_eq!(ks.len(), 2);
        assert!(ks.used_memory() >= 100);
        let old = ks.insert(b"b", s("small"), 0, 0).expect("old");
        assert_eq!(old.value, s(&big));
        assert_eq!(ks.heap_bytes, 0);
        assert!(ks.remove(b"a", 0).is_some());
        assert!(ks.remove(b"a", 0).is_none());
        assert_eq!(ks.len(), 1);
    }

    #[test]
    fn lazy_expiry() {
        let mut ks = Keyspace::new();
        ks.insert(b"k", s("v"), 100, 0);
        assert_eq!(ks.volatile_len(), 1);
        assert!(ks.lookup(b"k", 99).is_some());
        assert!(ks.lookup(b"k", 100).is_none());
        assert_eq!(ks.len(), 0);
        assert_eq!(ks.volatile_len(), 0);
        assert_eq!(ks.stats.expired, 1);
    }

    #[test]
    fn active_expiry_removes_everything_eventually() {
        let mut ks = Keyspace::new();
        for i in 0..1000 {
            let exp = if i % 2 == 0 { 50 } else { 0 };
            ks.insert(format!("k{i}").as_bytes(), s("v"), exp, 0);
        }
        let mut total = 0;
        for _ in 0..20 {
            total += ks.active_expire_step(100, 100).1;
        }
        assert_eq!(total, 500);
        assert_eq!(ks.len(), 500);
        assert_eq!(ks.volatile_len(), 0);
    }

    #[test]
    fn scan_visits_every_stable_key_despite_churn() {
        let mut ks = Keyspace::new();
        for i in 0..500 {
            ks.insert(format!("stable{i}").as_bytes(), s("v"), 0, 0);
            ks.insert(format!("churn{i}").as_bytes(), s("v"), 0, 0);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            let (next, keys) = ks.scan(cursor, 37, ScanFilter::default(), 0);
            seen.extend(keys.into_iter().map(|k| k.to_vec()));
            // Churn between steps: delete some, add others.
            for j in 0..10 {
                ks.remove(format!("churn{}", round * 10 + j).as_bytes(), 0);
                ks.insert(format!("new{round}-{j}").as_bytes(), s("v"), 0, 0);
            }
            round += 1;
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500 {
            assert!(
                seen.contains(format!("stable{i}").as_bytes()),
                "missed stable{i}"
            );
        }
    }

    #[test]
    fn scan_filter_by_pattern() {
        let mut ks = Keyspace::new();
        ks.insert(b"user:1", s("v"), 0, 0);
        ks.insert(b"item:1", s("v"), 0, 0);
        let f = ScanFilter {
            pattern: Some(b"user:*"),
            value_type: None,
        };
        let (c, keys) = ks.scan(0, 100, f, 0);
        assert_eq!(c, 0);
        assert_eq!(keys, vec![Blob::from("user:1")]);
    }

    #[test]
    fn watched_keys_report_new_values() {
        let mut ks = Keyspace::new();
        ks.insert(b"a", s("v"), 0, 0);
        assert!(!ks.has_ready());
        ks.watch(b"w");
        ks.watch(b"w");
        assert_eq!(ks.watched_len(), 1);
        ks.insert(b"b", s("v"), 0, 0);
        assert!(!ks.has_ready());
        ks.insert(b"w", s("v"), 0, 0);
        ks.insert(b"w", s("v2"), 0, 0);
        assert_eq!(ks.take_ready(), vec![Blob::from("w")]);
        assert!(!ks.has_ready());
        ks.unwatch(b"w");
        ks.remove(b"w", 0);
        ks.insert(b"w", s("v"), 0, 0);
        assert!(!ks.has_ready());
    }

    #[test]
    fn random_key_skips_expired() {
        let mut ks = Keyspace::new();
        assert!(ks.random_key(0).is_none());
        ks.insert(b"dead", s("v"), 5, 0);
        ks.insert(b"alive", s("v"), 0, 0);
        for _ in 0..10 {
            assert_eq!(ks.random_key(10).expect("key").as_slice(), b"alive");
        }
    }
}
