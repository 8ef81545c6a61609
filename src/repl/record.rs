//! What a replica journals for each batch it applies, and the replication position it keeps.
//!
//! A replica shard journals every batch of records it applies from master shard `i` as one
//! record ([`TAG_REPL`]) that also carries the stream position after the batch, so the AOF
//! (and a torn tail of it) always holds data and position together:
//!
//! ```text
//! 0xfb, varint i, varint m (master shards), varint flags,
//!       [bytes replid]  when flags & REPLID
//!       [varint end]    when flags & END
//!       (bytes record)* the applied records: entries, commands, or 0xfa drops
//! ```
//!
//! Applying one (live, or replaying the AOF) sets, for master shard `i`: `RESET` forgets the
//! applied offset, `REPLID` sets the master's replication id, then the inner records are
//! applied, then `END` sets the offset applied (never lower than it was, except with
//! `RESET`). An inner drop (`0xfa, varint i, varint m`)
//! removes the keys master shard `i` of `m` owns (a full sync's start, a FLUSHALL).
//! Snapshots start with one position record per known stream (no inner records).
//!
//! On (re)connect, stream `i` resumes from the smallest offset the replica shards applied
//! (when they all know one, under the same replid), and each replica shard skips the records
//! ending at or below its own offset: every record is applied exactly once, after a clean
//! stop or a kill alike.

use crate::shard::Shard;
use synap_shard::codec::{self, Reader};
use synap_shard::SlotMap;

/// Payload tag of a replica's applied batch.
pub const TAG_REPL: u8 = 0xfb;
/// Payload tag of an inner record dropping the keys of one master shard.
pub const TAG_DROP: u8 = 0xfa;
/// Flag: set the applied offset after the batch.
pub const END: u64 = 1;
/// Flag: set the master's replication id.
pub const REPLID: u64 = 2;
/// Flag: forget the applied offset first (a full sync starts).
pub const RESET: u64 = 4;
/// Most master shards a position may name.
const MAX_SHARDS: usize = 1024;

/// One master shard's stream as a replica shard has applied it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamPos {
    /// The master's replication id ("" when unknown).
    pub replid: String,
    /// Offset up to which every record routed to this shard is applied.
    pub applied: Option<u64>,
}

impl StreamPos {
    /// Sets the offset applied after a batch ending at `end`: never backwards (a shard that
    /// resumed past the batch's end keeps its own offset), except after a reset.
    pub fn advance(&mut self, flags: u64, end: u64) {
        let keep = self.applied.filter(|_| flags & RESET == 0).unwrap_or(0);
        self.applied = Some(end.max(keep));
    }
}

/// A replica shard's position in each master shard's stream.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    /// The master's shard count.
    pub m: usize,
    /// Per master shard.
    pub streams: Vec<StreamPos>,
}

impl Positions {
    fn stream_mut(&mut self, i: usize, m: usize) -> Option<&mut StreamPos> {
        if self.m != m {
            self.m = m;
            self.streams = vec![StreamPos::default(); m];
        }
        self.streams.get_mut(i)
    }

    /// Where stream `i` of `m` can resume on this shard: (replid, offset applied).
    pub fn resume(&self, i: usize, m: usize) -> Option<(String, u64)> {
        if self.m != m {
            return None;
        }
        let s = self.streams.get(i)?;
        Some((s.replid.clone(), s.applied?)).filter(|(id, _)| !id.is_empty())
    }

    /// Position records for a snapshot (one per stream with a known offset).
    pub fn records(&self) -> Vec<Vec<u8>> {
        self.streams
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let end = s.applied?;
                (!s.replid.is_empty())
                    .then(|| header(i, self.m, REPLID | END, &s.replid, end).into_bytes())
            })
            .collect()
    }
}

/// A record being built: the header, then inner records.
#[derive(Debug, Clone)]
pub struct Builder {
    buf: Vec<u8>,
    /// Inner records added.
    pub count: usize,
}

impl Builder {
    /// Adds an inner record.
    pub fn push(&mut self, record: &[u8]) {
        codec::put_bytes(&mut self.buf, record);
        self.count += 1;
    }

    /// The payload.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// Starts a record for master shard `i` of `m`.
pub fn header(i: usize, m: usize, flags: u64, replid: &str, end: u64) -> Builder {
    let mut buf = vec![TAG_REPL];
    codec::put_varint(&mut buf, i as u64);
    codec::put_varint(&mut buf, m as u64);
    codec::put_varint(&mut buf, flags);
    if flags & REPLID != 0 {
        codec::put_bytes(&mut buf, replid.as_bytes());
    }
    if flags & END != 0 {
        codec::put_varint(&mut buf, end);
    }
    Builder { buf, count: 0 }
}

/// An inner record dropping the keys master shard `i` of `m` owns.
pub fn drop_record(i: usize, m: usize) -> Vec<u8> {
    let mut buf = vec![TAG_DROP];
    codec::put_varint(&mut buf, i as u64);
    codec::put_varint(&mut buf, m as u64);
    buf
}

/// A decoded record.
#[derive(Debug)]
pub struct Record<'a> {
    /// Master shard.
    pub i: usize,
    /// Master shard count.
    pub m: usize,
    /// Flags.
    pub flags: u64,
    /// Replication id (with `REPLID`).
    pub replid: &'a [u8],
    /// Offset after the batch (with `END`).
    pub end: u64,
    /// The applied records.
    pub inner: Vec<&'a [u8]>,
}

