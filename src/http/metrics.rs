//! Health endpoints and Prometheus metrics, built from a snapshot of every shard.

use super::Response;
use crate::connection::ConnState;
use crate::errors::ErrorCode;
use crate::info::{snapshot_all, ShardSnapshot};
use crate::shard::LATENCY_BUCKETS_US;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use serde_json::json;
use std::sync::atomic::Ordering;

/// GET /health
pub async fn health(conn: &ConnState) -> Response {
    let g = &conn.shard.global;
    Response::json(
        200,
        &json!({
            "status": "healthy",
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_secs": g.started.elapsed().as_secs(),
            "role": "master",
            "shards": g.nshards,
            "run_id": g.run_id,
        }),
    )
}

/// GET /health/kv
pub async fn health_kv(conn: &ConnState) -> Response {
    let snaps = snapshot_all(&conn.shard).await;
    let g = &conn.shard.global;
    let shards: Vec<_> = snaps
        .iter()
        .map(|s| {
            json!({
                "shard": s.id, "keys": s.keys, "expires": s.volatile, "memory_bytes": s.used_memory,
                "aof_size": s.persist.aof_size,
                "aof_status": if s.persist.aof_error.is_some() { "err" } else { "ok" },
                "saving": s.persist.saving.is_some(),
                "last_save_ms": s.stats.last_save_ms,
            })
        })
        .collect();
    let loading = g.load.loading.load(Ordering::Relaxed);
    let aof_error = snaps.iter().find_map(|s| s.persist.aof_error.clone());
    let status = if loading {
        "loading"
    } else if aof_error.is_some() {
        "degraded"
    } else {
        "healthy"
    };
    let (total, done) = (
        g.load.total.load(Ordering::Relaxed),
        g.load.done.load(Ordering::Relaxed),
    );
    Response::json(
        if status == "healthy" { 200 } else { 503 },
        &json!({
            "status": status,
            "keys": snaps.iter().map(|s| s.keys).sum::<usize>(),
            "memory_bytes": snaps.iter().map(|s| s.used_memory).sum::<usize>(),
            "persistence": {
                "aof_enabled": snaps.iter().any(|s| s.persist.aof_enabled),
                "loading": loading,
                "loading_total_bytes": total,
                "loading_loaded_bytes": done,
                "loading_loaded_perc": if total > 0 { done as f64 * 100.0 / total as f64 } else { 100.0 },
                "last_save_unix": g.last_save_unix.load(Ordering::Relaxed),
                "aof_size": snaps.iter().map(|s| s.persist.aof_size).sum::<u64>(),
                "aof_error": aof_error,
            },
            "shards": shards,
        }),
    )
}

/// GET /kv/stats
pub async fn kv_stats(conn: &ConnState) -> Response {
    let snaps = snapshot_all(&conn.shard).await;
    let sum = |f: &dyn Fn(&ShardSnapshot) -> u64| snaps.iter().map(f).sum::<u64>();
    Response::json(
        200,
        &json!({
            "keys": sum(&|s| s.keys as u64),
            "expires": sum(&|s| s.volatile as u64),
            "memory_bytes": sum(&|s| s.used_memory as u64),
            "hits": sum(&|s| s.ks.hits),
            "misses": sum(&|s| s.ks.misses),
            "expired_keys": sum(&|s| s.ks.expired),
            "shards": snaps.len(),
        }),
    )
}

/// Renders the shard snapshots as metric families, every series labelled `shard`.
#[derive(Debug)]
struct ShardCollector {
    snaps: Vec<ShardSnapshot>,
    repl: Vec<crate::repl::view::ShardRepl>,
    links: Vec<crate::repl::view::LinkView>,
    connected_clients: u64,
    uptime: u64,
    rss: u64,
}

/// A value written as-is for one series.
struct Gauge(f64);
impl EncodeMetric for Gauge {
    fn encode(
        &self,
        mut e: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        e.encode_gauge(&self.0)
    }
    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

impl ShardCollector {
    fn family(
        &self,
        enc: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        kind: MetricType,
        series: &[(Vec<(String, String)>, f64)],
    ) -> Result<(), std::fmt::Error> {
        let mut m = enc.encode_descriptor(name, help, None, kind)?;
        for (labels, v) in series {
            let fam = m.encode_family(labels)?;
            let mut fam = fam;
            match kind {
                MetricType::Counter => fam.encode_counter::<(), f64, f64>(v, None)?,
                _ => fam.encode_gauge(v)?,
            }
        }
        Ok(())
    }

