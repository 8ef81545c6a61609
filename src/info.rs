//! INFO: a snapshot of every shard, rendered in Redis's `INFO` format (so tools that parse
//! Redis's INFO work), plus a `shards` section with one line per shard.

use crate::commands;
use crate::errors::ErrorCode;
use crate::shard::{Global, Shard, ShardStats};
use std::fmt::Write;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use synap_shard::keyspace::KeyspaceStats;

/// The Redis version Synap is command-compatible with (reported as `redis_version`).
pub const REDIS_COMPAT_VERSION: &str = "7.2.0";

/// One shard's state at a moment.
#[derive(Clone, Debug)]
pub struct ShardSnapshot {
    /// Shard index.
    pub id: usize,
    /// Keys.
    pub keys: usize,
    /// Keys with an expiry.
    pub volatile: usize,
    /// Estimated bytes used by the keyspace.
    pub used_memory: usize,
    /// Hits, misses, expired.
    pub ks: KeyspaceStats,
    /// Counters.
    pub stats: ShardStats,
    /// Open connections.
    pub connections: usize,
    /// Commands per second over the last second.
    pub ops_per_sec: f64,
    /// Clients of this shard blocked in BLPOP & co.
    pub blocked_clients: usize,
    /// ... of which with a timeout.
    pub blocked_with_timeout: usize,
    /// Keys of this shard that blocked clients wait on.
    pub blocking_keys: usize,
    /// Persistence state.
    pub persist: PersistSnapshot,
}

/// One shard's persistence state.
#[derive(Clone, Debug, Default)]
pub struct PersistSnapshot {
    /// The AOF is on.
    pub aof_enabled: bool,
    /// Bytes in the current AOF segment.
    pub aof_size: u64,
    /// The last AOF write or fsync error, while it lasts.
    pub aof_error: Option<String>,
    /// A snapshot is being written: (entries written, entries at its start).
    pub saving: Option<(u64, u64)>,
    /// Changes since the last snapshot started.
    pub changes_since_save: u64,
    /// Journal offset (bytes of records since start) and the durable part of it.
    pub journal_end: u64,
    /// Replication offset (bytes of this shard's replication stream).
    pub repl_offset: u64,
    /// Durable journal offset.
    pub journal_durable: u64,
}

/// Takes a snapshot of every shard.
pub async fn snapshot_all(shard: &Rc<Shard>) -> Vec<ShardSnapshot> {
    shard
        .run_on_all(|s| {
            let ks = s.ks.borrow();
            ShardSnapshot {
                id: s.id,
                keys: ks.len(),
                volatile: ks.volatile_len(),
                used_memory: ks.used_memory(),
                ks: ks.stats,
                stats: s.stats.borrow().clone(),
                connections: s.connections.get(),
                ops_per_sec: s.ops_per_sec.get(),
                blocked_clients: s.blocking.borrow().blocked_clients(),
                blocked_with_timeout: s.blocking.borrow().clients_with_timeout(),
                blocking_keys: s.blocking.borrow().blocking_keys(),
                persist: {
                    let j = s.journal.borrow();
                    PersistSnapshot {
                        aof_enabled: j.enabled,
                        aof_size: s.aof_size.get(),
                        aof_error: s.persist_error.borrow().clone(),
                        saving: if s.saving.get() {
                            Some(ks.capture_progress().unwrap_or((0, 0)))
                        } else {
                            None
                        },
                        changes_since_save: ks.changes() - s.changes_at_save.get(),
                        journal_end: j.end(),
                        repl_offset: j.offset,
                        journal_durable: j.durable,
                    }
                },
            }
        })
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Resident set size of the process in bytes (from /proc/self/statm).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return (0.0, 0.0);
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

fn human(bytes: u64) -> String {
    let units = ["B", "K", "M", "G", "T"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.2}{}", units[u])
}

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "keyspace",
    "shards",
];
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "commandstats",
    "errorstats",
    "keyspace",
    "shards",
];

/// Renders INFO for the requested sections (none = the default set; `all`/`everything`).
pub fn render(g: &Global, snaps: &[ShardSnapshot], requested: &[String]) -> String {
    let wanted: Vec<&str> = if requested.is_empty() || requested.iter().any(|s| s == "default") {
        DEFAULT_SECTIONS.to_vec()
    } else if requested.iter().any(|s| s == "all" || s == "everything") {
        ALL_SECTIONS.to_vec()
    } else {
        ALL_SECTIONS
            .iter()
            .copied()
            .filter(|s| requested.iter().any(|r| r == s))
            .collect()
    };
    let mut out = String::new();
    for (i, sec) in wanted.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        section(&mut out, g, snaps, sec);
    }
    out
}

