//! Replication: one stream per master shard (see docs/ARCHITECTURE.md, "Replication").
//!
//! - [`backlog`]: a master shard's ring of recent journal bytes (partial resync).
//! - [`master`]: the listener on `replication.listen_port` and the per-replica senders.
//! - [`replica`]: following a master: one stream task per master shard, records routed by slot.
//! - [`route`]: a replica routing records to the shards owning their keys, in batches.
//! - [`record`]: what a replica journals per applied batch, and its stream positions.
//! - [`across`]: a replicated command whose keys span replica shards.
//! - [`view`]: per-shard state for `/health/replication` and `/metrics`.
//!
//! Wire protocol (after TCP connect, one line from the replica, one line back):
//! - `INFO <api-key|->\n` → `+<replid> <shards>\n` (or `-ERR …\n`): the master's replication id
//!   and shard count.
//! - `SYNC <shard> <replica-id> <replid|?> <offset> <resp-port> <api-key|-> [<reached>]\n` →
//!   `+CONTINUE <replid> <offset> <shards>\n` followed by the shard's journal records from
//!   `offset` (when `replid` is the master's, or the replid it followed before its promotion,
//!   and `reached` — the furthest offset the replica applied on any of its shards, `offset` by
//!   default — is at most where that stream is, or ended, and the backlog holds `offset`), or
//!   `+FULLRESYNC <replid> <offset> <shards>\n` followed by the shard's snapshot (entry
//!   records), an end record (`0xff`), then the journal records from `offset`.
//!   Records are framed as in the AOF (`u32 len, u32 crc32c, payload`); a frame with payload
//!   `0xfe, varint offset` is a heartbeat carrying the master shard's offset (not counted in
//!   offsets; sent when idle, and once a second while busy). The replica writes
//!   `ACK <offset>\n` every second.
//!
//! Security: when the master's `server.tls.enabled` is true the replication port speaks TLS
//! only (same certificate, same SIGHUP reload). Once the master has API keys, `<api-key>` must
//! be a current key with the `admin` role, otherwise the master answers
//! `-NOAUTH Authentication required.` (no key sent) or `-WRONGPASS …` (unknown or revoked key)
//! or `-NOPERM …` (not admin) and closes; a running stream whose key is revoked is closed (the
//! replica's reconnect is then refused). Protected mode applies as on the RESP port.

pub mod across;
pub mod backlog;
pub mod master;
pub mod record;
pub mod replica;
pub mod route;
pub mod view;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Payload of a heartbeat frame.
pub const TAG_PING: u8 = 0xfe;
/// Payload tag of the record ending a full-sync snapshot.
pub const TAG_END: u8 = crate::persist::snapshot::TAG_END;

/// A replica stream as the master sees it.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The replica's address.
    pub ip: String,
    /// The replica's RESP port.
    pub port: u16,
    /// The offset the replica acknowledged.
    pub ack: u64,
    /// When it last acknowledged.
    pub last_ack: Instant,
    /// The master shard's journal end when last seen by the sender.
    pub sent: u64,
}

/// A master shard's stream as the replica sees it.
#[derive(Debug, Clone, Default)]
pub struct Link {
    /// Offset applied so far.
    pub offset: u64,
    /// The stream is up (synced and streaming).
    pub up: bool,
    /// Full syncs done.
    pub full_syncs: u64,
    /// Partial resyncs done.
    pub partial_syncs: u64,
    /// The master shard's offset, from its last heartbeat.
    pub master_offset: u64,
    /// When the master last sent something.
    pub last_io: Option<Instant>,
}

