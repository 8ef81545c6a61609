//! A master shard's replication backlog: a bounded ring of its most recent journal bytes,
//! addressed by journal offset (bytes of framed records since start).
//!
//! The ring keeps `cap` bytes (`replication.backlog_size` per shard) for partial resyncs, and
//! more while a connected replica stream still has to send them (Redis 7's shared replication
//! buffer): each stream pins the offset it has sent up to, and bytes after the oldest pin stay
//! until that stream is `hold` bytes behind (`replication.max_replica_buffer`), when it is
//! dropped. A replica that was slow for a moment (a busy core, a long full sync under heavy
//! writes) therefore continues instead of falling out of the ring into another full sync.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Time marks kept (at least 10 ms apart: 40 s of steady writes).
const MARKS: usize = 4096;
/// Most frames walked to count a replica's lag in records.
const MAX_COUNT: u64 = 1_000_000;
/// Pushes between two looks at the clock for a time mark.
const MARK_EVERY: u32 = 32;

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
    /// Pushes since the clock was last read.
    since_mark: u32,
    /// (stream, offset it has sent up to) of each connected replica stream.
    pins: Vec<(u64, u64)>,
    /// Most bytes a pin keeps beyond `cap`.
    hold: usize,
    /// The last stream id handed out.
    streams: u64,
}

impl Backlog {
    /// Sets the capacity (bytes); older bytes are dropped from then on.
    pub fn set_capacity(&mut self, cap: usize) {
        self.cap = cap.max(16 * 1024);
    }

    /// Sets how many bytes beyond the capacity a lagging stream's pin keeps.
    pub fn set_hold(&mut self, hold: usize) {
        self.hold = hold;
    }

    /// A new stream id for [`Backlog::pin`].
    pub fn new_stream(&mut self) -> u64 {
        self.streams += 1;
        self.streams
    }

    /// Records that `stream` has sent everything before `offset`: bytes from there on stay
    /// (up to the hold) until it moves on or [`Backlog::unpin`]s.
    pub fn pin(&mut self, stream: u64, offset: u64) {
        match self.pins.iter_mut().find(|p| p.0 == stream) {
            Some(p) => p.1 = offset,
            None => self.pins.push((stream, offset)),
        }
    }

    /// Forgets a stream's pin (it ended).
    pub fn unpin(&mut self, stream: u64) {
        self.pins.retain(|p| p.0 != stream);
    }

    /// Bytes kept now: the capacity, or back to the oldest pin within the hold.
    fn keep(&self) -> usize {
        let end = self.end();
        self.pins
            .iter()
            .map(|p| end.saturating_sub(p.1))
            .filter(|&behind| behind <= (self.cap + self.hold) as u64)
            .max()
            .map_or(self.cap, |behind| self.cap.max(behind as usize))
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
        // The clock is read every MARK_EVERY pushes, not on each (a write's hot path).
        self.since_mark += 1;
        if !bytes.is_empty() && (self.marks.is_empty() || self.since_mark >= MARK_EVERY) {
            self.since_mark = 0;
            let now = Instant::now();
            if self
                .marks
                .back()
                .is_none_or(|m| now - m.1 >= Duration::from_millis(10))
            {
                if self.marks.len() == MARKS {
                    self.marks.pop_front();
                }
                self.marks.push_back((at, now));
            }
        }
        self.data.extend(bytes);
        if self.data.len() > self.cap {
            let keep = self.keep();
            if self.data.len() > keep {
                let drop = self.data.len() - keep;
                self.data.drain(..drop);
                self.start += drop as u64;
            }
            // Back to the capacity after a lagging stream caught up (or was dropped): give the
            // memory it held back (one copy of the ring, rarely).
            if keep == self.cap && self.data.capacity() > 2 * self.cap + (1 << 20) {
                self.data.shrink_to(self.cap);
            }
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
        let (a, b) = self.data.as_slices();
        let mut out = Vec::with_capacity(to - from);
        if from < a.len() {
            out.extend_from_slice(&a[from..to.min(a.len())]);
        }
        if to > a.len() {
            out.extend_from_slice(&b[from.saturating_sub(a.len())..to - a.len()]);
        }
        Some(out)
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
    fn a_pin_keeps_unsent_bytes_up_to_the_hold() {
        let mut b = Backlog::default();
        b.set_capacity(16 * 1024);
        b.set_hold(32 * 1024);
        b.pin(7, 1_000);
        for i in 0..4u64 {
            b.push(i * 10_000, &[i as u8; 10_000]);
        }
        // 40,000 bytes, a stream at 1,000: everything from its pin stays.
        assert_eq!((b.start(), b.end()), (1_000, 40_000));
        assert_eq!(b.read(1_000, 5), Some(vec![0u8; 5]));
        // Once it caught up within the capacity, the ring is its capacity again.
        b.pin(7, 25_000);
        b.push(40_000, &[9]);
        assert_eq!(b.start(), 40_001 - 16 * 1024);
        // Further behind than capacity + hold: the ring goes back to its capacity (the
        // stream is dropped by its sender).
        b.push(40_001, &[8u8; 40_000]);
        assert_eq!(b.start(), 80_001 - 16 * 1024);
        b.unpin(7);
        b.push(80_001, &[1u8; 100]);
        assert_eq!(b.end() - b.start(), 16 * 1024);
        assert_eq!(b.read(b.end() - 100, 100), Some(vec![1u8; 100]));
    }

    #[test]
    fn memory_held_for_a_stream_is_given_back() {
        let mut b = Backlog::default();
        b.set_capacity(16 * 1024);
        b.set_hold(8 << 20);
        b.pin(1, 0);
        let chunk = vec![5u8; 64 * 1024];
        for i in 0..64u64 {
            b.push(i * chunk.len() as u64, &chunk);
        }
        assert_eq!(b.start(), 0);
        assert!(b.data.capacity() >= 4 << 20);
        b.unpin(1);
        b.push(b.end(), &[6]);
        assert_eq!(b.end() - b.start(), 16 * 1024);
        assert!(b.data.capacity() < 1 << 20, "{}", b.data.capacity());
        assert_eq!(b.read(b.end() - 2, 2), Some(vec![5, 6]));
    }

    #[test]
    fn reads_across_the_ring_wrap() {
        let mut b = Backlog::default();
        b.set_capacity(16 * 1024);
        for i in 0..10u64 {
            b.push(i * 5_000, &[i as u8; 5_000]);
        }
        let got = b.read(50_000 - 12_000, 12_000).expect("in ring");
        assert_eq!(got.len(), 12_000);
        assert!(got[..2_000].iter().all(|&x| x == 7));
        assert!(got[2_000..7_000].iter().all(|&x| x == 8));
        assert!(got[7_000..].iter().all(|&x| x == 9));
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