fn section(o: &mut String, g: &Global, snaps: &[ShardSnapshot], name: &str) {
    let live = g.live();
    let sum = |f: &dyn Fn(&ShardSnapshot) -> u64| snaps.iter().map(f).sum::<u64>();
    // `write!` to a String cannot fail.
    match name {
        "server" => {
            let up = g.started.elapsed().as_secs();
            let _ = write!(
                o,
                "# Server\r\nredis_version:{REDIS_COMPAT_VERSION}\r\nsynap_version:{}\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmultiplexing_api:io_uring\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nhttp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{up}\r\nuptime_in_days:{}\r\nhz:{}\r\nshards:{}\r\nexecutable:{}\r\nconfig_file:{}\r\n",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH,
                std::process::id(),
                g.run_id,
                g.resp_port,
                g.http_port,
                synap_shard::time::now_us(),
                up / 86400,
                live.hz,
                g.nshards,
                g.executable,
                g.config_file,
            );
        }
        "clients" => {
            let _ = write!(
                o,
                "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\nclients_in_timeout_table:{}\r\ntotal_blocking_keys:{}\r\n",
                g.clients.load(Ordering::Relaxed),
                live.maxclients,
                sum(&|s| s.blocked_clients as u64),
                sum(&|s| s.blocked_with_timeout as u64),
                sum(&|s| s.blocking_keys as u64),
            );
        }
        "memory" => {
            let used = sum(&|s| s.used_memory as u64);
            let rss = rss_bytes();
            let _ = write!(
                o,
                "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_allocator:jemalloc-5.3.0\r\n",
                human(used),
                human(rss),
                live.maxmemory,
                human(live.maxmemory),
                g.config.kv_store.maxmemory_policy.as_str(),
                if used > 0 { rss as f64 / used as f64 } else { 0.0 },
            );
        }
        "persistence" => persistence(o, g, snaps),
        "stats" => {
            let cmds: u64 = snaps
                .iter()
                .flat_map(|s| s.stats.commands.iter())
                .map(|c| c.calls)
                .sum();
            let errs: u64 = snaps.iter().flat_map(|s| s.stats.errors.iter()).sum();
            let _ = write!(
                o,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{cmds}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\ntotal_error_replies:{errs}\r\ncross_shard_hops:{}\r\ncross_shard_batches:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\n",
                sum(&|s| s.stats.connections_total),
                snaps.iter().map(|s| s.ops_per_sec).sum::<f64>().round() as u64,
                sum(&|s| s.stats.net_input_bytes),
                sum(&|s| s.stats.net_output_bytes),
                sum(&|s| s.stats.rejected_connections),
                sum(&|s| s.ks.expired),
                sum(&|s| s.ks.hits),
                sum(&|s| s.ks.misses),
                sum(&|s| s.stats.hops_out),
                sum(&|s| s.stats.hop_batches_out),
                g.repl.sync_full.load(Ordering::Relaxed),
                g.repl.sync_partial_ok.load(Ordering::Relaxed),
                g.repl.sync_partial_err.load(Ordering::Relaxed),
            );
        }
        "replication" => {
            let offsets: Vec<u64> = snaps.iter().map(|s| s.persist.repl_offset).collect();
            o.push_str(&crate::repl::info_section(g, &offsets));
        }
        "cpu" => {
            let (sys, user) = cpu_times();
            let _ = write!(
                o,
                "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n"
            );
        }
        "commandstats" => {
            o.push_str("# Commandstats\r\n");
            for (i, spec) in commands::table().iter().enumerate() {
                let (calls, usec, rej, failed) =
                    snaps.iter().fold((0u64, 0f64, 0u64, 0u64), |a, s| {
                        let c = &s.stats.commands[i];
                        (
                            a.0 + c.calls,
                            a.1 + c.usec,
                            a.2 + c.rejected,
                            a.3 + c.failed,
                        )
                    });
                if calls + rej == 0 {
                    continue;
                }
                let per = if calls > 0 { usec / calls as f64 } else { 0.0 };
                let _ = write!(
                    o,
                    "cmdstat_{}:calls={calls},usec={},usec_per_call={per:.2},rejected_calls={rej},failed_calls={failed}\r\n",
                    spec.name, usec as u64
                );
            }
        }
        "errorstats" => {
            o.push_str("# Errorstats\r\n");
            for code in ErrorCode::ALL {
                let n: u64 = snaps.iter().map(|s| s.stats.errors[code.index()]).sum();
                if n > 0 {
                    let _ = write!(o, "errorstat_{}:count={n}\r\n", code.label());
                }
            }
        }
        "keyspace" => {
            o.push_str("# Keyspace\r\n");
            let keys = sum(&|s| s.keys as u64);
            if keys > 0 {
                let _ = write!(
                    o,
                    "db0:keys={keys},expires={},avg_ttl=0\r\n",
                    sum(&|s| s.volatile as u64)
                );
            }
        }
        "shards" => {
            o.push_str("# Shards\r\n");
            for s in snaps {
                let calls: u64 = s.stats.commands.iter().map(|c| c.calls).sum();
                let _ = write!(
                    o,
                    "shard{}:keys={},expires={},used_memory={},connections={},commands={calls},ops_per_sec={:.0},hops_out={},hops_in={},expired_keys={}\r\n",
                    s.id, s.keys, s.volatile, s.used_memory, s.connections, s.ops_per_sec, s.stats.hops_out, s.stats.hops_in, s.ks.expired
                );
            }
        }
        _ => {}
    }
}