fn shards(rd: &mut Reader<'_>) -> Result<(usize, usize), String> {
    let i = rd.varint().map_err(|e| e.to_string())? as usize;
    let m = rd.varint().map_err(|e| e.to_string())? as usize;
    if m == 0 || m > MAX_SHARDS || i >= m {
        return Err(format!("bad master shard {i} of {m}"));
    }
    Ok((i, m))
}

/// Decodes a [`TAG_REPL`] payload.
pub fn decode(payload: &[u8]) -> Result<Record<'_>, String> {
    let mut rd = Reader::new(payload.get(1..).unwrap_or_default());
    let (i, m) = shards(&mut rd)?;
    let flags = rd.varint().map_err(|e| e.to_string())?;
    let replid = if flags & REPLID != 0 {
        rd.bytes().map_err(|e| e.to_string())?
    } else {
        &[]
    };
    let end = if flags & END != 0 {
        rd.varint().map_err(|e| e.to_string())?
    } else {
        0
    };
    let mut inner = Vec::new();
    while !rd.at_end() {
        inner.push(rd.bytes().map_err(|e| e.to_string())?);
    }
    Ok(Record {
        i,
        m,
        flags,
        replid,
        end,
        inner,
    })
}

/// Applies a [`TAG_REPL`] record to the shard (live or from the AOF). A bad inner record is
/// skipped with a warning, as the replica does with any record it cannot apply.
pub fn apply(shard: &Shard, payload: &[u8]) -> Result<(), String> {
    let r = decode(payload)?;
    {
        let mut p = shard.repl_pos.borrow_mut();
        if let Some(s) = p.stream_mut(r.i, r.m) {
            if r.flags & RESET != 0 {
                s.applied = None;
            }
            if r.flags & REPLID != 0 {
                s.replid = String::from_utf8_lossy(r.replid).into_owned();
            }
        }
    }
    for rec in &r.inner {
        let res = match rec.first() {
            Some(&TAG_DROP) => drop_keys(shard, rec),
            _ => crate::persist::load::apply(shard, rec),
        };
        if let Err(e) = res {
            tracing::warn!(shard = shard.id, "replicated record not applied: {e}");
        }
    }
    if r.flags & END != 0 {
        if let Some(s) = shard.repl_pos.borrow_mut().stream_mut(r.i, r.m) {
            s.advance(r.flags, r.end);
        }
    }
    Ok(())
}

fn drop_keys(shard: &Shard, rec: &[u8]) -> Result<(), String> {
    let (i, m) = shards(&mut Reader::new(&rec[1..]))?;
    let map = SlotMap::even(m);
    let gone = shard.ks.borrow_mut().extract(|k| map.shard_of_key(k) == i);
    drop(gone);
    Ok(())
}

/// Applies a batch received from the master on this shard and journals it (see
/// [`crate::persist::journal::Journal::applied`]); dropped when replication was stopped or
/// redirected since (generation `gen`).
pub fn apply_live(shard: &Shard, gen: u64, payload: &[u8], feed: Option<(u64, &[u8])>) {
    let r = &shard.global.repl;
    if r.generation.load(std::sync::atomic::Ordering::SeqCst) != gen {
        return;
    }
    if let Err(e) = apply(shard, payload) {
        tracing::warn!(shard = shard.id, "replicated batch not applied: {e}");
        return;
    }
    shard.journal.borrow_mut().applied(payload, feed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut b = header(2, 4, END | REPLID, "abc", 77);
        b.push(b"\x80x");
        b.push(&drop_record(2, 4));
        let p = b.into_bytes();
        let r = decode(&p).expect("decode");
        assert_eq!(
            (r.i, r.m, r.flags, r.replid, r.end),
            (2, 4, 3, &b"abc"[..], 77)
        );
        assert_eq!(r.inner.len(), 2);
        assert!(decode(&p[..p.len() - 1]).is_err());
        assert!(decode(&header(4, 4, 0, "", 0).into_bytes()).is_err());
        let mut pos = Positions::default();
        pos.stream_mut(1, 2).expect("stream").replid = "r".into();
        assert_eq!(pos.resume(1, 2), None);
        pos.stream_mut(1, 2).expect("stream").applied = Some(5);
        assert_eq!(pos.resume(1, 2), Some(("r".into(), 5)));
        assert_eq!(pos.resume(1, 3), None);
        assert_eq!(pos.records().len(), 1);
        let s = pos.stream_mut(1, 2).expect("stream");
        s.advance(END, 3);
        assert_eq!(s.applied, Some(5));
        s.advance(END, 9);
        assert_eq!(s.applied, Some(9));
        s.advance(END | RESET, 4);
        assert_eq!(s.applied, Some(4));
    }
}
