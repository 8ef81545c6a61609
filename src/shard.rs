//! A shard as its executor sees it: the keyspace it owns, its counters, its clients, and its
//! links to the other shards. Everything here is confined to one thread (`Rc`, `RefCell`);
//! shards share only [`Global`] (immutable settings and a few atomics) and talk through
//! messages ([`Msg`]).

use crate::client::ClientInfo;
use crate::commands::{self, CommandSpec};
use crate::config::Config;
use crate::errors::ErrorCode;
use crate::protocol::Reply;
use futures::channel::oneshot;
use glommio::channels::shared_channel::{ConnectedReceiver, ConnectedSender};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;
use synap_shard::{Keyspace, SlotMap};

/// Settings that CONFIG SET may change at runtime.
#[derive(Clone, Debug)]
pub struct Live {
    /// `maxmemory` for the whole server (0 = unlimited).
    pub maxmemory: u64,
    /// `maxclients`.
    pub maxclients: usize,
    /// Idle client timeout in seconds (0 = never).
    pub timeout: u64,
    /// `proto-max-bulk-len`.
    pub proto_max_bulk_len: usize,
    /// `client-query-buffer-limit`.
    pub client_query_buffer_limit: usize,
    /// Active expiry frequency.
    pub hz: u32,
    /// Active expiry effort (1..=10).
    pub active_expire_effort: u32,
    /// Hashes with more fields than this leave the packed encoding.
    pub hash_max_listpack_entries: usize,
    /// Hashes with a longer field or value leave the packed encoding.
    pub hash_max_listpack_value: usize,
    /// Set encoding thresholds.
    pub set_limits: synap_shard::set::SetLimits,
    /// Sorted set encoding thresholds (`zset-max-listpack-*`).
    pub zset_limits: synap_shard::zset::ZsetLimits,
    /// `list-max-listpack-size`.
    pub list_max_listpack_size: i64,
}

/// `SHUTDOWN SAVE`: take a final snapshot even without `save` rules.
pub const SHUTDOWN_SAVE: u8 = 1;
/// `SHUTDOWN NOSAVE`: no final snapshot even with `save` rules (the AOF is still flushed).
pub const SHUTDOWN_NOSAVE: u8 = 2;

/// What all shards share: immutable settings and process-wide counters.
pub struct Global {
    /// The configuration the server started with.
    pub config: Config,
    /// Runtime-changeable settings.
    pub live: RwLock<Live>,
    /// Slot → shard.
    pub slots: SlotMap,
    /// Number of shards.
    pub nshards: usize,
    /// 40 hex characters, new on every start.
    pub run_id: String,
    /// When the server started.
    pub started: Instant,
    /// Unix seconds at start.
    pub started_unix: u64,
    /// Connected RESP clients (all shards).
    pub clients: AtomicUsize,
    /// Client ids.
    pub next_client_id: AtomicU64,
    /// Order in which clients block (FIFO per key across shards).
    pub next_block_seq: AtomicU64,
    /// Set when shutdown begins.
    pub shutting_down: AtomicBool,
    /// RESP port actually bound.
    pub resp_port: u16,
    /// HTTP port actually bound.
    pub http_port: u16,
    /// Executable path (INFO).
    pub executable: String,
    /// Config file path (INFO).
    pub config_file: String,
    /// Loading progress and start-up meeting points.
    pub load: crate::persist::LoadProgress,
    /// Unix seconds of the last successful snapshot on any shard (LASTSAVE).
    pub last_save_unix: AtomicU64,
    /// How SHUTDOWN asked to stop: 0 = as configured, [`SHUTDOWN_SAVE`], [`SHUTDOWN_NOSAVE`].
    pub shutdown_save: std::sync::atomic::AtomicU8,
    /// Replication state.
    pub repl: crate::repl::ReplState,
    /// API keys (shared by every shard; revocations are seen at once).
    pub auth: crate::auth::Registry,
    /// The TLS acceptor when `server.tls.enabled` (reloaded on SIGHUP).
    pub tls: Option<crate::tls::TlsAcceptor>,
    /// Protected mode applies: `network.protected_mode` and a non-loopback bind address
    /// (clients other than 127.0.0.1 / ::1 are refused while no API key exists).
    pub protected: bool,
}

