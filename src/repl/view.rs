//! Replication state per shard, as `GET /health/replication` and `/metrics` show it.
//!
//! On a master, per shard: its stream offset, the syncs it served, and per replica stream
//! the acknowledged offset and how far behind it is in bytes, records (counted in the
//! backlog) and milliseconds (the age of the oldest unacknowledged record). On a replica, per
//! master shard: the applied offset, the master's offset from its last heartbeat, the link
//! state and the syncs done.

use super::lock;
use crate::shard::Shard;
use serde_json::{json, Value};
use std::rc::Rc;

/// One replica stream as its master shard sees it.
#[derive(Debug, Clone)]
pub struct PeerLag {
    /// The replica's id.
    pub id: String,
    /// `ip:port` (its RESP port).
    pub addr: String,
    /// Offset acknowledged.
    pub ack: u64,
    /// Bytes journaled after it.
    pub lag_bytes: u64,
    /// Records journaled after it (None when it fell out of the backlog).
    pub lag_records: Option<u64>,
    /// Age of the oldest record not acknowledged, ms.
    pub lag_ms: u64,
    /// Since the last acknowledgement, ms.
    pub last_ack_ms: u64,
}

/// A master shard's replication state.
#[derive(Debug, Clone)]
pub struct ShardRepl {
    /// Shard.
    pub shard: usize,
    /// Its stream offset.
    pub offset: u64,
    /// First offset its backlog holds.
    pub backlog_first: u64,
    /// Streams it served from the start.
    pub full_syncs: u64,
    /// Streams it continued from its backlog.
    pub partial_syncs: u64,
    /// Connected replica streams.
    pub replicas: Vec<PeerLag>,
}

/// Every shard's state (masters; replicas report their own shards' offsets too).
pub async fn shards(shard: &Rc<Shard>) -> Vec<ShardRepl> {
    shard
        .run_on_all(|s| {
            let j = s.journal.borrow();
            let st = s.stats.borrow();
            let replicas = lock(&s.global.repl.peers)
                .iter()
                .filter(|((_, sh), _)| *sh == s.id)
                .map(|((id, _), p)| PeerLag {
                    id: id.clone(),
                    addr: format!("{}:{}", p.ip, p.port),
                    ack: p.ack,
                    lag_bytes: j.offset.saturating_sub(p.ack),
                    lag_records: j.backlog.records_from(p.ack),
                    lag_ms: j.backlog.age(p.ack).as_millis() as u64,
                    last_ack_ms: p.last_ack.elapsed().as_millis() as u64,
                })
                .collect();
            ShardRepl {
                shard: s.id,
                offset: j.offset,
                backlog_first: j.backlog.start(),
                full_syncs: st.repl_full_syncs,
                partial_syncs: st.repl_partial_syncs,
                replicas,
            }
        })
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// A master shard's stream as this replica follows it.
#[derive(Debug, Clone)]
pub struct LinkView {
    /// Master shard.
    pub shard: usize,
    /// Offset applied.
    pub offset: u64,
    /// The master shard's offset (last heartbeat).
    pub master_offset: u64,
    /// Synced and streaming.
    pub up: bool,
    /// Full syncs.
    pub full_syncs: u64,
    /// Partial resyncs.
    pub partial_syncs: u64,
    /// Since the master last sent something, ms (None before the first sync).
    pub last_io_ms: Option<u64>,
}

impl LinkView {
    /// Bytes behind the master shard.
    pub fn lag_bytes(&self) -> u64 {
        self.master_offset.saturating_sub(self.offset)
    }
}

/// The links of a replica (empty on a master).
pub fn links(g: &crate::shard::Global) -> Vec<LinkView> {
    if !g.repl.is_replica() {
        return Vec::new();
    }
    lock(&g.repl.links)
        .iter()
        .enumerate()
        .map(|(i, l)| LinkView {
            shard: i,
            offset: l.offset,
            master_offset: l.master_offset.max(l.offset),
            up: l.up,
            full_syncs: l.full_syncs,
            partial_syncs: l.partial_syncs,
            last_io_ms: l.last_io.map(|t| t.elapsed().as_millis() as u64),
        })
        .collect()
}

fn up(b: bool) -> &'static str {
    if b {
        "up"
    } else {
        "down"
    }
}

/// `GET /health/replication`: (HTTP status, body). 503 on a replica whose link is down.
pub fn health(g: &crate::shard::Global, shards: &[ShardRepl]) -> (u16, Value) {
    let r = &g.repl;
    if r.is_replica() {
        let link_up = r.link_up();
        let (host, port) = lock(&r.master).clone().unwrap_or_default();
        let links: Vec<_> = links(g)
            .iter()
            .map(|l| {
                json!({"master_shard": l.shard, "offset": l.offset, "master_offset": l.master_offset,
                       "lag_bytes": l.lag_bytes(), "link": up(l.up), "full_syncs": l.full_syncs,
                       "partial_syncs": l.partial_syncs, "last_io_ms": l.last_io_ms})
            })
            .collect();
        return (
            if link_up { 200 } else { 503 },
            json!({"status": if link_up {"healthy"} else {"unhealthy"}, "role": "replica",
                   "master_host": host, "master_port": port,
                   "master_link_status": up(link_up), "shards": links}),
        );
    }
    let offsets: Vec<u64> = shards.iter().map(|s| s.offset).collect();
    let reps: Vec<_> = super::replicas(g, &offsets)
        .into_iter()
        .map(|v| json!({"ip": v.ip, "port": v.port, "offset": v.ack, "lag_seconds": v.lag_secs}))
        .collect();
    let per_shard: Vec<_> = shards
        .iter()
        .map(|s| {
            let streams: Vec<_> = s
                .replicas
                .iter()
                .map(|p| {
                    json!({"replica": p.id, "addr": p.addr, "offset": p.ack, "lag_bytes": p.lag_bytes,
                           "lag_records": p.lag_records, "lag_ms": p.lag_ms, "last_ack_ms": p.last_ack_ms})
                })
                .collect();
            json!({"shard": s.shard, "offset": s.offset, "backlog_first_offset": s.backlog_first,
                   "full_syncs": s.full_syncs, "partial_syncs": s.partial_syncs, "replicas": streams})
        })
        .collect();
    (
        200,
        json!({"status": "healthy", "role": "master",
               "replication_enabled": g.config.replication.enabled,
               "connected_replicas": reps.len(), "offsets": offsets, "replicas": reps,
               "shards": per_shard}),
    )
}