    /// Replication per shard: on a master, each shard's stream and each replica stream's lag
    /// (labels `shard`, `replica`); on a replica, each master shard's link (`master_shard`).
    fn replication(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use MetricType::{Counter, Gauge as G};
        type Series = Vec<(Vec<(String, String)>, f64)>;
        let shard = |i: usize| vec![("shard".to_string(), i.to_string())];
        let per = |f: &dyn Fn(&crate::repl::view::ShardRepl) -> f64| -> Series {
            self.repl.iter().map(|s| (shard(s.shard), f(s))).collect()
        };
        let peer = |f: &dyn Fn(&crate::repl::view::PeerLag) -> f64| -> Series {
            let mut out = Vec::new();
            for s in &self.repl {
                for p in &s.replicas {
                    let mut l = shard(s.shard);
                    l.push(("replica".to_string(), p.addr.clone()));
                    out.push((l, f(p)));
                }
            }
            out
        };
        let link = |f: &dyn Fn(&crate::repl::view::LinkView) -> f64| -> Series {
            self.links
                .iter()
                .map(|l| {
                    (
                        vec![("master_shard".to_string(), l.shard.to_string())],
                        f(l),
                    )
                })
                .collect()
        };
        let families: [(&str, &str, MetricType, Series); 13] = [
            (
                "synap_repl_offset",
                "Replication stream offset of the shard (bytes)",
                G,
                per(&|s| s.offset as f64),
            ),
            (
                "synap_repl_full_syncs_served",
                "Replica streams served from the start",
                Counter,
                per(&|s| s.full_syncs as f64),
            ),
            (
                "synap_repl_partial_syncs_served",
                "Replica streams continued from the backlog",
                Counter,
                per(&|s| s.partial_syncs as f64),
            ),
            (
                "synap_repl_replica_offset",
                "Offset a replica stream acknowledged",
                G,
                peer(&|p| p.ack as f64),
            ),
            (
                "synap_repl_replica_lag_bytes",
                "Bytes a replica stream is behind",
                G,
                peer(&|p| p.lag_bytes as f64),
            ),
            (
                "synap_repl_replica_lag_records",
                "Records a replica stream is behind",
                G,
                peer(&|p| p.lag_records.unwrap_or(0) as f64),
            ),
            (
                "synap_repl_replica_lag_seconds",
                "Age of the oldest record a replica stream has not acknowledged",
                G,
                peer(&|p| p.lag_ms as f64 / 1000.0),
            ),
            (
                "synap_repl_link_up",
                "Replica: the stream of this master shard is up",
                G,
                link(&|l| u8::from(l.up) as f64),
            ),
            (
                "synap_repl_applied_offset",
                "Replica: offset applied from this master shard",
                G,
                link(&|l| l.offset as f64),
            ),
            (
                "synap_repl_lag_bytes",
                "Replica: bytes behind this master shard (its last heartbeat)",
                G,
                link(&|l| l.lag_bytes() as f64),
            ),
            (
                "synap_repl_full_syncs",
                "Replica: full syncs of this master shard",
                Counter,
                link(&|l| l.full_syncs as f64),
            ),
            (
                "synap_repl_partial_syncs",
                "Replica: partial resyncs of this master shard",
                Counter,
                link(&|l| l.partial_syncs as f64),
            ),
            (
                "synap_repl_last_io_seconds",
                "Replica: seconds since this master shard last sent something",
                G,
                link(&|l| l.last_io_ms.unwrap_or(0) as f64 / 1000.0),
            ),
        ];
        for (name, help, kind, series) in &families {
            self.family(enc, name, help, *kind, series)?;
        }
        Ok(())
    }