impl Global {
    /// Whether protected mode refuses a client from `peer` now.
    pub fn refuses(&self, peer: std::net::IpAddr) -> bool {
        self.protected && self.auth.is_empty() && !crate::auth::is_local(peer)
    }

    /// The current runtime settings.
    pub fn live(&self) -> Live {
        match self.live.read() {
            Ok(l) => l.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

/// Upper bounds (µs) of the command latency histogram buckets.
pub const LATENCY_BUCKETS_US: [u64; 16] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 50_000, 100_000, 1_000_000,
];

/// Per-command counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct CmdStat {
    /// Calls.
    pub calls: u64,
    /// Total execution time, µs.
    pub usec: f64,
    /// Calls rejected before running (arity, unknown, OOM…).
    pub rejected: u64,
    /// Calls that replied an error.
    pub failed: u64,
}

/// A shard's counters. Plain integers: only this shard's thread touches them.
#[derive(Clone, Debug)]
pub struct ShardStats {
    /// Indexed by command id.
    pub commands: Vec<CmdStat>,
    /// Error replies by code ([`ErrorCode::index`]).
    pub errors: [u64; ErrorCode::ALL.len()],
    /// Commands this shard forwarded to other shards.
    pub hops_out: u64,
    /// Batches this shard sent to other shards.
    pub hop_batches_out: u64,
    /// Commands other shards forwarded to this one.
    pub hops_in: u64,
    /// Connections accepted.
    pub connections_total: u64,
    /// Connections refused (maxclients).
    pub rejected_connections: u64,
    /// Bytes read from clients.
    pub net_input_bytes: u64,
    /// Bytes written to clients.
    pub net_output_bytes: u64,
    /// Latency histogram counts (bucket i counts latencies ≤ LATENCY_BUCKETS_US[i]; the last
    /// slot is +Inf).
    pub latency: [u64; LATENCY_BUCKETS_US.len() + 1],
    /// Sum of latencies, seconds.
    pub latency_sum: f64,
    /// Active expiry cycles run.
    pub expire_cycles: u64,
    /// Keys removed by the active cycle.
    pub expired_active: u64,
    /// Time spent in active expiry, µs.
    pub expire_usec: u64,
    /// Bytes appended to the AOF.
    pub aof_bytes: u64,
    /// fdatasync calls on the AOF.
    pub fsyncs: u64,
    /// fdatasync latency histogram (same buckets as commands).
    pub fsync_latency: [u64; LATENCY_BUCKETS_US.len() + 1],
    /// Sum of fdatasync latencies, seconds.
    pub fsync_latency_sum: f64,
    /// AOF segment switches (rewrites).
    pub aof_rewrites: u64,
    /// Snapshots saved.
    pub saves: u64,
    /// Unix ms of the last snapshot (0 = none since start).
    pub last_save_ms: u64,
    /// Seconds the last snapshot took.
    pub last_save_duration: f64,
    /// Bytes of the last snapshot file.
    pub last_save_bytes: u64,
    /// Replica streams this shard served from the start (full syncs).
    pub repl_full_syncs: u64,
    /// Replica streams this shard continued from its backlog (partial resyncs).
    pub repl_partial_syncs: u64,
}

impl ShardStats {
    /// Zeroed counters for `ncommands` commands.
    pub fn new(ncommands: usize) -> ShardStats {
        ShardStats {
            commands: vec![CmdStat::default(); ncommands],
            errors: [0; ErrorCode::ALL.len()],
            hops_out: 0,
            hop_batches_out: 0,
            hops_in: 0,
            connections_total: 0,
            rejected_connections: 0,
            net_input_bytes: 0,
            net_output_bytes: 0,
            latency: [0; LATENCY_BUCKETS_US.len() + 1],
            latency_sum: 0.0,
            expire_cycles: 0,
            expired_active: 0,
            expire_usec: 0,
            aof_bytes: 0,
            repl_full_syncs: 0,
            repl_partial_syncs: 0,
            fsyncs: 0,
            fsync_latency: [0; LATENCY_BUCKETS_US.len() + 1],
            fsync_latency_sum: 0.0,
            aof_rewrites: 0,
            saves: 0,
            last_save_ms: 0,
            last_save_duration: 0.0,
            last_save_bytes: 0,
        }
    }

