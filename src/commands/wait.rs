//! WAIT numreplicas timeout: how many replicas have acknowledged the writes made before the
//! call. Every master shard streams its own journal, so a replica counts once each of its
//! streams has acknowledged that shard's journal end as it was when WAIT started (this covers
//! the client's own writes, and possibly others' made just before: never an over-count).
//! Replicas acknowledge every second, so a WAIT that must wait returns within about a second.

use super::flags::*;
use super::{spec, CommandSpec, Exec, Global};
use crate::connection::ConnState;
use crate::errors::ErrorCode;
use crate::protocol::Reply;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[rustfmt::skip]
pub(crate) fn register(t: &mut Vec<CommandSpec>) {
    t.push(spec("wait", 3, NOSCRIPT, (0, 0, 0), &["slow", "connection"], "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", Exec::Global(Global::Wait)));
}

/// Replicas whose every stream has acknowledged `targets[shard]`.
fn acknowledged(g: &crate::shard::Global, targets: &[u64]) -> i64 {
    let peers = crate::repl::lock(&g.repl.peers);
    let mut per_replica: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for ((id, shard), p) in peers.iter() {
        let v = per_replica
            .entry(id.as_str())
            .or_insert_with(|| vec![0; targets.len()]);
        if let Some(slot) = v.get_mut(*shard) {
            *slot = p.ack;
        }
    }
    per_replica
        .values()
        .filter(|acks| acks.iter().zip(targets).all(|(a, t)| a >= t))
        .count() as i64
}

/// WAIT numreplicas timeout(ms; 0 = forever).
pub(crate) async fn wait(c: &mut ConnState, argv: &[&[u8]], r: &mut Reply<'_>) {
    let g = c.shard.global.clone();
    if g.repl.is_replica() {
        return r.error(
            ErrorCode::Err,
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        );
    }
    let Some(want) = synap_shard::strings::parse_i64(argv[1]) else {
        return r.error(ErrorCode::Err, crate::errors::NOT_INTEGER);
    };
    let timeout = match synap_shard::strings::parse_i64(argv[2]) {
        Some(t) if t < 0 => return r.error(ErrorCode::Err, "ERR timeout is negative"),
        Some(t) => t as u64,
        None => {
            return r.error(
                ErrorCode::Err,
                "ERR timeout is not an integer or out of range",
            )
        }
    };
    let targets: Vec<u64> = c
        .shard
        .run_on_all(|s| s.journal.borrow().offset)
        .await
        .into_iter()
        .map(|o| o.unwrap_or(0))
        .collect();
    let started = Instant::now();
    loop {
        let n = acknowledged(&g, &targets);
        let expired = timeout > 0 && started.elapsed() >= Duration::from_millis(timeout);
        if n >= want || expired || g.shutting_down.load(std::sync::atomic::Ordering::Relaxed) {
            return r.int(n);
        }
        glommio::timer::sleep(Duration::from_millis(5)).await;
    }
}
