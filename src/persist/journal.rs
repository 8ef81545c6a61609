//! A shard's write journal: the records of every change the shard made, in order, framed
//! ([`synap_shard::codec`]), waiting for the AOF writer (and, later, replication).
//!
//! Offsets count the bytes of framed records journaled since start: `end()` is the offset after
//! the last record, `durable` the offset up to which the fsync policy is satisfied. With
//! `appendfsync always`, a reply that follows a write is released only once `durable` has passed
//! the write's offset ([`Journal::after_durable`]); the writer makes one fdatasync for everything
//! journaled while the previous one was in flight (group commit).

use glommio::channels::local_channel::LocalSender;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use synap_shard::codec;
use synap_shard::Value;

/// A callback run once the journal is durable up to an offset.
type Waiter = Box<dyn FnOnce()>;

/// The journal of one shard.
#[derive(Default)]
pub struct Journal {
    /// Journaling is on (AOF enabled).
    pub enabled: bool,
    /// Replies wait for fdatasync (`appendfsync always`).
    pub always: bool,
    /// Framed records not yet taken by the writer.
    pub buf: Vec<u8>,
    /// Offset of the first byte of `buf`.
    pub taken: u64,
    /// Offset up to which records are durable.
    pub durable: u64,
    /// Records journaled since start.
    pub records: u64,
    waiters: VecDeque<(u64, Waiter)>,
    /// Wakes the writer when `buf` goes from empty to non-empty (always mode).
    pub kick: Option<LocalSender<()>>,
    /// Where the writer switches to a new AOF segment (created by the snapshot that starts it).
    pub breaks: VecDeque<(u64, super::aof::Segment)>,
    /// Replication is on: records also go to the backlog (and, without the AOF, `buf` is
    /// consumed at once).
    pub repl: bool,
    /// Recent records for replica streams (partial resync, streaming).
    pub backlog: crate::repl::backlog::Backlog,
    /// Replica streams waiting for new records.
    pub watchers: Vec<LocalSender<()>>,
    /// A replica stream started waiting since the watchers were last woken: the next record
    /// wakes them (the others' channels are still full; a write need not try each).
    pub watch_armed: bool,
    /// Replication offset: bytes of framed records in this shard's replication stream (what
    /// the backlog addresses). On a master it grows with every record; a replica whose shard
    /// count equals its master's sets it from the stream it follows ([`Journal::applied`]), so
    /// a promoted replica continues its old master's offsets (PSYNC2).
    pub offset: u64,
    /// The offset after the last stream bytes fed by [`Journal::applied`]: where this
    /// shard's stream stops being its old master's once promoted.
    pub fed_end: u64,
    /// Following a master (the server's role, [`crate::repl::ReplState::replica`]): the shard
    /// journals only what it applies from the stream ([`Journal::applied`]), never its own
    /// changes.
    pub following: Arc<AtomicBool>,
}

impl Journal {
    /// An empty journal; `following` is the server's replica role.
    pub fn new(following: Arc<AtomicBool>) -> Journal {
        Journal {
            following,
            ..Default::default()
        }
    }

    /// Offset after the last record.
    #[inline]
    pub fn end(&self) -> u64 {
        self.taken + self.buf.len() as u64
    }

    /// Whether changes are journaled (AOF or replication on, and not a replica).
    #[inline]
    pub fn on(&self) -> bool {
        (self.enabled || self.repl) && !self.following.load(Ordering::Relaxed)
    }

    #[inline]
    fn appended(&mut self, was_empty: bool, from: usize) {
        if self.repl {
            self.backlog.push(self.offset, &self.buf[from..]);
            self.offset += (self.buf.len() - from) as u64;
            if !self.enabled {
                self.taken += self.buf.len() as u64;
                self.buf.clear();
            }
            if self.watch_armed {
                self.watch_armed = false;
                self.watchers
                    .retain(|w| !matches!(w.try_send(()), Err(glommio::GlommioError::Closed(_))));
            }
        }
        self.records += 1;
        if was_empty && self.always {
            if let Some(k) = &self.kick {
                let _ = k.try_send(());
            }
        }
    }

    /// Journals a command.
    pub fn command<A: AsRef<[u8]>>(&mut self, argv: &[A]) {
        if !self.on() {
            return;
        }
        let was_empty = self.buf.is_empty();
        let from = self.buf.len();
        codec::frame(&mut self.buf, |o| codec::encode_command(o, argv));
        self.appended(was_empty, from);
    }

    /// Journals the whole state of a key (a value written by a cross-shard command, or a
    /// string with an absolute expiry).
    pub fn entry(&mut self, key: &[u8], expire_at: u64, value: &Value) {
        if !self.on() {
            return;
        }
        let was_empty = self.buf.is_empty();
        let from = self.buf.len();
        codec::frame(&mut self.buf, |o| {
            codec::encode_value(o, key, expire_at, value)
        });
        self.appended(was_empty, from);
    }

    /// Journals a record a replica applied from its master (a [`crate::repl::record`] payload:
    /// the batch with its stream position) to the AOF, and, when `feed` is given (same shard
    /// count as the master), the stream bytes it came from to the backlog at the master's
    /// offset.
    pub fn applied(&mut self, payload: &[u8], feed: Option<(u64, &[u8])>) {
        if self.enabled {
            let was_empty = self.buf.is_empty();
            codec::frame(&mut self.buf, |o| o.extend_from_slice(payload));
            self.records += 1;
            if was_empty && self.always {
                if let Some(k) = &self.kick {
                    let _ = k.try_send(());
                }
            }
        }
        if let (true, Some((at, bytes))) = (self.repl, feed) {
            self.backlog.push(at, bytes);
            self.offset = at + bytes.len() as u64;
            self.fed_end = self.offset;
        }
    }

    /// Whether a reply released now would get ahead of durability.
    #[inline]
    pub fn must_wait(&self) -> bool {
        self.always && self.end() > self.durable
    }

    /// Runs `f` once everything journaled so far is durable (at once when it already is).
    pub fn after_durable(&mut self, f: Waiter) {
        let at = self.end();
        if !self.always || at <= self.durable {
            f();
        } else {
            self.waiters.push_back((at, f));
        }
    }

    /// Takes up to the next segment break: (bytes, offset after them, new segment to switch to
    /// after writing them).
    pub fn take(&mut self) -> (Vec<u8>, u64, Option<super::aof::Segment>) {
        match self.breaks.front() {
            Some(&(at, _)) if at <= self.end() => {
                let n = (at - self.taken) as usize;
                let rest = self.buf.split_off(n);
                let data = std::mem::replace(&mut self.buf, rest);
                self.taken = at;
                let seg = self.breaks.pop_front().map(|(_, s)| s);
                (data, at, seg)
            }
            _ => {
                let data = std::mem::take(&mut self.buf);
                self.taken += data.len() as u64;
                (data, self.taken, None)
            }
        }
    }

    /// Marks everything up to `offset` durable and releases the replies waiting for it.
    pub fn set_durable(&mut self, offset: u64) {
        if offset > self.durable {
            self.durable = offset;
        }
        while let Some((at, _)) = self.waiters.front() {
            if *at > self.durable {
                break;
            }
            if let Some((_, f)) = self.waiters.pop_front() {
                f();
            }
        }
    }

    /// Releases every waiter (shutdown, or AOF turned off).
    pub fn release_all(&mut self) {
        let end = self.end();
        self.set_durable(end);
    }
}