    /// Records one fdatasync that took `d`.
    pub fn record_fsync(&mut self, d: std::time::Duration) {
        let us = d.as_secs_f64() * 1e6;
        let b = LATENCY_BUCKETS_US
            .iter()
            .position(|&ub| us <= ub as f64)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        self.fsyncs += 1;
        self.fsync_latency[b] += 1;
        self.fsync_latency_sum += d.as_secs_f64();
    }

    /// Records `n` commands that took `per_cmd_us` each.
    pub fn record_latency(&mut self, per_cmd_us: f64, n: u64) {
        let b = LATENCY_BUCKETS_US
            .iter()
            .position(|&ub| per_cmd_us <= ub as f64)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        self.latency[b] += n;
        self.latency_sum += per_cmd_us * n as f64 / 1e6;
    }
}

/// A job another shard asks this shard to run.
pub type Job = Box<dyn FnOnce(&Rc<Shard>) + Send>;

/// Commands forwarded to the shard that owns their keys, in request order.
pub struct Batch {
    /// Encode replies in RESP3.
    pub resp3: bool,
    /// All argument bytes, back to back.
    pub data: Vec<u8>,
    /// Argument (start, end) in `data`.
    pub args: Vec<(usize, usize)>,
    /// Per command: (command id, number of arguments).
    pub cmds: Vec<(u16, u32)>,
    /// Where the replies go.
    pub reply: oneshot::Sender<BatchReply>,
}

/// Replies to a [`Batch`]: encoded back to back, with each one's end offset.
pub struct BatchReply {
    /// Encoded replies.
    pub out: Vec<u8>,
    /// End offset of each reply in `out`.
    pub ends: Vec<usize>,
}

/// A message between shards.
pub enum Msg {
    /// Forwarded commands.
    Batch(Batch),
    /// Run this closure on the receiving shard.
    Job(Job),
}

/// What a shard-local handler sees.
pub struct ShardCtx<'a> {
    /// The keyspace.
    pub ks: &'a mut Keyspace,
    /// Now, Unix ms (one reading per batch; 0 while replaying the AOF: expiry suspended).
    pub now: u64,
    /// The shard.
    pub shard: &'a Shard,
    /// The handler journaled its change itself (the command is not journaled verbatim).
    pub journaled: bool,
}

impl<'a> ShardCtx<'a> {
    /// A context for a handler run on `shard`.
    pub fn new(ks: &'a mut Keyspace, now: u64, shard: &'a Shard) -> ShardCtx<'a> {
        ShardCtx {
            ks,
            now,
            shard,
            journaled: false,
        }
    }

    /// Journals `argv` in place of the command (for commands whose replay must differ:
    /// random choices, relative times).
    pub fn journal_command<A: AsRef<[u8]>>(&mut self, argv: &[A]) {
        self.journaled = true;
        self.shard.journal_expired(self.ks);
        self.shard.journal.borrow_mut().command(argv);
    }

    /// Journals the state `key` is left in: its whole value with its absolute expiry, or a
    /// DEL when it is gone (for strings written with a relative expiry).
    pub fn journal_key(&mut self, key: &[u8]) {
        self.journaled = true;
        self.shard.journal_expired(self.ks);
        let mut j = self.shard.journal.borrow_mut();
        if !j.on() {
            return;
        }
        match self.ks.peek(key, self.now) {
            Some(e) => j.entry(key, e.expire_at(), &e.value),
            None => j.command(&[&b"DEL"[..], key]),
        }
    }

    /// Journals the expiry `key` is left with: PEXPIREAT, PERSIST, or DEL when it is gone.
    pub fn journal_expiry(&mut self, key: &[u8]) {
        self.journaled = true;
        self.shard.journal_expired(self.ks);
        let mut j = self.shard.journal.borrow_mut();
        if !j.on() {
            return;
        }
        match self.ks.peek(key, self.now).map(|e| e.expire_at()) {
            Some(0) => j.command(&[&b"PERSIST"[..], key]),
            Some(at) => j.command(&[&b"PEXPIREAT"[..], key, at.to_string().as_bytes()]),
            None => j.command(&[&b"DEL"[..], key]),
        }
    }
}

