//! Replication: partial resync of a restarted replica (exactly once), PSYNC2-style failover,
//! full syncs under writes, stalled replicas, a restarted master, lag per shard.

mod common;

use common::free_config_port;
use common::repl::*;
use common::Server;
use redis::Value;
use std::io::Write;
use std::time::{Duration, Instant};

#[test]
fn restarted_replica_resumes_with_a_partial_resync_exactly_once() {
    let m = master(2);
    let mut mc = m.server.client();
    fill(&mut mc, 0, 200);
    // 3 replica shards for 2 master shards: positions are kept per replica shard.
    let (r, cfg) = persistent_replica(3, &m);
    linked(&mut r.client(), &m);
    let w = Writer::start(m.server.port, "w");
    std::thread::sleep(Duration::from_millis(800));
    let full_before = info_num(&mut mc, "stats", "sync_full");
    assert_eq!(full_before, 2, "one full sync per master shard");
    let partial_before = info_num(&mut mc, "stats", "sync_partial_ok");
    // A clean stop, then a kill -9, each while the master keeps taking writes.
    let mut r = r;
    for kill9 in [false, true, true] {
        r = respawn(r, 3, &cfg, kill9);
        let mut rc = r.client();
        linked(&mut rc, &m);
        // It loaded its own AOF (the data it had), then continued the streams.
        assert!(r.log().contains("aof_records"), "{}", r.log());
        assert!(
            r.log().contains("continuing the master's stream"),
            "{}",
            r.log()
        );
        std::thread::sleep(Duration::from_millis(400));
        // An AOF rewrite: the snapshot carries the positions, the new segment the rest.
        q(&mut rc, &["BGREWRITEAOF"]);
        std::thread::sleep(Duration::from_millis(400));
    }
    let rounds = w.stop();
    assert!(rounds > 50, "writer too slow: {rounds}");
    // The last start loaded the rewritten files: a snapshot (with the positions) and an AOF.
    assert!(
        r.log()
            .lines()
            .any(|l| l.contains("aof_records") && !l.contains("snapshot_entries=0 ")),
        "{}",
        r.log()
    );
    let mut rc = r.client();
    converge(&mut mc, &mut rc);
    assert_eq!(
        info_num(&mut mc, "stats", "sync_full"),
        full_before,
        "a restarted replica took a full sync"
    );
    assert!(info_num(&mut mc, "stats", "sync_partial_ok") >= partial_before + 6);
    let i = info(&mut rc);
    assert!(
        i.contains("partial_syncs:2") && i.contains("full_syncs:0"),
        "{i}"
    );
}

#[test]
fn promoted_replica_continues_the_other_replicas_streams() {
    let m = master(2);
    let mut mc = m.server.client();
    fill(&mut mc, 0, 200);
    let old_replid = info_field(&mut mc, "master_replid");
    let (a, a_port) = chained_replica(2, m.repl_port);
    let (b, _) = chained_replica(2, m.repl_port);
    let (mut ac, mut bc) = (a.client(), b.client());
    let w = Writer::start(m.server.port, "w");
    std::thread::sleep(Duration::from_millis(600));
    let before = w.stop();
    // Every write so far is acknowledged by both replicas; then the master dies.
    assert_eq!(q(&mut mc, &["WAIT", "2", "10000"]), Value::Int(2));
    converge(&mut mc, &mut ac);
    converge(&mut mc, &mut bc);
    // As in Redis, a replica shows the replication id it follows.
    assert_eq!(info_field(&mut ac, "master_replid"), old_replid);
    drop(mc);
    drop(m);

    q(&mut ac, &["REPLICAOF", "NO", "ONE"]);
    wait_for("replid2", || {
        info_field(&mut ac, "master_replid2") == old_replid
    });
    assert!(
        info_field(&mut ac, "second_repl_offset")
            .parse::<i64>()
            .expect("offset")
            > 0
    );
    assert_ne!(info_field(&mut ac, "master_replid"), old_replid);
    q(&mut bc, &["REPLICAOF", "127.0.0.1", &a_port.to_string()]);
    let w = Writer::start(a.port, "x");
    wait_for("B's link to A", || {
        info(&mut bc).contains("master_link_status:up")
    });
    std::thread::sleep(Duration::from_millis(500));
    let after = w.stop();
    converge(&mut ac, &mut bc);
    // B continued both streams from A's backlog: no full sync.
    assert_eq!(info_num(&mut ac, "stats", "sync_full"), 0);
    assert_eq!(info_num(&mut ac, "stats", "sync_partial_ok"), 2);
    let i = info(&mut bc);
    assert!(
        i.contains("full_syncs:0") && i.contains("partial_syncs:2"),
        "{i}"
    );
    assert!(i.contains(&format!("master_port:{a_port}")), "{i}");
    // No acknowledged write is lost, on either.
    for c in [&mut ac, &mut bc] {
        assert_eq!(counted(c, "w"), before as i64);
        assert_eq!(counted(c, "x"), after as i64);
    }
}