/// Process-wide replication state (in [`crate::shard::Global`]).
#[derive(Debug)]
pub struct ReplState {
    /// Acting as a replica (shared with every shard's journal: a replica journals only what
    /// it applies from its master).
    pub replica: Arc<AtomicBool>,
    /// Bumped by REPLICAOF: replica tasks of an older generation stop.
    pub generation: AtomicU64,
    /// Replication id served to replicas (new on start and on promotion).
    pub replid: Mutex<String>,
    /// The master being followed (replicas).
    pub master: Mutex<Option<(String, u16)>>,
    /// The master's replication id (replicas).
    pub master_replid: Mutex<String>,
    /// Per master shard (replicas).
    pub links: Mutex<Vec<Link>>,
    /// Connected replica streams by (replica id, master shard) (masters).
    pub peers: Mutex<BTreeMap<(String, usize), Peer>>,
    /// After a promotion: the old master's replication id and, per shard, the offset up to
    /// which this server's stream is that master's (Redis's replid2 / second_repl_offset).
    pub replid2: Mutex<Option<(String, Vec<u64>)>>,
    /// Streams served from the start (full syncs), as Redis's `sync_full`.
    pub sync_full: AtomicU64,
    /// Streams continued from the backlog, as Redis's `sync_partial_ok`.
    pub sync_partial_ok: AtomicU64,
    /// Continuations refused (a full sync instead), as Redis's `sync_partial_err`.
    pub sync_partial_err: AtomicU64,
}

/// Locks a mutex even if a panicking thread poisoned it.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl ReplState {
    /// Initial state: a replica of `master` when given.
    pub fn new(replid: String, master: Option<(String, u16)>) -> ReplState {
        ReplState {
            replica: Arc::new(AtomicBool::new(master.is_some())),
            generation: AtomicU64::new(0),
            replid: Mutex::new(replid),
            master: Mutex::new(master),
            master_replid: Mutex::new(String::new()),
            links: Mutex::new(Vec::new()),
            peers: Mutex::new(BTreeMap::new()),
            replid2: Mutex::new(None),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
        }
    }

    /// Whether this server is a replica.
    pub fn is_replica(&self) -> bool {
        self.replica.load(Ordering::Relaxed)
    }

    /// The replication id.
    pub fn replid(&self) -> String {
        lock(&self.replid).clone()
    }

    /// Whether every master shard's link is up (replicas; false before the first sync).
    pub fn link_up(&self) -> bool {
        let l = lock(&self.links);
        !l.is_empty() && l.iter().all(|x| x.up)
    }
}

/// After a promotion from following `old` (with `m` master shards): forgets the stream
/// positions (in memory and in the AOF), and when this server's
/// shards each carried exactly the old master's shard of the same index (same shard count,
/// every stream under `old`), its streams continue the old master's, so the old master's
/// other replicas may continue from them (`replid2`, up to each shard's fed offset).
pub async fn promoted(shard: std::rc::Rc<crate::shard::Shard>, old: String, m: usize) {
    let want = old.clone();
    let views = shard
        .run_on_all(move |s| {
            let old = &want;
            let same = s
                .repl_pos
                .borrow()
                .resume(s.id, m)
                .is_some_and(|(id, _)| id == *old);
            // Its data now moves on from the old master's: it must never resume those streams
            // (after a restart as a replica of it, say). The AOF learns it too.
            let pos = std::mem::take(&mut *s.repl_pos.borrow_mut());
            let mut j = s.journal.borrow_mut();
            for i in 0..pos.m {
                j.applied(
                    &record::header(i, pos.m, record::RESET, "", 0).into_bytes(),
                    None,
                );
            }
            (same, j.fed_end)
        })
        .await;
    let g = &shard.global;
    let ok = m == g.nshards && !old.is_empty() && views.iter().all(|v| v.is_some_and(|v| v.0));
    if !ok || g.repl.is_replica() {
        tracing::info!("promoted: replicas of the old master will need a full sync");
        return;
    }
    let upto: Vec<u64> = views.into_iter().flatten().map(|v| v.1).collect();
    tracing::info!(replid2 = %old, ?upto, "promoted: the old master's replicas can continue");
    *lock(&g.repl.replid2) = Some((old, upto));
}