/// One shard, as seen from its own thread.
pub struct Shard {
    /// Shard index.
    pub id: usize,
    /// Shared settings and counters.
    pub global: Arc<Global>,
    /// The keyspace this shard owns.
    pub ks: RefCell<Keyspace>,
    /// Counters.
    pub stats: RefCell<ShardStats>,
    /// Clients connected to this shard, by id.
    pub clients: RefCell<BTreeMap<u64, Rc<RefCell<ClientInfo>>>>,
    /// Connections currently open on this shard.
    pub connections: Cell<usize>,
    /// Per-shard share of maxmemory (0 = unlimited).
    pub maxmemory: Cell<u64>,
    /// `proto-max-bulk-len`, cached for handlers.
    pub max_bulk_len: Cell<usize>,
    /// Senders to every shard (None for itself).
    pub peers: Vec<Option<ConnectedSender<Msg>>>,
    /// The records of this shard's changes, for the AOF.
    pub journal: RefCell<crate::persist::journal::Journal>,
    /// Replicas: the position applied in each master shard's stream.
    pub repl_pos: RefCell<crate::repl::record::Positions>,
    /// Why the AOF cannot be written (writes are refused with -MISCONF meanwhile).
    pub persist_error: RefCell<Option<String>>,
    /// Bytes in the current AOF segment.
    pub aof_size: Cell<u64>,
    /// The AOF writer has finished (or never ran).
    pub writer_done: Cell<bool>,
    /// A snapshot is being written.
    pub saving: Cell<bool>,
    /// The layout directory this shard's files live in (None = persistence unused).
    pub persist_dir: RefCell<Option<std::path::PathBuf>>,
    /// `ks.changes()` when the last snapshot started.
    pub changes_at_save: Cell<u64>,
    /// Commands per second over the last second (INFO `instantaneous_ops_per_sec`).
    pub ops_per_sec: Cell<f64>,
    /// Packed-encoding thresholds for hashes (`hash-max-listpack-*`).
    pub hash_limits: Cell<synap_shard::hash::HashLimits>,
    /// Compact-encoding thresholds for sets (`set-max-*`).
    pub set_limits: Cell<synap_shard::set::SetLimits>,
    /// Packed-encoding thresholds for sorted sets (`zset-max-listpack-*`).
    pub zset_limits: Cell<synap_shard::zset::ZsetLimits>,
    /// List chunk limits (`list-max-listpack-size`).
    pub list_limits: Cell<synap_shard::list::ListLimits>,
    /// Large values and flushed keyspaces waiting to be freed in slices.
    pub lazy: RefCell<synap_shard::lazyfree::LazyFree>,
    /// Clients blocked on this shard's keys, and this shard's blocked connections.
    pub blocking: RefCell<crate::blocking::Registry>,
}