#[test]
fn promoted_replica_with_another_shard_count_gives_a_full_sync() {
    let m = master(2);
    let mut mc = m.server.client();
    fill(&mut mc, 0, 100);
    let (a, a_port) = chained_replica(3, m.repl_port);
    let (b, _) = chained_replica(2, m.repl_port);
    let (mut ac, mut bc) = (a.client(), b.client());
    converge(&mut mc, &mut ac);
    converge(&mut mc, &mut bc);
    drop(m);
    q(&mut ac, &["REPLICAOF", "NO", "ONE"]);
    q(&mut bc, &["REPLICAOF", "127.0.0.1", &a_port.to_string()]);
    q(&mut ac, &["SET", "after", "1"]);
    wait_for("B's link to A", || {
        info(&mut bc).contains("master_link_status:up")
    });
    converge(&mut ac, &mut bc);
    assert_eq!(info_num(&mut ac, "stats", "sync_full"), 3);
    assert_eq!(info_field(&mut ac, "second_repl_offset"), "-1");
}

#[test]
fn replication_lag_per_shard_in_metrics_and_health() {
    let m = master(2);
    let mut mc = m.server.client();
    fill(&mut mc, 0, 100);
    let r = replica(3, &m);
    let mut rc = r.client();
    linked(&mut rc, &m);
    let w = Writer::start(m.server.port, "w");
    std::thread::sleep(Duration::from_millis(300));
    let (st, body) = http_get(m.server.http_port, "/metrics");
    assert_eq!(st, 200);
    let rep = format!("replica=\"127.0.0.1:{}\"", r.port);
    for shard in 0..2 {
        for name in [
            "synap_repl_replica_offset",
            "synap_repl_replica_lag_bytes",
            "synap_repl_replica_lag_records",
            "synap_repl_replica_lag_seconds",
        ] {
            let v = series(&body, &format!("{name}{{shard=\"{shard}\",{rep}}}"));
            assert!(v.is_some_and(|v| v >= 0.0), "{name} shard {shard}:\n{body}");
        }
        let full = format!("synap_repl_full_syncs_served_total{{shard=\"{shard}\"}}");
        assert_eq!(series(&body, &full), Some(1.0), "{body}");
        assert!(
            series(&body, &format!("synap_repl_offset{{shard=\"{shard}\"}}"))
                .is_some_and(|v| v > 0.0)
        );
    }
    let (st, body) = http_get(r.http_port, "/metrics");
    assert_eq!(st, 200);
    for shard in 0..2 {
        let l = format!("{{master_shard=\"{shard}\"}}");
        assert_eq!(
            series(&body, &format!("synap_repl_link_up{l}")),
            Some(1.0),
            "{body}"
        );
        assert_eq!(
            series(&body, &format!("synap_repl_full_syncs_total{l}")),
            Some(1.0)
        );
        assert!(series(&body, &format!("synap_repl_applied_offset{l}")).is_some_and(|v| v > 0.0));
        assert!(series(&body, &format!("synap_repl_lag_bytes{l}")).is_some());
    }
    w.stop();
    // Once caught up: no lag; the same per shard in /health/replication.
    assert_eq!(q(&mut mc, &["WAIT", "1", "10000"]), Value::Int(1));
    let health = || {
        let (st, body) = http_get(m.server.http_port, "/health/replication");
        assert_eq!(st, 200);
        serde_json::from_str::<serde_json::Value>(&body).expect("json")
    };
    // (An expiring key's DEL may still be on its way.)
    wait_for("no lag", || {
        health()["shards"]
            .as_array()
            .is_some_and(|a| a.iter().all(|s| s["replicas"][0]["lag_bytes"] == 0))
    });
    let h = health();
    let shards = h["shards"].as_array().expect("shards");
    assert_eq!(shards.len(), 2, "{h}");
    for s in shards {
        let p = &s["replicas"][0];
        assert_eq!(p["addr"], format!("127.0.0.1:{}", r.port), "{h}");
        assert_eq!(p["lag_bytes"], 0, "{h}");
        assert_eq!(p["lag_records"], 0, "{h}");
        assert_eq!(p["lag_ms"], 0, "{h}");
        assert_eq!(s["full_syncs"], 1, "{h}");
    }
    let (st, body) = http_get(r.http_port, "/health/replication");
    assert_eq!(st, 200, "{body}");
    let h: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(h["shards"].as_array().map(|a| a.len()), Some(2), "{h}");
    assert_eq!(h["shards"][1]["link"], "up", "{h}");
    // The master goes away: the replica's link is down, 503.
    drop(mc);
    drop(m);
    wait_for("503", || {
        http_get(r.http_port, "/health/replication").0 == 503
    });
    let (_, body) = http_get(r.http_port, "/metrics");
    assert!(
        body.contains("synap_repl_link_up{master_shard=\"0\"} 0"),
        "{body}"
    );
}

