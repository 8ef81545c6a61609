//! Routing a master shard's records to the replica shards that own their keys, in batches
//! that carry the stream position (see [`super::record`]).

use super::{across, record};
use crate::commands::{self, Exec, Global as G};
use crate::shard::Shard;
use std::rc::Rc;
use std::time::Duration;
use synap_shard::codec;

/// Per replica shard, the records of one batch, in order.
pub(super) struct Router {
    pub(super) batches: Vec<Vec<Vec<u8>>>,
    pub(super) n: usize,
}

impl Router {
    pub(super) fn new(n: usize) -> Router {
        Router {
            batches: (0..n).map(|_| Vec::new()).collect(),
            n,
        }
    }

    /// Routes `record` (ending at stream offset `end`) to replica shard `t`, unless that shard
    /// applied it already (`floors`).
    pub(super) fn push(&mut self, t: usize, record: Vec<u8>, end: u64, floors: &[u64]) {
        if floors.get(t).is_none_or(|&f| end > f) {
            self.batches[t].push(record);
        }
    }
}

/// How a batch is sent to the replica shards.
pub(super) struct Head<'a> {
    pub(super) flags: u64,
    pub(super) replid: &'a str,
    pub(super) end: u64,
    /// Send to every replica shard, even those without records.
    pub(super) all: bool,
}

/// One master shard's stream on this replica.
pub(super) struct Follow {
    pub(super) i: usize,
    pub(super) m: usize,
    pub(super) gen: u64,
    /// Per replica shard: the offset it had applied when the stream (re)started.
    pub(super) floors: Vec<u64>,
    /// Per replica shard: when it last got a position (shards without records get one at
    /// most once a second, so a restart resumes from a recent offset).
    pub(super) marked: Vec<std::time::Instant>,
    /// The replica shard count equals the master's: replica shard `i` gets exactly master
    /// shard `i`'s records and keeps them in its backlog at the master's offsets (PSYNC2).
    pub(super) feeds: bool,
}

impl Follow {
    /// Sends the batch in `r` (and the stream bytes `feed` to shard `i` when it keeps the
    /// master's offsets) to the replica shards, and waits until they applied it.
    pub(super) async fn flush(
        &mut self,
        shard: &Rc<Shard>,
        r: &mut Router,
        head: Head<'_>,
        feed: Option<(u64, Vec<u8>)>,
    ) {
        let now = std::time::Instant::now();
        let mut futs = Vec::new();
        let mut feed = feed.filter(|_| self.feeds);
        for t in 0..r.n {
            let recs = std::mem::take(&mut r.batches[t]);
            let mark = head.flags & record::END != 0
                && now.duration_since(self.marked[t]) >= Duration::from_secs(1);
            let f = if t == self.i { feed.take() } else { None };
            if recs.is_empty() && !head.all && !mark && f.is_none() {
                continue;
            }
            if head.flags & record::END != 0 {
                self.marked[t] = now;
            }
            let mut b = record::header(self.i, self.m, head.flags, head.replid, head.end);
            for rec in &recs {
                b.push(rec);
            }
            let payload = b.into_bytes();
            let gen = self.gen;
            futs.push(shard.run_on(t, move |s| {
                let feed = f.as_ref().map(|(at, b)| (*at, &b[..]));
                record::apply_live(s, gen, &payload, feed);
            }));
        }
        futures::future::join_all(futs).await;
    }
}

/// Commands whose keys are independent of each other: split per key when they span replica
/// shards (any other command spanning them runs through [`super::across`]).
const SPLITTABLE: [&[u8]; 4] = [b"del", b"unlink", b"mset", b"msetnx"];

/// Routes one command record ending at stream offset `end`; returns its keys (with their
/// replica shards) and the first one's shard when it must run across replica shards.
pub(super) fn route_command(
    shard: &Shard,
    f: &Follow,
    r: &mut Router,
    payload: &[u8],
    end: u64,
) -> Result<Option<(across::Keys, usize)>, String> {
    let mut argv: Vec<&[u8]> = Vec::new();
    codec::decode_command(payload, &mut argv).map_err(|e| e.to_string())?;
    let Some((_, spec)) = argv.first().and_then(|a| commands::lookup(a)) else {
        return Err("unknown command in the stream".into());
    };
    if matches!(spec.exec, Exec::Global(G::Flush)) {
        // FLUSHALL on master shard `i`: every replica shard drops the keys it owns.
        let drop = record::drop_record(f.i, f.m);
        for t in 0..r.n {
            r.push(t, drop.clone(), end, &f.floors);
        }
        return Ok(None);
    }
    let slots = &shard.global.slots;
    let keys: Vec<usize> = spec.key_positions(argv.len()).collect();
    let mut targets: Vec<usize> = keys.iter().map(|&p| slots.shard_of_key(argv[p])).collect();
    targets.dedup();
    let first = targets.first().copied().unwrap_or(f.i % r.n);
    if targets.iter().all(|&t| t == first) {
        r.push(first, payload.to_vec(), end, &f.floors);
        return Ok(None);
    }
    // Keys on several replica shards: split per key when the keys (each followed by
    // `step - 1` arguments) are independent and run to the end of the command.
    let step = spec.step.max(1) as usize;
    let name = argv[0].to_ascii_lowercase();
    let splittable =
        SPLITTABLE.contains(&&name[..]) && keys.last().is_some_and(|&p| p + step == argv.len());
    if !splittable {
        let owned = keys
            .iter()
            .map(|&p| (slots.shard_of_key(argv[p]), argv[p].to_vec()))
            .collect();
        return Ok(Some((owned, first)));
    }
    let head = &argv[..keys[0]];
    let mut parts: Vec<Vec<&[u8]>> = (0..r.n).map(|_| head.to_vec()).collect();
    for &p in &keys {
        let t = slots.shard_of_key(argv[p]);
        parts[t].extend_from_slice(&argv[p..p + step]);
    }
    for (t, part) in parts.into_iter().enumerate() {
        if part.len() > head.len() {
            let mut out = Vec::new();
            codec::encode_command(&mut out, &part);
            r.push(t, out, end, &f.floors);
        }
    }
    Ok(None)
}

/// Where stream `i` of `m` resumes: the master's replid and the smallest offset every replica
/// shard applied, with each shard's own offset; None unless every shard knows one, under the
/// same replid.
pub(super) async fn resume_point(
    shard: &Rc<Shard>,
    i: usize,
    m: usize,
) -> Option<(String, u64, Vec<u64>)> {
    let views = shard
        .run_on_all(move |s| s.repl_pos.borrow().resume(i, m))
        .await;
    let mut replid: Option<String> = None;
    let mut floors = Vec::with_capacity(views.len());
    for v in views {
        let (id, off) = v??;
        if replid.as_ref().is_some_and(|r| *r != id) {
            return None;
        }
        replid = Some(id);
        floors.push(off);
    }
    let min = floors.iter().copied().min()?;
    Some((replid?, min, floors))
}

pub(super) fn entry_key(shard: &Shard, payload: &[u8]) -> Result<usize, String> {
    let e = codec::decode_entry(payload, crate::persist::load::limits(shard))
        .map_err(|e| e.to_string())?;
    Ok(shard.global.slots.shard_of_key(&e.key))
}