impl Shard {
    /// Creates the shard state.
    pub fn new(id: usize, global: Arc<Global>, peers: Vec<Option<ConnectedSender<Msg>>>) -> Shard {
        let live = global.live();
        let n = global.nshards as u64;
        Shard {
            id,
            ks: RefCell::new(Keyspace::new()),
            stats: RefCell::new(ShardStats::new(commands::table().len())),
            clients: RefCell::new(BTreeMap::new()),
            connections: Cell::new(0),
            maxmemory: Cell::new(if live.maxmemory == 0 {
                0
            } else {
                (live.maxmemory / n).max(1)
            }),
            max_bulk_len: Cell::new(live.proto_max_bulk_len),
            peers,
            journal: RefCell::new(crate::persist::journal::Journal::new(
                global.repl.replica.clone(),
            )),
            repl_pos: RefCell::new(Default::default()),
            persist_error: RefCell::new(None),
            aof_size: Cell::new(0),
            writer_done: Cell::new(false),
            saving: Cell::new(false),
            persist_dir: RefCell::new(None),
            changes_at_save: Cell::new(0),
            ops_per_sec: Cell::new(0.0),
            hash_limits: Cell::new(synap_shard::hash::HashLimits {
                max_entries: live.hash_max_listpack_entries,
                max_value: live.hash_max_listpack_value,
            }),
            set_limits: Cell::new(live.set_limits),
            zset_limits: Cell::new(live.zset_limits),
            list_limits: Cell::new(synap_shard::list::ListLimits::from_fill(
                live.list_max_listpack_size,
            )),
            lazy: RefCell::new(Default::default()),
            blocking: RefCell::new(Default::default()),
            global,
        }
    }

    /// Runs a keyed command on this shard, writing its reply.
    #[inline]
    pub fn exec_local(
        &self,
        cmd_id: usize,
        spec: &CommandSpec,
        argv: &[&[u8]],
        now: u64,
        reply: &mut Reply<'_>,
    ) {
        let commands::Exec::Shard(f, _) = spec.exec else {
            return;
        };
        let mut ks = self.ks.borrow_mut();
        if spec.has(commands::flags::DENYOOM) {
            let max = self.maxmemory.get();
            if max != 0 && ks.used_memory() as u64 > max {
                drop(ks);
                reply.error(ErrorCode::Oom, crate::errors::OOM);
                self.count_error(cmd_id, reply);
                return;
            }
        }
        let write = spec.has(commands::flags::WRITE);
        if write && self.persist_error.borrow().is_some() {
            drop(ks);
            reply.error(ErrorCode::Misconf, crate::errors::MISCONF);
            self.count_error(cmd_id, reply);
            return;
        }
        let before = ks.changes();
        let mut ctx = ShardCtx::new(&mut ks, now, self);
        f(&mut ctx, argv, reply);
        let journaled = ctx.journaled;
        let ready = ks.has_ready();
        let changed = ks.changes() != before;
        // Keys the command found expired go first (DEL), then the command itself.
        self.journal_expired(&mut ks);
        drop(ks);
        if write && changed && !journaled {
            self.journal.borrow_mut().command(argv);
        }
        if reply.errors.is_some() {
            self.count_error(cmd_id, reply);
        }
        // Clients blocked on keys this command filled are served now, before anything else
        // runs (Redis's handleClientsBlockedOnKeys).
        if ready {
            crate::blocking::serve_ready(self);
        }
    }

    /// Journals a command this shard's data went through outside a handler (cross-shard
    /// commands run as jobs on the owning shard).
    pub fn journal_command<A: AsRef<[u8]>>(&self, argv: &[A]) {
        if let Ok(mut ks) = self.ks.try_borrow_mut() {
            self.journal_expired(&mut ks);
        }
        self.journal.borrow_mut().command(argv);
    }

    /// Journals a DEL for every key the keyspace removed because it expired since the last
    /// call (collected only while the journal is on, see [`Shard::sync_expired_log`]), so
    /// replicas and the AOF drop them at the same point of the stream as this shard did.
    #[inline]
    pub fn journal_expired(&self, ks: &mut Keyspace) {
        if let Some(keys) = ks.take_expired() {
            let mut j = self.journal.borrow_mut();
            for k in keys {
                j.command(&[&b"DEL"[..], &k[..]]);
            }
        }
    }

    /// Collects expired keys in the keyspace exactly while the journal is on (AOF or
    /// replication); called at start-up and on every expiry tick.
    pub fn sync_expired_log(&self) {
        let on = self.journal.borrow().on();
        let mut ks = self.ks.borrow_mut();
        if ks.logs_expired() != on {
            ks.log_expired(on);
        }
    }