#[test]
fn a_stalled_replica_is_dropped_at_the_buffer_limit() {
    let m = master_with(1, "  max_replica_buffer: 1mb\n  backlog_size: 64mb\n");
    let mut mc = m.server.client();
    q(&mut mc, &["SET", "before", "1"]);
    // A replica that completes the handshake, then never reads (a small receive window).
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.set_recv_buffer_size(4096).expect("rcvbuf");
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], m.repl_port).into();
    sock.connect(&addr.into()).expect("connect");
    let mut stalled: std::net::TcpStream = sock.into();
    stalled
        .write_all(b"SYNC 0 stalled-replica ? 0 1 -\n")
        .expect("sync");
    wait_for("the stalled stream to be registered", || {
        info(&mut mc).contains("connected_slaves:1")
    });
    // Far more than the socket buffers and the 1 MB limit; the master keeps answering.
    let value = "x".repeat(64 * 1024);
    let t = Instant::now();
    for i in 0..300 {
        q(&mut mc, &["SET", &format!("big{}", i % 50), &value]);
    }
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    wait_for("the stalled stream to be dropped", || {
        m.server.log().contains("over max_replica_buffer")
    });
    wait_for("connected_slaves:0", || {
        info(&mut mc).contains("connected_slaves:0")
    });
    assert_eq!(q(&mut mc, &["DBSIZE"]), Value::Int(51));
    // Nothing buffered per replica: the process holds the data, the 64 MB backlog and little
    // else (the overwritten values are freed).
    let rss = info_num(&mut mc, "memory", "used_memory_rss");
    assert!(rss < 256 << 20, "rss {rss}");
    // A real replica still syncs.
    let r = replica(2, &m);
    converge(&mut mc, &mut r.client());
}

#[test]
fn a_replica_behind_by_more_than_the_backlog_continues_within_the_buffer_limit() {
    // A 16 kB backlog, but up to 64 MB held for a connected replica that has not read yet.
    let m = master_with(1, "  backlog_size: 16kb\n  max_replica_buffer: 64mb\n");
    let mut mc = m.server.client();
    fill(&mut mc, 0, 100);
    let r = replica(2, &m);
    let mut rc = r.client();
    converge(&mut mc, &mut rc);
    let full = info_num(&mut mc, "stats", "sync_full");
    // The replica stops (SIGSTOP) while 8 MB are written: 500 times the backlog.
    let pid = r.child.id().to_string();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {sig}");
    };
    signal("-STOP");
    let value = "v".repeat(16 * 1024);
    for i in 0..512 {
        q(&mut mc, &["SET", &format!("held{}", i % 64), &value]);
    }
    q(&mut mc, &["SET", "last", "1"]);
    signal("-CONT");
    converge(&mut mc, &mut rc);
    assert_eq!(info_num(&mut mc, "stats", "sync_full"), full);
    assert_eq!(info_num(&mut mc, "stats", "sync_partial_ok"), 0);
    let log = m.server.log();
    assert!(
        !log.contains("fell out of the backlog") && !log.contains("dropped"),
        "{log}"
    );
    // While it was behind, the backlog held what it had not been sent; once it caught up,
    // the next write brings the backlog back to its size.
    q(&mut mc, &["SET", "after", "1"]);
    let body = http_get(m.server.http_port, "/health/replication").1;
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let s0 = &v["shards"][0];
    let span = s0["offset"].as_u64().expect("offset")
        - s0["backlog_first_offset"].as_u64().expect("first");
    assert!(span <= 16 * 1024, "backlog span {span}: {body}");
}