fn persistence(o: &mut String, g: &Global, snaps: &[ShardSnapshot]) {
    let l = &g.load;
    let loading = l.loading.load(Ordering::Relaxed);
    let _ = write!(
        o,
        "# Persistence\r\nloading:{}\r\nasync_loading:0\r\n",
        loading as u8
    );
    if loading {
        let (total, done) = (
            l.total.load(Ordering::Relaxed),
            l.done.load(Ordering::Relaxed),
        );
        let started = l.started.load(Ordering::Relaxed);
        let perc = if total > 0 {
            done as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        let _ = write!(
            o,
            "loading_start_time:{started}\r\nloading_total_bytes:{total}\r\nloading_loaded_bytes:{done}\r\nloading_loaded_perc:{perc:.2}\r\n"
        );
    } else {
        let _ = write!(
            o,
            "loading_time_ms:{}\r\nloading_loaded_bytes:{}\r\n",
            l.took_ms.load(Ordering::Relaxed),
            l.done.load(Ordering::Relaxed)
        );
    }
    let sum = |f: &dyn Fn(&ShardSnapshot) -> u64| snaps.iter().map(f).sum::<u64>();
    let saving = snaps.iter().any(|s| s.persist.saving.is_some());
    let aof = snaps.iter().any(|s| s.persist.aof_enabled);
    let last_save = g.last_save_unix.load(Ordering::Relaxed).max(g.started_unix);
    let last_dur = snaps
        .iter()
        .map(|s| s.stats.last_save_duration)
        .fold(0.0, f64::max);
    let err = snaps.iter().any(|s| s.persist.aof_error.is_some());
    let _ = write!(
        o,
        "rdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{last_save}\r\nrdb_last_bgsave_status:ok\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_saves:{}\r\naof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrites:{}\r\naof_last_write_status:{}\r\naof_fsync:{}\r\n",
        sum(&|s| s.persist.changes_since_save),
        saving as u8,
        last_dur.round() as i64,
        sum(&|s| s.stats.saves),
        aof as u8,
        (saving && aof) as u8,
        sum(&|s| s.stats.aof_rewrites),
        if err { "err" } else { "ok" },
        match g.config.persistence.appendfsync {
            crate::config::Fsync::Always => "always",
            crate::config::Fsync::Everysec => "everysec",
            crate::config::Fsync::No => "no",
        },
    );
    if aof {
        let _ = write!(
            o,
            "aof_current_size:{}\r\naof_written_bytes:{}\r\naof_fsyncs:{}\r\naof_pending_bytes:{}\r\n",
            sum(&|s| s.persist.aof_size),
            sum(&|s| s.stats.aof_bytes),
            sum(&|s| s.stats.fsyncs),
            sum(&|s| s.persist.journal_end - s.persist.journal_durable.min(s.persist.journal_end)),
        );
    }
    for s in snaps {
        let _ = write!(
            o,
            "shard{}:aof_size={},aof_status={},fsyncs={},saving={},changes_since_save={},last_save_ms={}\r\n",
            s.id,
            s.persist.aof_size,
            if s.persist.aof_error.is_some() { "err" } else { "ok" },
            s.stats.fsyncs,
            s.persist.saving.is_some() as u8,
            s.persist.changes_since_save,
            s.stats.last_save_ms,
        );
    }
}