    /// Journals the state `key` is in now on this shard: its whole value and expiry, or a DEL.
    pub fn journal_key(&self, key: &[u8]) {
        let mut ks = self.ks.borrow_mut();
        self.journal_expired(&mut ks);
        let mut j = self.journal.borrow_mut();
        if !j.on() {
            return;
        }
        match ks.peek(key, synap_shard::time::now_ms()) {
            Some(e) => j.entry(key, e.expire_at(), &e.value),
            None => j.command(&[&b"DEL"[..], key]),
        }
    }

    /// Waits until everything this shard journaled is durable (`appendfsync always`; at once
    /// otherwise).
    pub async fn durable(&self) {
        if !self.journal.borrow().must_wait() {
            return;
        }
        let (tx, rx) = oneshot::channel::<()>();
        self.journal.borrow_mut().after_durable(Box::new(move || {
            let _ = tx.send(());
        }));
        let _ = rx.await;
    }

    fn count_error(&self, cmd_id: usize, reply: &mut Reply<'_>) {
        if let Some(code) = reply.errors.take() {
            let mut st = self.stats.borrow_mut();
            st.errors[code.index()] += 1;
            if let Some(c) = st.commands.get_mut(cmd_id) {
                c.failed += 1;
            }
        }
    }

    /// Executes a batch forwarded by another shard.
    pub fn exec_batch(&self, batch: Batch) {
        let Batch {
            resp3,
            data,
            args,
            cmds,
            reply,
        } = batch;
        let now = synap_shard::time::now_ms();
        let journal_before = self.journal.borrow().end();
        let mut out = Vec::with_capacity(64 * cmds.len());
        let mut ends = Vec::with_capacity(cmds.len());
        let mut argv: Vec<&[u8]> = Vec::new();
        let mut a = 0;
        let table = commands::table();
        for &(id, argc) in &cmds {
            argv.clear();
            for &(s, e) in &args[a..a + argc as usize] {
                argv.push(&data[s..e]);
            }
            a += argc as usize;
            let mut r = Reply::new(&mut out, resp3);
            if let Some(spec) = table.get(id as usize) {
                self.exec_local(id as usize, spec, &argv, now, &mut r);
            }
            ends.push(out.len());
        }
        self.stats.borrow_mut().hops_in += cmds.len() as u64;
        // With `appendfsync always`, the replies leave once the writes are durable. The
        // requester may have gone away (connection closed); nothing to do then.
        if self.journal.borrow().end() == journal_before {
            let _ = reply.send(BatchReply { out, ends });
            return;
        }
        self.journal.borrow_mut().after_durable(Box::new(move || {
            let _ = reply.send(BatchReply { out, ends });
        }));
    }