#[test]
fn restarted_master_with_persistence_is_followed_again() {
    let repl_port = free_config_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        "master.yml",
        &format!(
            "persistence:\n  enabled: true\n  appendfsync: everysec\nreplication:\n  enabled: true\n  listen_port: {repl_port}\n"
        ),
    );
    let server = Server::start_with(2, &["-c", &cfg]);
    let mut m = Master { server, repl_port };
    let mut mc = m.server.client();
    fill(&mut mc, 0, 300);
    let (r1, r2) = (replica(2, &m), replica(3, &m));
    let (mut c1, mut c2) = (r1.client(), r2.client());
    converge(&mut mc, &mut c1);
    converge(&mut mc, &mut c2);
    let old = info_field(&mut mc, "master_replid");
    drop(mc);
    m.server = m.server.restart(2, &["-c", &cfg]);
    let mut mc = m.server.client();
    assert_ne!(info_field(&mut mc, "master_replid"), old);
    assert_eq!(
        q(&mut mc, &["EXISTS", "k6"]),
        Value::Int(1),
        "master reloaded: {}",
        m.server.log()
    );
    fill(&mut mc, 300, 120);
    converge(&mut mc, &mut c1);
    converge(&mut mc, &mut c2);
    // A new replid: each replica took a full sync per master shard.
    wait_for("both replicas", || {
        info(&mut mc).contains("connected_slaves:2")
    });
    assert_eq!(info_num(&mut mc, "stats", "sync_full"), 4);
}

#[test]
fn writes_during_a_full_sync_are_not_lost() {
    let m = master(2);
    let mut mc = m.server.client();
    for batch in 0..200 {
        let mut cmd = redis::cmd("MSET");
        for i in 0..1000 {
            cmd.arg(format!("key:{batch}:{i}")).arg(i);
        }
        let _: () = cmd.query(&mut mc).expect("mset");
    }
    assert_eq!(q(&mut mc, &["DBSIZE"]), Value::Int(200_000));
    let w = Writer::start(m.server.port, "w");
    std::thread::sleep(Duration::from_millis(100));
    let r = replica(3, &m);
    let mut rc = r.client();
    // Keep writing through the sync (and overwrite some loaded keys while it runs).
    let mut i = 0;
    while !info(&mut rc).contains("master_link_status:up") {
        q(
            &mut mc,
            &["SET", &format!("key:{}:{}", i % 200, i % 1000), "changed"],
        );
        i += 1;
    }
    std::thread::sleep(Duration::from_millis(300));
    let rounds = w.stop();
    assert!(rounds > 0 && i > 0);
    assert_eq!(q(&mut mc, &["WAIT", "1", "20000"]), Value::Int(1));
    let want = pipelined_dump(&mut mc);
    let got = pipelined_dump(&mut rc);
    assert_eq!(want.len(), got.len());
    let diff: Vec<_> = want
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(v))
        .take(5)
        .collect();
    assert!(diff.is_empty(), "replica differs: {diff:?}");
    assert_eq!(counted(&mut rc, "w"), rounds as i64);
}

