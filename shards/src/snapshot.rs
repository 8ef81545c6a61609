//! Point-in-time snapshots of a keyspace without fork and without stopping the shard (the
//! approach Dragonfly documents).
//!
//! Starting a snapshot flips the keyspace's mark: every entry present then carries the old mark
//! ("not yet written"); entries inserted later carry the new one. The snapshot then walks the
//! entries from the highest index down, a slice at a time between requests, writing each entry
//! that still has the old mark and flipping it. A write that is about to change or remove an
//! entry with the old mark writes the entry's current state first ([`Keyspace::capture_entry`]
//! from the keyspace's mutation paths). So every entry is written exactly once, with the value
//! it had when the snapshot started.
//!
//! Why the downward walk never misses an entry: removal moves the *last* entry into the hole.
//! An entry not yet visited sits below the cursor; if it is the last entry it moves to a lower
//! index, still below the cursor. Inserts append and carry the new mark.
//!
//! The written records (framed [`crate::codec`] entries) collect in [`Capture::out`]; the
//! shard's snapshot task drains them to the file between slices.

use crate::codec;
use crate::keyspace::Keyspace;

/// A snapshot in progress.
#[derive(Debug, Default)]
pub struct Capture {
    /// Next index to visit is `cursor - 1`; 0 = the walk is complete.
    cursor: usize,
    /// Framed entry records not yet handed to the writer.
    pub out: Vec<u8>,
    /// Entries written so far.
    pub entries: u64,
    /// Entries written because a write reached them before the walk did.
    pub early: u64,
    /// Expired entries skipped.
    pub skipped: u64,
    /// Entries in the keyspace when the snapshot started.
    pub total: u64,
    /// Only entries not expired at this time (Unix ms) are written.
    now: u64,
}

impl Keyspace {
    /// Starts a snapshot at this instant (`now` decides which entries are already expired).
    /// Returns false when one is already in progress.
    pub fn start_capture(&mut self, now: u64) -> bool {
        if self.capture.is_some() {
            return false;
        }
        self.mark = !self.mark;
        self.capture = Some(Box::new(Capture {
            cursor: self.map.len(),
            total: self.map.len() as u64,
            now,
            ..Capture::default()
        }));
        true
    }

    /// Whether a snapshot is in progress.
    pub fn capturing(&self) -> bool {
        self.capture.is_some()
    }

    /// Progress of the snapshot in progress: (entries written, entries at start).
    pub fn capture_progress(&self) -> Option<(u64, u64)> {
        self.capture
            .as_ref()
            .map(|c| (c.entries + c.skipped, c.total))
    }

    /// Writes the entry at `idx` if the snapshot has not yet (called before it changes).
    pub(crate) fn capture_entry(&mut self, idx: usize) {
        let mark = self.mark;
        let Some(c) = self.capture.as_deref_mut() else {
            return;
        };
        let Some((k, e)) = self.map.get_index_mut(idx) else {
            return;
        };
        if e.mark() == mark {
            return;
        }
        e.set_mark(mark);
        if e.is_expired(c.now) {
            c.skipped += 1;
            return;
        }
        codec::frame(&mut c.out, |o| codec::encode_entry(o, k, e));
        c.entries += 1;
        c.early += 1;
    }

    /// Writes every entry not written yet (before the whole keyspace goes: FLUSHALL).
    pub(crate) fn capture_all(&mut self) {
        if self.capture.is_some() {
            while !self.capture_step(usize::MAX, usize::MAX) {}
        }
    }

    /// Walks up to `max_entries` entries or until `max_bytes` are waiting in the output.
    /// Returns true when the walk is complete (every entry written).
    pub fn capture_step(&mut self, max_entries: usize, max_bytes: usize) -> bool {
        let mark = self.mark;
        let Some(c) = self.capture.as_deref_mut() else {
            return true;
        };
        let mut n = 0;
        while c.cursor > 0 && n < max_entries && c.out.len() < max_bytes {
            let idx = c.cursor - 1;
            c.cursor -= 1;
            n += 1;
            let Some((k, e)) = self.map.get_index_mut(idx) else {
                continue;
            };
            if e.mark() == mark {
                continue;
            }
            e.set_mark(mark);
            if e.is_expired(c.now) {
                c.skipped += 1;
                continue;
            }
            codec::frame(&mut c.out, |o| codec::encode_entry(o, k, e));
            c.entries += 1;
        }
        c.cursor == 0
    }