    /// Runs `f` on shard `target` and returns its result (directly when it is this shard).
    /// None when the target shard is gone (shutdown).
    pub async fn run_on<R, F>(self: &Rc<Self>, target: usize, f: F) -> Option<R>
    where
        R: Send + 'static,
        F: FnOnce(&Rc<Shard>) -> R + Send + 'static,
    {
        if target == self.id {
            let r = f(self);
            self.journal_expired_now();
            crate::blocking::serve_ready(self);
            return Some(r);
        }
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |s: &Rc<Shard>| {
            let r = f(s);
            s.journal_expired_now();
            // A job that wrote answers once its writes are durable (`appendfsync always`).
            s.journal.borrow_mut().after_durable(Box::new(move || {
                let _ = tx.send(r);
            }));
        });
        let sender = self.peers.get(target)?.as_ref()?;
        if sender.send(Msg::Job(job)).await.is_err() {
            return None;
        }
        rx.await.ok()
    }

    /// [`Shard::journal_expired`] when the keyspace is not borrowed (after a job).
    fn journal_expired_now(&self) {
        if let Ok(mut ks) = self.ks.try_borrow_mut() {
            self.journal_expired(&mut ks);
        }
    }

    /// Runs `f` on every shard concurrently; results in shard order.
    pub async fn run_on_all<R, F>(self: &Rc<Self>, f: F) -> Vec<Option<R>>
    where
        R: Send + 'static,
        F: Fn(&Rc<Shard>) -> R + Send + Sync + Clone + 'static,
    {
        let futs = (0..self.global.nshards).map(|i| {
            let f = f.clone();
            self.run_on(i, f)
        });
        futures::future::join_all(futs).await
    }

    /// Serves messages from one peer until it disconnects.
    pub async fn serve_peer(self: Rc<Self>, rx: ConnectedReceiver<Msg>) {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Batch(b) => self.exec_batch(b),
                Msg::Job(job) => {
                    job(&self);
                    crate::blocking::serve_ready(&self);
                }
            }
        }
    }

    /// Frees queued garbage (UNLINK of large values, big flushes) 10,000 elements at a time,
    /// giving the shard back to requests between slices.
    pub async fn lazy_free(self: Rc<Self>) {
        loop {
            if self.lazy.borrow().is_empty() {
                glommio::timer::sleep(std::time::Duration::from_millis(50)).await;
                if self.global.shutting_down.load(Ordering::Relaxed) {
                    return;
                }
                continue;
            }
            self.lazy.borrow_mut().step(10_000);
            glommio::executor().yield_now().await;
        }
    }

    /// Samples the command counter every 100 ms and keeps the rate over the last second.
    pub async fn sample_rates(self: Rc<Self>) {
        const SLOTS: usize = 10;
        let mut ring = [(Instant::now(), 0u64); SLOTS];
        let mut i = 0;
        loop {
            glommio::timer::sleep(std::time::Duration::from_millis(100)).await;
            if self.global.shutting_down.load(Ordering::Relaxed) {
                return;
            }
            let calls: u64 = self.stats.borrow().commands.iter().map(|c| c.calls).sum();
            let now = Instant::now();
            i = (i + 1) % SLOTS;
            let (then, before) = std::mem::replace(&mut ring[i], (now, calls));
            let secs = now.duration_since(then).as_secs_f64();
            if secs > 0.0 && calls >= before {
                self.ops_per_sec.set((calls - before) as f64 / secs);
            }
        }
    }

    /// The active expiry cycle: every 1/hz seconds, remove expired keys for at most a slice of
    /// the tick (25% × effort/10 of the period, like Redis's ACTIVE_EXPIRE_CYCLE_SLOW), in
    /// steps small enough to check the clock often.
    pub async fn expire_cycle(self: Rc<Self>) {
        loop {
            let live = self.global.live();
            let period_ms = (1000 / live.hz.max(1)) as u64;
            glommio::timer::sleep(std::time::Duration::from_millis(period_ms)).await;
            if self.global.shutting_down.load(Ordering::Relaxed) {
                return;
            }
            self.sync_expired_log();
            // A replica does not expire keys on its own: the master's DELs remove them (reads
            // already hide logically expired keys).
            let replica = self.global.repl.is_replica();
            let budget_us =
                period_ms * 1000 * 25 / 100 * live.active_expire_effort.clamp(1, 10) as u64 / 10;
            let start = Instant::now();
            let now = synap_shard::time::now_ms();
            // Every cycle walks at least enough entries to cover the keyspace in ~10 s, then
            // continues while at least 10% of what it checks is expired and budget remains.
            let len = self.ks.borrow().len();
            let mut must = (len / (live.hz.max(1) as usize * 10)).max(512);
            let mut expired = 0;
            loop {
                if replica {
                    break;
                }
                let (checked, n) = {
                    let mut ks = self.ks.borrow_mut();
                    let r = ks.active_expire_step(now, 512);
                    self.journal_expired(&mut ks);
                    r
                };
                expired += n;
                must = must.saturating_sub(checked);
                if checked == 0 || start.elapsed().as_micros() as u64 >= budget_us {
                    break;
                }
                if must == 0 && n * 10 < checked {
                    break;
                }
            }
            let mut st = self.stats.borrow_mut();
            st.expire_cycles += 1;
            st.expired_active += expired as u64;
            st.expire_usec += start.elapsed().as_micros() as u64;
        }
    }
}