    fn per_shard(&self, f: impl Fn(&ShardSnapshot) -> f64) -> Vec<(Vec<(String, String)>, f64)> {
        self.snaps
            .iter()
            .map(|s| (vec![("shard".to_string(), s.id.to_string())], f(s)))
            .collect()
    }
}

impl prometheus_client::collector::Collector for ShardCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use MetricType::{Counter, Gauge as G};
        self.family(
            &mut enc,
            "synap_keys",
            "Keys stored",
            G,
            &self.per_shard(|s| s.keys as f64),
        )?;
        self.family(
            &mut enc,
            "synap_keys_with_expiry",
            "Keys with a TTL",
            G,
            &self.per_shard(|s| s.volatile as f64),
        )?;
        self.family(
            &mut enc,
            "synap_memory_bytes",
            "Estimated keyspace memory (see keyspace.rs)",
            G,
            &self.per_shard(|s| s.used_memory as f64),
        )?;
        self.family(
            &mut enc,
            "synap_connections",
            "Open client connections (RESP and HTTP)",
            G,
            &self.per_shard(|s| s.connections as f64),
        )?;
        self.family(
            &mut enc,
            "synap_connections_received",
            "Connections accepted",
            Counter,
            &self.per_shard(|s| s.stats.connections_total as f64),
        )?;
        self.family(
            &mut enc,
            "synap_rejected_connections",
            "Connections refused at maxclients",
            Counter,
            &self.per_shard(|s| s.stats.rejected_connections as f64),
        )?;
        self.family(
            &mut enc,
            "synap_expired_keys",
            "Keys removed because they expired",
            Counter,
            &self.per_shard(|s| s.ks.expired as f64),
        )?;
        self.family(
            &mut enc,
            "synap_keyspace_hits",
            "Lookups that found a key",
            Counter,
            &self.per_shard(|s| s.ks.hits as f64),
        )?;
        self.family(
            &mut enc,
            "synap_keyspace_misses",
            "Lookups that found nothing",
            Counter,
            &self.per_shard(|s| s.ks.misses as f64),
        )?;
        self.family(
            &mut enc,
            "synap_cross_shard_hops",
            "Commands forwarded to another shard",
            Counter,
            &self.per_shard(|s| s.stats.hops_out as f64),
        )?;
        self.family(
            &mut enc,
            "synap_cross_shard_batches",
            "Batches of forwarded commands sent",
            Counter,
            &self.per_shard(|s| s.stats.hop_batches_out as f64),
        )?;
        self.family(
            &mut enc,
            "synap_cross_shard_received",
            "Commands received from other shards",
            Counter,
            &self.per_shard(|s| s.stats.hops_in as f64),
        )?;
        self.family(
            &mut enc,
            "synap_net_input_bytes",
            "Bytes read from clients",
            Counter,
            &self.per_shard(|s| s.stats.net_input_bytes as f64),
        )?;
        self.family(
            &mut enc,
            "synap_net_output_bytes",
            "Bytes written to clients",
            Counter,
            &self.per_shard(|s| s.stats.net_output_bytes as f64),
        )?;

        self.family(
            &mut enc,
            "synap_aof_written_bytes",
            "Bytes appended to the AOF",
            Counter,
            &self.per_shard(|s| s.stats.aof_bytes as f64),
        )?;
        self.family(
            &mut enc,
            "synap_aof_size_bytes",
            "Bytes in the current AOF segment",
            G,
            &self.per_shard(|s| s.persist.aof_size as f64),
        )?;
        self.family(
            &mut enc,
            "synap_aof_pending_bytes",
            "Journaled bytes not yet durable",
            G,
            &self.per_shard(|s| {
                (s.persist
                    .journal_end
                    .saturating_sub(s.persist.journal_durable)) as f64
            }),
        )?;
        self.family(
            &mut enc,
            "synap_aof_rewrites",
            "AOF segment switches (rewrites)",
            Counter,
            &self.per_shard(|s| s.stats.aof_rewrites as f64),
        )?;
        self.family(
            &mut enc,
            "synap_snapshots",
            "Snapshots saved",
            Counter,
            &self.per_shard(|s| s.stats.saves as f64),
        )?;
        self.family(
            &mut enc,
            "synap_snapshot_duration_seconds",
            "Duration of the last snapshot",
            G,
            &self.per_shard(|s| s.stats.last_save_duration),
        )?;
        let now_ms = synap_shard::time::now_ms();
        self.family(
            &mut enc,
            "synap_snapshot_age_seconds",
            "Seconds since the last snapshot (-1 = none since start)",
            G,
            &self.per_shard(|s| {
                if s.stats.last_save_ms == 0 {
                    -1.0
                } else {
                    now_ms.saturating_sub(s.stats.last_save_ms) as f64 / 1000.0
                }
            }),
        )?;

