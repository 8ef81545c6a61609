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
                "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_allocator:libc\r\n",
                human(used),
                human(rss),
                live.maxmemory,
                human(live.maxmemory),
                g.config.kv_store.maxmemory_policy.as_str(),
                if used > 0 { rss as f64 / used as f64 } else { 0.0 },
            );
        }
        "persistence" => {
            let _ = write!(
                o,
                "# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\nrdb_last_save_time:{}\r\naof_enabled:0\r\naof_rewrite_in_progress:0\r\n",
                g.started_unix
            );
        }
        "stats" => {
            let cmds: u64 = snaps
                .iter()
                .flat_map(|s| s.stats.commands.iter())
                .map(|c| c.calls)
                .sum();
            let errs: u64 = snaps.iter().flat_map(|s| s.stats.errors.iter()).sum();
            let _ = write!(
                o,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{cmds}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\ntotal_error_replies:{errs}\r\ncross_shard_hops:{}\r\ncross_shard_batches:{}\r\n",
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
            );
        }
        "replication" => {
            let _ = write!(
                o,
                "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\n",
                g.run_id
            );
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