#[test]
fn replica_restarted_with_another_shard_count_takes_a_full_sync() {
    let m = master(2);
    let mut mc = m.server.client();
    fill(&mut mc, 0, 150);
    let (r, cfg) = persistent_replica(2, &m);
    converge(&mut mc, &mut r.client());
    for i in 0..50 {
        q(&mut mc, &["INCR", &format!("n{}", i % 7)]);
    }
    assert_eq!(q(&mut mc, &["WAIT", "1", "10000"]), Value::Int(1));
    let full = info_num(&mut mc, "stats", "sync_full");
    // Its files are re-sharded from 2 to 3 shards: the positions do not carry over.
    let r = respawn(r, 3, &cfg, false);
    let mut rc = r.client();
    linked(&mut rc, &m);
    fill(&mut mc, 150, 60);
    converge(&mut mc, &mut rc);
    assert_eq!(info_num(&mut mc, "stats", "sync_full"), full + 2);
}

#[test]
fn a_replica_ahead_of_the_promoted_one_takes_a_full_sync() {
    let m = master(2);
    let mut mc = m.server.client();
    fill(&mut mc, 0, 100);
    let (a, a_port) = chained_replica(2, m.repl_port);
    let (b, _) = chained_replica(2, m.repl_port);
    let (mut ac, mut bc) = (a.client(), b.client());
    converge(&mut mc, &mut ac);
    converge(&mut mc, &mut bc);
    // A is promoted while B keeps following the old master and gets writes A never saw.
    q(&mut ac, &["REPLICAOF", "NO", "ONE"]);
    wait_for("replid2", || {
        info_field(&mut ac, "second_repl_offset") != "-1"
    });
    fill(&mut mc, 100, 50);
    converge(&mut mc, &mut bc);
    // B cannot continue from A: its offsets are past where A's streams left the old master's.
    q(&mut bc, &["REPLICAOF", "127.0.0.1", &a_port.to_string()]);
    wait_for("B's link to A", || {
        info(&mut bc).contains("master_link_status:up")
    });
    converge(&mut ac, &mut bc);
    assert_eq!(info_num(&mut ac, "stats", "sync_partial_ok"), 0);
    assert_eq!(info_num(&mut ac, "stats", "sync_partial_err"), 2);
    assert_eq!(q(&mut bc, &["EXISTS", "k106"]), Value::Int(0));
}

#[test]
fn replica_with_snapshots_only_resumes_after_a_clean_stop() {
    let m = master(2);
    let mut mc = m.server.client();
    fill(&mut mc, 0, 100);
    let (r, cfg) = persistent_replica_with(
        2,
        &m,
        "persistence:\n  enabled: false\n  save: \"3600 1\"\n",
    );
    linked(&mut r.client(), &m);
    let w = Writer::start(m.server.port, "w");
    std::thread::sleep(Duration::from_millis(500));
    let full = info_num(&mut mc, "stats", "sync_full");
    // SIGTERM: the final snapshot carries the stream positions.
    let r = respawn(r, 2, &cfg, false);
    let mut rc = r.client();
    linked(&mut rc, &m);
    std::thread::sleep(Duration::from_millis(300));
    let rounds = w.stop();
    converge(&mut mc, &mut rc);
    assert_eq!(counted(&mut rc, "w"), rounds as i64);
    assert_eq!(info_num(&mut mc, "stats", "sync_full"), full);
    assert!(info(&mut rc).contains("partial_syncs:2"));
}

#[test]
fn a_promoted_replica_restarted_as_a_replica_takes_a_full_sync() {
    let m = master(2);
    let mut mc = m.server.client();
    fill(&mut mc, 0, 100);
    let (r, cfg) = persistent_replica(2, &m);
    let mut rc = r.client();
    converge(&mut mc, &mut rc);
    q(&mut rc, &["REPLICAOF", "NO", "ONE"]);
    q(&mut rc, &["SET", "k6", "written on the promoted replica"]);
    q(&mut rc, &["SET", "own", "1"]);
    let full = info_num(&mut mc, "stats", "sync_full");
    // Restarted with its configuration (a replica of `m`): its own writes must not survive a
    // continuation of the old streams.
    let r = respawn(r, 2, &cfg, false);
    let mut rc = r.client();
    linked(&mut rc, &m);
    converge(&mut mc, &mut rc);
    assert_eq!(info_num(&mut mc, "stats", "sync_full"), full + 2);
}