    /// Takes the records written so far.
    pub fn take_capture_output(&mut self) -> Vec<u8> {
        match self.capture.as_deref_mut() {
            Some(c) => std::mem::take(&mut c.out),
            None => Vec::new(),
        }
    }

    /// Ends the snapshot (complete or abandoned), returning its final state. Entries an
    /// abandoned snapshot did not reach are re-marked here (one pass), since the next snapshot's
    /// flip would otherwise take them for already written.
    pub fn finish_capture(&mut self) -> Option<Capture> {
        let mark = self.mark;
        let c = self.capture.take()?;
        if c.cursor > 0 {
            for (_, e) in self.map.iter_mut() {
                e.set_mark(mark);
            }
        }
        Some(*c)
    }
}

#[cfg(test)]
mod tests {
    use crate::blob::Blob;
    use crate::codec::{self, Limits};
    use crate::keyspace::Keyspace;
    use crate::value::Value;
    use std::collections::BTreeMap;

    fn s(v: &str) -> Value {
        Value::Str(Blob::from(v))
    }

    fn decode_all(buf: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut m = BTreeMap::new();
        let mut pos = 0;
        while pos < buf.len() {
            let (r, next) = codec::read_frame(buf, pos).expect("frame");
            let e = codec::decode_entry(&buf[r], Limits::default()).expect("entry");
            let Value::Str(b) = e.value else {
                panic!("not a string")
            };
            assert!(m.insert(e.key, b.to_vec()).is_none(), "written twice");
            pos = next;
        }
        m
    }

    /// Random writes interleaved with the walk: the snapshot equals the keyspace as it was
    /// when the snapshot started, every key exactly once.
    #[test]
    fn snapshot_is_point_in_time_under_churn() {
        for seed in 0..20u64 {
            let mut ks = Keyspace::new();
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            for i in 0..300 {
                ks.insert(format!("k{i}").as_bytes(), s(&format!("v{i}")), 0, 0);
            }
            let expect: BTreeMap<Vec<u8>, Vec<u8>> = (0..300)
                .map(|i| (format!("k{i}").into_bytes(), format!("v{i}").into_bytes()))
                .collect();
            assert!(ks.start_capture(0));
            let mut out = Vec::new();
            loop {
                for _ in 0..(next() % 8) {
                    let k = format!("k{}", next() % 400);
                    match next() % 4 {
                        0 => {
                            ks.remove(k.as_bytes(), 0);
                        }
                        1 => {
                            ks.insert(k.as_bytes(), s("changed"), 0, 0);
                        }
                        2 => {
                            ks.set_expire(k.as_bytes(), 99, 0);
                        }
                        _ => {
                            ks.insert(format!("new{}", next()).as_bytes(), s("n"), 0, 0);
                        }
                    }
                }
                let done = ks.capture_step(7, usize::MAX);
                out.extend(ks.take_capture_output());
                if done {
                    break;
                }
            }
            ks.finish_capture();
            assert_eq!(decode_all(&out), expect, "seed {seed}");
            // A second snapshot sees the current state.
            let now: BTreeMap<Vec<u8>, Vec<u8>> = ks
                .iter()
                .map(|(k, e)| {
                    let Value::Str(b) = &e.value else {
                        panic!("string")
                    };
                    (k.to_vec(), b.to_vec())
                })
                .collect();
            assert!(ks.start_capture(0));
            while !ks.capture_step(50, usize::MAX) {}
            let out = ks.take_capture_output();
            ks.finish_capture();
            assert_eq!(decode_all(&out), now);
        }
    }

    #[test]
    fn flush_during_snapshot_keeps_the_old_data() {
        let mut ks = Keyspace::new();
        for i in 0..100 {
            ks.insert(format!("k{i}").as_bytes(), s("v"), 0, 0);
        }
        ks.start_capture(0);
        ks.capture_step(10, usize::MAX);
        let _old = ks.take_all();
        assert!(ks.capture_step(10, usize::MAX));
        let out = ks.take_capture_output();
        ks.finish_capture();
        assert_eq!(decode_all(&out).len(), 100);
    }

    #[test]
    fn expired_entries_are_skipped() {
        let mut ks = Keyspace::new();
        ks.insert(b"live", s("v"), 0, 0);
        ks.insert(b"dead", s("v"), 50, 0);
        ks.start_capture(100);
        while !ks.capture_step(10, usize::MAX) {}
        let out = ks.take_capture_output();
        assert_eq!(decode_all(&out).len(), 1);
    }
}
