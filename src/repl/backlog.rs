//! A master shard's replication backlog: a bounded ring of its most recent journal bytes,
//! addressed by journal offset (bytes of framed records since start).

use std::collections::VecDeque;

/// The most recent `cap` bytes of a shard's journal.
#[derive(Debug, Default)]
pub struct Backlog {
    data: VecDeque<u8>,
    /// Offset of `data[0]`.
    start: u64,
    cap: usize,
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
            self.start = at;
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
}