/// Why a replication request is refused (the `-…` line sent back), or the hash of the key it
/// authenticated with (`None` while no key exists).
pub fn authorize(auth: &crate::auth::Registry, key: &str) -> Result<Option<[u8; 32]>, String> {
    if auth.is_empty() {
        return Ok(None);
    }
    if key == "-" || key.is_empty() {
        return Err("-NOAUTH Authentication required.".into());
    }
    match auth.check(key.as_bytes()) {
        None => Err("-WRONGPASS invalid username-password pair or user is disabled.".into()),
        Some(crate::auth::Role::Admin) => Ok(Some(crate::auth::store::hash(key.as_bytes()))),
        Some(_) => Err("-NOPERM replication needs an API key with the admin role".into()),
    }
}

/// Whether the key a stream authenticated with (`hash`) is still a current admin key.
pub fn still_authorized(auth: &crate::auth::Registry, hash: Option<&[u8; 32]>) -> bool {
    match hash {
        None => auth.is_empty(),
        Some(h) => auth
            .current(h)
            .is_some_and(|g| g.role == crate::auth::Role::Admin),
    }
}

/// A new random 40-hex-character id.
pub fn new_id() -> String {
    (0..40)
        .map(|_| format!("{:x}", rand::random::<u8>() % 16))
        .collect()
}

/// Frames a heartbeat carrying the master shard's offset.
pub fn ping_frame(offset: u64) -> Vec<u8> {
    let mut v = Vec::new();
    synap_shard::codec::frame(&mut v, |o| {
        o.push(TAG_PING);
        synap_shard::codec::put_varint(o, offset);
    });
    v
}

/// Runs `fut`, giving up after `d`.
pub async fn with_timeout<T>(
    d: std::time::Duration,
    fut: impl std::future::Future<Output = T>,
) -> Option<T> {
    let sleep = glommio::timer::sleep(d);
    match futures::future::select(Box::pin(fut), Box::pin(sleep)).await {
        futures::future::Either::Left((v, _)) => Some(v),
        futures::future::Either::Right(_) => None,
    }
}

/// This server's replication role, as ROLE reports it.
pub enum Role {
    /// A master: its offset (summed over shards) and each replica's (ip, port, acknowledged
    /// offset summed over its streams).
    Master {
        /// Offset.
        offset: u64,
        /// Replicas.
        replicas: Vec<(String, u16, u64)>,
    },
    /// A replica: the master followed, whether every link is up, the offset applied.
    Replica {
        /// Master host.
        host: String,
        /// Master replication port.
        port: u16,
        /// Every stream is up.
        up: bool,
        /// Offset applied, summed over the master's shards.
        offset: u64,
    },
}

/// The role; `offsets` are this server's shard journal ends.
pub fn role(g: &crate::shard::Global, offsets: &[u64]) -> Role {
    let r = &g.repl;
    if r.is_replica() {
        let (host, port) = lock(&r.master).clone().unwrap_or_default();
        Role::Replica {
            host,
            port,
            up: r.link_up(),
            offset: lock(&r.links).iter().map(|l| l.offset).sum(),
        }
    } else {
        Role::Master {
            offset: offsets.iter().sum(),
            replicas: replicas(g, offsets)
                .into_iter()
                .map(|v| (v.ip, v.port, v.ack))
                .collect(),
        }
    }
}

