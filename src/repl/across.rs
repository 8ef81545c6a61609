//! A replicated command whose keys were on one master shard but are on several replica shards
//! (the shard counts differ): RENAME, SMOVE, LMOVE, RPOPLPUSH, SINTERSTORE, …
//!
//! The keys' entries move to the first key's replica shard, the command runs there on exactly
//! the state the master ran it on, then every key's resulting state goes back to its owner as
//! an entry (or a DEL), applied and journaled with the stream position like any batch.
//!
//! Limit: a replica killed while the owners journal their parts may find, on restart, some
//! owners past the command and some before it; the command is then run again on what the
//! latter hold (the former's keys already changed). Only replicas with persistence and another
//! shard count than their master's are exposed, and only for such commands.

use super::record;
use crate::shard::Shard;
use std::rc::Rc;
use synap_shard::{codec, Entry};

/// The command's keys with their replica shards (in argument order).
pub type Keys = Vec<(usize, Vec<u8>)>;

/// Applies `payload` (a command record ending at stream offset `end` of master shard `i` of
/// `m`) whose `keys` span replica shards, running it on `first`.
pub async fn apply(
    shard: &Rc<Shard>,
    stream: (usize, usize),
    payload: Vec<u8>,
    keys: Keys,
    first: usize,
    end: u64,
) {
    let (i, m) = stream;
    // 1. Bring the other shards' entries to `first` (removed from their owners meanwhile).
    let mut owners: Vec<usize> = keys.iter().map(|(t, _)| *t).collect();
    owners.sort_unstable();
    owners.dedup();
    let mut moved: Vec<(Vec<u8>, Entry)> = Vec::new();
    for &t in owners.iter().filter(|&&t| t != first) {
        let mine: Vec<Vec<u8>> = keys
            .iter()
            .filter(|(o, _)| *o == t)
            .map(|(_, k)| k.clone())
            .collect();
        let got = shard
            .run_on(t, move |s| {
                let mut ks = s.ks.borrow_mut();
                mine.into_iter()
                    .filter_map(|k| ks.remove(&k, 0).map(|e| (k, e)))
                    .collect::<Vec<_>>()
            })
            .await;
        moved.extend(got.unwrap_or_default());
    }
    // 2. Run the command on `first`; take every key's resulting state, per owner.
    let n = shard.global.nshards;
    let keys2 = keys.clone();
    let parts = shard
        .run_on(first, move |s| {
            {
                let mut ks = s.ks.borrow_mut();
                for (k, e) in moved {
                    let (v, at) = e.into_parts();
                    ks.insert(&k, v, at, 0);
                }
            }
            if let Err(e) = crate::persist::load::apply(s, &payload) {
                tracing::warn!(shard = s.id, "replicated record not applied: {e}");
            }
            let mut parts: Vec<Vec<Vec<u8>>> = (0..n).map(|_| Vec::new()).collect();
            let mut ks = s.ks.borrow_mut();
            let mut seen: Vec<&[u8]> = Vec::new();
            for (t, k) in &keys2 {
                if seen.contains(&&k[..]) {
                    continue;
                }
                seen.push(k);
                let mut out = Vec::new();
                let removed;
                let state = if *t == first {
                    ks.peek(k, 0)
                } else {
                    removed = ks.remove(k, 0);
                    removed.as_ref()
                };
                match state {
                    Some(e) => codec::encode_entry(&mut out, k, e),
                    None => codec::encode_command(&mut out, &[&b"DEL"[..], k]),
                }
                if let Some(p) = parts.get_mut(*t) {
                    p.push(out);
                }
            }
            parts
        })
        .await
        .unwrap_or_default();
    // 3. Each owner applies and journals its keys' states with the position.
    let futs = parts
        .into_iter()
        .enumerate()
        .filter(|(_, recs)| !recs.is_empty())
        .map(|(t, recs)| {
            let mut b = record::header(i, m, record::END, "", end);
            for r in &recs {
                b.push(r);
            }
            let p = b.into_bytes();
            shard.run_on(t, move |s| {
                let gen = s
                    .global
                    .repl
                    .generation
                    .load(std::sync::atomic::Ordering::SeqCst);
                record::apply_live(s, gen, &p, None);
            })
        });
    futures::future::join_all(futs).await;
}