        let mut cmds = Vec::new();
        for s in &self.snaps {
            for (i, c) in s.stats.commands.iter().enumerate() {
                if c.calls > 0 {
                    let name = crate::commands::table()[i].name.to_string();
                    cmds.push((
                        vec![
                            ("shard".to_string(), s.id.to_string()),
                            ("command".to_string(), name),
                        ],
                        c.calls as f64,
                    ));
                }
            }
        }
        self.family(
            &mut enc,
            "synap_commands",
            "Commands processed, by name",
            Counter,
            &cmds,
        )?;
        let mut errs = Vec::new();
        for s in &self.snaps {
            for code in ErrorCode::ALL {
                errs.push((
                    vec![
                        ("shard".to_string(), s.id.to_string()),
                        ("kind".to_string(), code.label().to_string()),
                    ],
                    s.stats.errors[code.index()] as f64,
                ));
            }
        }
        self.family(
            &mut enc,
            "synap_errors",
            "Error replies, by kind",
            Counter,
            &errs,
        )?;

        let mut m = enc.encode_descriptor(
            "synap_command_latency_seconds",
            "Command execution latency (per read batch, averaged over its commands)",
            None,
            MetricType::Histogram,
        )?;
        for s in &self.snaps {
            let labels = vec![("shard".to_string(), s.id.to_string())];
            let mut buckets: Vec<(f64, u64)> = LATENCY_BUCKETS_US
                .iter()
                .zip(&s.stats.latency)
                .map(|(ub, c)| (*ub as f64 / 1e6, *c))
                .collect();
            buckets.push((f64::MAX, s.stats.latency[LATENCY_BUCKETS_US.len()]));
            let count = s.stats.latency.iter().sum();
            let mut fam = m.encode_family(&labels)?;
            fam.encode_histogram::<()>(s.stats.latency_sum, count, &buckets, None)?;
        }
        let mut m = enc.encode_descriptor(
            "synap_aof_fsync_seconds",
            "AOF fdatasync latency",
            None,
            MetricType::Histogram,
        )?;
        for s in &self.snaps {
            let labels = vec![("shard".to_string(), s.id.to_string())];
            let mut buckets: Vec<(f64, u64)> = LATENCY_BUCKETS_US
                .iter()
                .zip(&s.stats.fsync_latency)
                .map(|(ub, c)| (*ub as f64 / 1e6, *c))
                .collect();
            buckets.push((f64::MAX, s.stats.fsync_latency[LATENCY_BUCKETS_US.len()]));
            let mut fam = m.encode_family(&labels)?;
            fam.encode_histogram::<()>(s.stats.fsync_latency_sum, s.stats.fsyncs, &buckets, None)?;
        }
        self.replication(&mut enc)?;
        let mut m =
            enc.encode_descriptor("synap_connected_clients", "Connected RESP clients", None, G)?;
        Gauge(self.connected_clients as f64).encode(m.encode_family(&())?)?;
        let mut m =
            enc.encode_descriptor("synap_uptime_seconds", "Seconds since start", None, G)?;
        Gauge(self.uptime as f64).encode(m.encode_family(&())?)?;
        let mut m = enc.encode_descriptor(
            "synap_process_resident_memory_bytes",
            "Resident set size",
            None,
            G,
        )?;
        Gauge(self.rss as f64).encode(m.encode_family(&())?)?;
        Ok(())
    }
}

/// GET /metrics
pub async fn prometheus(conn: &ConnState) -> Response {
    let snaps = snapshot_all(&conn.shard).await;
    let g = &conn.shard.global;
    let mut reg = Registry::default();
    let repl = crate::repl::view::shards(&conn.shard).await;
    reg.register_collector(Box::new(ShardCollector {
        snaps,
        links: crate::repl::view::links(g),
        repl,
        connected_clients: g.clients.load(Ordering::Relaxed) as u64,
        uptime: g.started.elapsed().as_secs(),
        rss: crate::info::rss_bytes(),
    }));
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &reg).is_err() {
        return Response::error(500, "metrics encoding failed");
    }
    Response {
        status: 200,
        content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8",
        body: text.into_bytes(),
    }
}