/// INFO `replication` section. `offsets` are this server's shard journal ends.
pub fn info_section(g: &crate::shard::Global, offsets: &[u64]) -> String {
    use std::fmt::Write;
    let r = &g.repl;
    let mut o = String::from("# Replication\r\n");
    // A replica shows the replication id of the stream it follows, as Redis's do.
    let replid = match lock(&r.master_replid).clone() {
        id if r.is_replica() && !id.is_empty() => id,
        _ => r.replid(),
    };
    if r.is_replica() {
        let (host, port) = lock(&r.master).clone().unwrap_or_default();
        let links = lock(&r.links).clone();
        let off: u64 = links.iter().map(|l| l.offset).sum();
        let _ = write!(
            o,
            "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:{}\r\nmaster_sync_in_progress:{}\r\nslave_repl_offset:{off}\r\nslave_read_only:{}\r\nconnected_slaves:0\r\nmaster_shards:{}\r\nfull_syncs:{}\r\npartial_syncs:{}\r\n",
            if r.link_up() { "up" } else { "down" },
            u8::from(!r.link_up()),
            u8::from(g.config.replication.replica_read_only),
            links.len(),
            links.iter().map(|l| l.full_syncs).sum::<u64>(),
            links.iter().map(|l| l.partial_syncs).sum::<u64>(),
        );
        for (i, l) in links.iter().enumerate() {
            let _ = write!(
                o,
                "master_shard{i}:offset={},link={}\r\n",
                l.offset,
                if l.up { "up" } else { "down" }
            );
        }
    } else {
        o.push_str("role:master\r\n");
        let by_replica = replicas(g, offsets);
        let _ = write!(o, "connected_slaves:{}\r\n", by_replica.len());
        for (n, rep) in by_replica.iter().enumerate() {
            let _ = write!(
                o,
                "slave{n}:ip={},port={},state=online,offset={},lag={}\r\n",
                rep.ip, rep.port, rep.ack, rep.lag_secs
            );
        }
        let _ = write!(o, "master_failover_state:no-failover\r\n");
    }
    let total: u64 = if r.is_replica() {
        lock(&r.links).iter().map(|l| l.offset).sum()
    } else {
        offsets.iter().sum()
    };
    let (replid2, second) = match lock(&r.replid2).as_ref() {
        Some((id, upto)) => (id.clone(), (upto.iter().sum::<u64>() + 1) as i64),
        None => ("0".repeat(40), -1),
    };
    let _ = write!(
        o,
        "master_replid:{replid}\r\nmaster_replid2:{replid2}\r\nmaster_repl_offset:{total}\r\nsecond_repl_offset:{second}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\n",
        u8::from(g.config.replication.enabled && !r.is_replica()),
        g.config.replication.backlog_size.0
    );
    o
}

/// A replica as INFO shows it (its streams summed).
#[derive(Debug, Clone)]
pub struct ReplicaView {
    /// Address.
    pub ip: String,
    /// RESP port.
    pub port: u16,
    /// Acknowledged offsets, summed over shards.
    pub ack: u64,
    /// Seconds since the oldest acknowledgement among its streams.
    pub lag_secs: u64,
    /// Per master shard: (shard, acknowledged offset, bytes behind).
    pub shards: Vec<(usize, u64, u64)>,
}

/// Connected replicas, grouped by replica id.
pub fn replicas(g: &crate::shard::Global, offsets: &[u64]) -> Vec<ReplicaView> {
    let peers = lock(&g.repl.peers);
    let mut out: Vec<(String, ReplicaView)> = Vec::new();
    for ((id, shard), p) in peers.iter() {
        let end = offsets.get(*shard).copied().unwrap_or(0);
        let lag = p.last_ack.elapsed().as_secs();
        let behind = end.saturating_sub(p.ack);
        match out.iter_mut().find(|(i, _)| i == id) {
            Some((_, v)) => {
                v.ack += p.ack;
                v.lag_secs = v.lag_secs.max(lag);
                v.shards.push((*shard, p.ack, behind));
            }
            None => out.push((
                id.clone(),
                ReplicaView {
                    ip: p.ip.clone(),
                    port: p.port,
                    ack: p.ack,
                    lag_secs: lag,
                    shards: vec![(*shard, p.ack, behind)],
                },
            )),
        }
    }
    out.into_iter().map(|(_, v)| v).collect()
}
