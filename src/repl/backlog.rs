//! A master shard's replication backlog: a bounded ring of its most recent journal bytes,
//! addressed by journal offset (bytes of framed records since start).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Time marks kept (at least 10 ms apart: 40 s of steady writes).
const MARKS: usize = 4096;
/// Most frames walked to count a replica's lag in records.
const MAX_COUNT: u64 = 1_000_000;

/// The most recent `cap` bytes of a shard's journal.
#[derive(Debug, Default)]
pub struct Backlog {
    data: VecDeque<u8>,
    /// Offset of `data[0]`.
    start: u64,
    cap: usize,
    /// (offset of a record, when it was pushed), for the first record pushed at least 10 ms
    /// after the previous mark: every record between two marks was pushed within 10 ms of
    /// the first one, which dates a replica's oldest unacknowledged record.
    marks: VecDeque<(u64, Instant)>,
}

impl Backlog {
    /// Sets the capacity (bytes); older bytes are dropped from then on.
    pub fn set_capacity(&mut self, cap: usize) {
        self.cap = cap.max(16 * 1024);
    }

    /// Offset of the first byte kept.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Offset after the last byte kept.
    pub fn end(&self) -> u64 {
        self.start + self.data.len() as u64
    }

    /// Appends `bytes` found at journal offset `at` (the journal's end before them).
    pub fn push(&mut self, at: u64, bytes: &[u8]) {
        if at != self.end() {
            // A gap (replication turned on mid-way): restart the ring there.
            self.data.clear();
            self.marks.clear();
            self.start = at;
        }
        if !bytes.is_empty()
            && self
                .marks
                .back()
                .is_none_or(|m| m.1.elapsed() >= Duration::from_millis(10))
        {
            if self.marks.len() == MARKS {
                self.marks.pop_front();
            }
            self.marks.push_back((at, Instant::now()));
        }
        self.data.extend(bytes.iter().copied());
        if self.data.len() > self.cap {
            let drop = self.data.len() - self.cap;
            self.data.drain(..drop);
            self.start += drop as u64;
        }
    }

    /// Whether a stream can continue from `offset` (it lies within the ring, or at its end).
    pub fn has(&self, offset: u64) -> bool {
        offset >= self.start && offset <= self.end()
    }

    /// Up to `max` bytes from `offset`; None when `offset` fell out of the ring.
    pub fn read(&self, offset: u64, max: usize) -> Option<Vec<u8>> {
        if !self.has(offset) {
            return None;
        }
        let from = (offset - self.start) as usize;
        let to = (from + max).min(self.data.len());
        Some(self.data.range(from..to).copied().collect())
    }

    /// How long ago the record at `offset` was pushed (within 10 ms; the oldest mark's age
    /// when it is older than every mark); zero at the end.
    pub fn age(&self, offset: u64) -> Duration {
        if offset >= self.end() {
            return Duration::ZERO;
        }
        let i = self.marks.partition_point(|m| m.0 <= offset);
        self.marks
            .get(i.saturating_sub(1))
            .map_or(Duration::ZERO, |m| m.1.elapsed())
    }

    /// Records from `offset` to the end (None when `offset` is not in the ring; counting stops
    /// at a million).
    pub fn records_from(&self, offset: u64) -> Option<u64> {
        if !self.has(offset) {
            return None;
        }
        let mut at = (offset - self.start) as usize;
        let mut n = 0;
        while at + 4 <= self.data.len() && n < MAX_COUNT {
            let len = u32::from_le_bytes([
                self.data[at],
                self.data[at + 1],
                self.data[at + 2],
                self.data[at + 3],
            ]) as usize;
            at += synap_shard::codec::FRAME_HEADER + len;
            n += 1;
        }
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_tail() {
        let mut b = Backlog::default();
        b.set_capacity(16 * 1024);
        b.push(0, &[1u8; 10_000]);
        b.push(10_000, &[2u8; 10_000]);
        assert_eq!(b.end(), 20_000);
        assert_eq!(b.start(), 20_000 - 16 * 1024);
        assert!(b.read(0, 10).is_none());
        assert_eq!(b.read(19_990, 100), Some(vec![2u8; 10]));
        assert_eq!(b.read(20_000, 100), Some(vec![]));
        b.push(30_000, &[3]);
        assert_eq!((b.start(), b.end()), (30_000, 30_001));
    }

    #[test]
    fn counts_records_and_dates_them() {
        let mut b = Backlog::default();
        b.set_capacity(1 << 20);
        let mut at = 0;
        for i in 0..5u8 {
            let mut f = Vec::new();
            synap_shard::codec::frame(&mut f, |o| o.extend_from_slice(&[i; 7]));
            b.push(at, &f);
            at += f.len() as u64;
        }
        assert_eq!(b.records_from(0), Some(5));
        assert_eq!(b.records_from(15), Some(4));
        assert_eq!(b.records_from(at), Some(0));
        assert_eq!(b.records_from(at + 1), None);
        assert_eq!(b.age(at), Duration::ZERO);
        assert!(b.age(0) < Duration::from_secs(5));
    }
}
