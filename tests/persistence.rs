//! Durability with real processes: per-shard AOF under `kill -9`, torn and corrupt files,
//! snapshots (SAVE, BGSAVE, `save` rules), re-sharding on restart, INFO and health reporting.

mod common;

use common::dataset::{dump, q};
use common::{bin, free_port};
use redis::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A server on a data directory that outlives it.
struct Node {
    child: Child,
    port: u16,
    http_port: u16,
}

fn config(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join(format!("synap-{}.yml", free_port()));
    std::fs::write(&p, body).expect("write config");
    p
}

/// Starts a server on `data` and waits until it answers PING (i.e. has loaded its data).
/// Returns Err(stderr) when it exits instead.
fn try_start(data: &Path, shards: usize, yaml: &str) -> Result<Node, String> {
    let cfg = config(data.parent().unwrap_or(data), yaml);
    let (port, http_port) = (free_port(), free_port());
    let mut child = Command::new(bin())
        .arg("--config")
        .arg(&cfg)
        .args([
            "--port",
            &port.to_string(),
            "--http-port",
            &http_port.to_string(),
        ])
        .args(["--shards", &shards.to_string(), "--data-dir"])
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            return Err(err);
        }
        if let Ok(c) = redis::Client::open(format!("redis://127.0.0.1:{port}/")) {
            if let Ok(mut conn) = c.get_connection_with_timeout(Duration::from_millis(500)) {
                // PONG from *this* process (another test's server may have taken the port).
                let info: String = redis::cmd("INFO")
                    .arg("server")
                    .query(&mut conn)
                    .unwrap_or_default();
                let ours = info.contains(&format!("process_id:{}\r\n", child.id()));
                if let Ok(Value::SimpleString(s)) = redis::cmd("PING").query::<Value>(&mut conn) {
                    if s == "PONG" && ours {
                        return Ok(Node {
                            child,
                            port,
                            http_port,
                        });
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    Err("did not start in 60 s".into())
}

fn start(data: &Path, shards: usize, yaml: &str) -> Node {
    let mut last = String::new();
    for _ in 0..3 {
        match try_start(data, shards, yaml) {
            Ok(n) => return n,
            // Another test took the free port between our check and the bind: new ports.
            Err(e) if e.contains("already in use") || e.contains("in use by another") => last = e,
            Err(e) => panic!("synap-server failed: {e}"),
        }
    }
    panic!("synap-server failed: {last}")
}

impl Node {
    fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .expect("client")
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect")
    }

    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn stop(mut self) {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let st = self.child.wait().expect("wait");
        assert_eq!(st.code(), Some(0), "clean exit");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ALWAYS: &str = "persistence:\n  enabled: true\n  appendfsync: always\n";
const EVERYSEC: &str = "persistence:\n  enabled: true\n  appendfsync: everysec\n";

fn int(v: Value) -> i64 {
    match v {
        Value::Int(i) => i,
        other => panic!("not an integer: {other:?}"),
    }
}

fn bulk(v: Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::Nil => None,
        other => panic!("not a bulk: {other:?}"),
    }
}

fn fill(c: &mut redis::Connection, n: usize) {
    for i in 0..n {
        let k = format!("k{i}");
        match i % 5 {
            0 => {
                q(c, &["SET", &k, &format!("v{i}\r\n\0")]);
            }
            1 => {
                q(c, &["RPUSH", &k, "a", "b", &i.to_string()]);
            }
            2 => {
                q(c, &["HSET", &k, "f", "1", "g", &i.to_string()]);
            }
            3 => {
                q(c, &["SADD", &k, "x", "7", &i.to_string()]);
            }
            _ => {
                q(c, &["SET", &k, "ttl", "EX", "1000"]);
            }
        }
        if i % 7 == 0 {
            q(c, &["PEXPIRE", &k, "900000"]);
        }
    }
    // Things whose replay differs from the command: random pops, cross-shard moves, stores.
    q(c, &["SADD", "pool", "1", "2", "3", "4", "5", "6"]);
    q(c, &["SPOP", "pool", "2"]);
    q(c, &["RPUSH", "src", "1", "2", "3"]);
    q(c, &["LMOVE", "src", "dst", "LEFT", "RIGHT"]);
    q(c, &["SUNIONSTORE", "union", "k3", "k8", "pool"]);
    q(c, &["RENAME", "k0", "renamed"]);
    q(c, &["INCRBYFLOAT", "float", "1.1"]);
    q(c, &["SETEX", "short", "1", "gone soon"]);
    // Sorted sets: small and large, pops, stores and ZMPOP across shards.
    q(
        c,
        &["ZADD", "z1", "1", "a", "0.1", "b", "-inf", "c", "-0", "d"],
    );
    q(c, &["ZINCRBY", "z1", "2.5", "a"]);
    let mut big = vec!["ZADD".to_string(), "zbig".into()];
    for i in 0..300 {
        big.push(format!("{}", i as f64 / 7.0));
        big.push(format!("m{i}"));
    }
    let refs: Vec<&str> = big.iter().map(|s| s.as_str()).collect();
    q(c, &refs);
    q(c, &["ZADD", "zbig", "-0", "negzero"]);
    q(c, &["ZPOPMIN", "zbig", "3"]);
    q(c, &["ZREMRANGEBYSCORE", "zbig", "10", "20"]);
    q(c, &["ZMPOP", "2", "nokey", "z1", "MAX"]);
    q(
        c,
        &[
            "ZUNIONSTORE",
            "zunion",
            "3",
            "z1",
            "zbig",
            "pool",
            "WEIGHTS",
            "1",
            "2",
            "3",
        ],
    );
    q(
        c,
        &[
            "ZRANGESTORE",
            "zrange",
            "zbig",
            "5",
            "(30",
            "BYSCORE",
            "LIMIT",
            "2",
            "40",
        ],
    );
}

#[test]
fn acknowledged_writes_survive_kill_9_with_appendfsync_always() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    // Per writer thread: how many SETs / INCRs / RPUSHes were acknowledged.
    let acked: Arc<Mutex<Vec<(u64, u64, u64)>>> = Arc::new(Mutex::new(vec![(0, 0, 0); 4]));
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    for round in 0..5 {
        let node = start(&data, 4, ALWAYS);
        // Everything acknowledged in earlier rounds is here, with its value and TTL.
        {
            let mut c = node.client();
            let a = acked.lock().expect("lock").clone();
            for (t, &(sets, incrs, pushes)) in a.iter().enumerate() {
                for i in 0..sets {
                    let k = format!("w{t}:{i}");
                    assert_eq!(
                        bulk(q(&mut c, &["GET", &k])),
                        Some(format!("value-{i}").into_bytes()),
                        "round {round}: {k} lost"
                    );
                    let ttl = int(q(&mut c, &["TTL", &k]));
                    assert!(ttl > 0 && ttl <= 100_000, "round {round}: {k} ttl {ttl}");
                }
                let n = bulk(q(&mut c, &["GET", &format!("count{t}")]))
                    .map(|b| String::from_utf8_lossy(&b).parse::<u64>().expect("int"))
                    .unwrap_or(0);
                // A write may be on disk without its reply having arrived: at most one more.
                assert!(n == incrs || n == incrs + 1, "count{t}: {n} vs {incrs}");
                let len = int(q(&mut c, &["LLEN", &format!("list{t}")])) as u64;
                assert!(
                    len == pushes || len == pushes + 1,
                    "list{t}: {len} vs {pushes}"
                );
            }
            // Re-align counters with what is stored (an unacknowledged write may have landed).
            let mut a = acked.lock().expect("lock");
            for (t, e) in a.iter_mut().enumerate() {
                e.1 = bulk(q(&mut c, &["GET", &format!("count{t}")]))
                    .map(|b| String::from_utf8_lossy(&b).parse::<u64>().expect("int"))
                    .unwrap_or(0);
                e.2 = int(q(&mut c, &["LLEN", &format!("list{t}")])) as u64;
                // An unacknowledged SET may have landed too: start after it.
                while q(&mut c, &["EXISTS", &format!("w{t}:{}", e.0)]) == Value::Int(1) {
                    e.0 += 1;
                }
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for t in 0..4 {
            let (stop, acked) = (stop.clone(), acked.clone());
            let port = node.port;
            threads.push(std::thread::spawn(move || {
                let Ok(cl) = redis::Client::open(format!("redis://127.0.0.1:{port}/")) else {
                    return;
                };
                let Ok(mut c) = cl.get_connection_with_timeout(Duration::from_secs(5)) else {
                    return;
                };
                while !stop.load(Ordering::Relaxed) {
                    let i = acked.lock().expect("lock")[t].0;
                    let r: redis::RedisResult<Value> = redis::cmd("SET")
                        .arg(format!("w{t}:{i}"))
                        .arg(format!("value-{i}"))
                        .arg("EX")
                        .arg(100_000)
                        .query(&mut c);
                    if r.is_err() {
                        return;
                    }
                    acked.lock().expect("lock")[t].0 += 1;
                    if redis::cmd("INCR")
                        .arg(format!("count{t}"))
                        .query::<Value>(&mut c)
                        .is_err()
                    {
                        return;
                    }
                    acked.lock().expect("lock")[t].1 += 1;
                    if redis::cmd("RPUSH")
                        .arg(format!("list{t}"))
                        .arg(i)
                        .query::<Value>(&mut c)
                        .is_err()
                    {
                        return;
                    }
                    acked.lock().expect("lock")[t].2 += 1;
                }
            }));
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(150 + rng % 500));
        node.kill9();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            let _ = t.join();
        }
    }
    let total: u64 = acked.lock().expect("lock").iter().map(|a| a.0).sum();
    assert!(
        total > 100,
        "the load wrote too little to mean anything: {total}"
    );
}

#[test]
fn everysec_loses_at_most_about_a_second() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let node = start(&data, 2, EVERYSEC);
    let mut c = node.client();
    let started = Instant::now();
    let mut acked_at = Vec::new();
    while started.elapsed() < Duration::from_millis(2500) {
        let i = acked_at.len();
        q(&mut c, &["SET", &format!("s{i}"), "v"]);
        acked_at.push(Instant::now());
    }
    let killed = Instant::now();
    node.kill9();
    let node = start(&data, 2, EVERYSEC);
    let mut c = node.client();
    let mut missing = 0;
    for (i, at) in acked_at.iter().enumerate() {
        if q(&mut c, &["EXISTS", &format!("s{i}")]) == Value::Int(0) {
            missing += 1;
            let age = killed.duration_since(*at);
            assert!(
                age < Duration::from_millis(1500),
                "s{i} acknowledged {age:?} before the kill was lost"
            );
        }
    }
    eprintln!(
        "everysec: {} writes, {missing} lost at kill -9",
        acked_at.len()
    );
}

#[test]
fn every_type_and_replay_rewrite_survives_restart_and_bgsave() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let node = start(&data, 3, ALWAYS);
    let mut c = node.client();
    fill(&mut c, 200);
    std::thread::sleep(Duration::from_millis(1100)); // "short" expires
    let before = dump(&mut c);
    assert!(!before.contains_key("short"));
    node.kill9();
    let node = start(&data, 3, ALWAYS);
    let mut c = node.client();
    assert_eq!(dump(&mut c), before, "after AOF replay");
    // A snapshot + new segment (AOF rewrite), more writes, restart.
    assert_eq!(
        q(&mut c, &["BGREWRITEAOF"]),
        Value::SimpleString("Background append only file rewriting started".into())
    );
    q(&mut c, &["SET", "after-rewrite", "1"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("persistence")
            .query(&mut c)
            .expect("info");
        if info.contains("rdb_bgsave_in_progress:0") && info.contains("rdb_saves:3") {
            break;
        }
        assert!(Instant::now() < deadline, "BGSAVE did not finish: {info}");
        std::thread::sleep(Duration::from_millis(20));
    }
    q(&mut c, &["DEL", "k1"]);
    let expect = dump(&mut c);
    node.kill9();
    let files: Vec<String> = std::fs::read_dir(data.join("n3"))
        .expect("layout")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.iter().any(|f| f.ends_with(".snap")), "{files:?}");
    let node = start(&data, 3, ALWAYS);
    let mut c = node.client();
    assert_eq!(dump(&mut c), expect, "after snapshot + AOF tail");
    let last = int(q(&mut c, &["LASTSAVE"]));
    assert!(last > 0);
}

#[test]
fn restart_with_a_different_shard_count_keeps_every_key() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let node = start(&data, 1, EVERYSEC);
    let mut c = node.client();
    fill(&mut c, 300);
    std::thread::sleep(Duration::from_millis(1100));
    let expect = dump(&mut c);
    node.stop();
    for shards in [4, 2] {
        let node = start(&data, shards, EVERYSEC);
        let mut c = node.client();
        assert_eq!(dump(&mut c), expect, "with {shards} shards");
        let info: String = redis::cmd("INFO")
            .arg("keyspace")
            .query(&mut c)
            .expect("info");
        assert!(info.contains(&format!("keys={}", expect.len())), "{info}");
        node.stop();
        assert!(
            !data.join("n1").exists() || shards != 4,
            "old layout removed"
        );
        let current = std::fs::read_to_string(data.join("CURRENT")).expect("CURRENT");
        assert_eq!(current.trim(), format!("n{shards}"));
    }
}

#[test]
fn snapshots_without_aof_save_and_save_rules() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let yaml = "persistence:\n  enabled: false\n  save: \"1 1\"\n";
    let node = start(&data, 2, yaml);
    let mut c = node.client();
    fill(&mut c, 50);
    assert_eq!(q(&mut c, &["SAVE"]), Value::Okay);
    let saved = int(q(&mut c, &["LASTSAVE"]));
    q(&mut c, &["SET", "by-rule", "1"]);
    // The rule (1 change in 1 s) takes another snapshot on its own.
    std::thread::sleep(Duration::from_millis(2500));
    let expect = dump(&mut c);
    node.kill9();
    let node = start(&data, 2, yaml);
    let mut c = node.client();
    assert_eq!(dump(&mut c), expect);
    assert!(int(q(&mut c, &["LASTSAVE"])) >= saved);
    // A SIGTERM with save rules and no AOF writes a final snapshot.
    q(&mut c, &["SET", "at-shutdown", "1"]);
    node.stop();
    let node = start(&data, 2, yaml);
    let mut c = node.client();
    assert_eq!(
        bulk(q(&mut c, &["GET", "at-shutdown"])),
        Some(b"1".to_vec())
    );
}

/// SHUTDOWN from a client stops the server like SIGTERM (exit 0, no reply: the connection
/// closes); SAVE forces the final snapshot, NOSAVE skips the one the save rules would take.
#[test]
fn shutdown_save_and_nosave() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    // A rule that never fires during the test: only shutdown snapshots count.
    let yaml = "persistence:\n  enabled: false\n  save: \"3600 1\"\n";
    let exits = |mut node: Node, args: &[&str]| {
        let mut c = node.client();
        let mut cmd = redis::cmd("SHUTDOWN");
        for a in args {
            cmd.arg(*a);
        }
        assert!(
            cmd.query::<Value>(&mut c).is_err(),
            "no reply, connection closed"
        );
        let st = node.child.wait().expect("wait");
        assert_eq!(st.code(), Some(0), "SHUTDOWN {args:?}: clean exit");
    };
    let node = start(&data, 2, yaml);
    let mut c = node.client();
    let err = |c: &mut redis::Connection, args: &[&str]| {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query::<Value>(c).expect_err("error").to_string()
    };
    assert!(err(&mut c, &["SHUTDOWN", "BOGUS"]).contains("syntax error"));
    assert!(err(&mut c, &["SHUTDOWN", "SAVE", "NOSAVE"]).contains("syntax error"));
    assert!(err(&mut c, &["SHUTDOWN", "ABORT"]).contains("No shutdown in progress"));
    q(&mut c, &["SET", "saved", "1"]);
    exits(node, &["SAVE"]);
    let node = start(&data, 2, yaml);
    let mut c = node.client();
    assert_eq!(bulk(q(&mut c, &["GET", "saved"])), Some(b"1".to_vec()));
    q(&mut c, &["SET", "not-saved", "1"]);
    exits(node, &["NOSAVE", "NOW"]);
    let node = start(&data, 2, yaml);
    let mut c = node.client();
    assert_eq!(bulk(q(&mut c, &["GET", "not-saved"])), None);
    assert_eq!(bulk(q(&mut c, &["GET", "saved"])), Some(b"1".to_vec()));
    // redis-py's shutdown() treats the closed connection as success.
    let py = format!(
        "import redis\nredis.Redis(port={}).shutdown(nosave=True)\nprint('ok')",
        node.port
    );
    let have_py = Command::new("python3")
        .args(["-c", "import redis"])
        .status()
        .is_ok_and(|s| s.success());
    if have_py {
        let out = Command::new("python3")
            .args(["-c", &py])
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
        let mut node = node;
        let st = node.child.wait().expect("wait");
        assert_eq!(st.code(), Some(0));
    } else {
        eprintln!("redis-py is not installed (pip install redis): skipping its shutdown()");
    }
}

/// A small AOF of one shard, written by the server, and its path.
fn small_aof(tmp: &Path) -> (PathBuf, PathBuf, Vec<u8>) {
    let data = tmp.join("data");
    let node = start(&data, 1, ALWAYS);
    let mut c = node.client();
    for i in 0..5 {
        q(&mut c, &["SET", &format!("key{i}"), &format!("val{i}")]);
    }
    node.stop();
    let aof = data.join("n1").join("shard-0.000001.aof");
    let mut bytes = std::fs::read(&aof).expect("aof");
    // The segment is zero-filled ahead of its records: keep the records only.
    let end = synap::persist::aof::scan(&bytes).expect("scan").good_end as usize;
    assert!(end > 28 && bytes[end..].iter().all(|&b| b == 0));
    bytes.truncate(end);
    (data, aof, bytes)
}

fn keys_present(node: &Node) -> usize {
    let mut c = node.client();
    (0..5)
        .filter(|i| q(&mut c, &["EXISTS", &format!("key{i}")]) == Value::Int(1))
        .count()
}

#[test]
fn torn_aof_is_truncated_at_every_cut_and_refused_when_told() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (data, aof, bytes) = small_aof(tmp.path());
    let header = 28;
    let mut last_present = 0;
    for cut in header..=bytes.len() {
        std::fs::write(&aof, &bytes[..cut]).expect("cut");
        let node = start(&data, 1, ALWAYS);
        let n = keys_present(&node);
        assert!(
            n >= last_present,
            "cut {cut}: fewer keys than a shorter cut"
        );
        last_present = n;
        node.stop();
        // The torn tail was cut off: the file now ends at a record boundary and keeps working.
        let now = std::fs::read(&aof).expect("aof");
        assert!(now.len() <= cut + 200);
    }
    assert_eq!(last_present, 5);
    // aof_load_truncated: false refuses a torn file, naming it and the offset.
    std::fs::write(&aof, &bytes[..bytes.len() - 3]).expect("cut");
    let strict = "persistence:\n  enabled: true\n  aof_load_truncated: false\n";
    let err = try_start(&data, 1, strict).err().expect("refused");
    assert!(
        err.contains("shard-0.000001.aof") && err.contains("offset"),
        "{err}"
    );
}

#[test]
fn corrupt_aof_record_stops_start_up_and_check_aof_fix_repairs_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (data, aof, bytes) = small_aof(tmp.path());
    // Flip a byte inside the second record's payload: good data follows it.
    let second =
        28 + 8 + (u32::from_le_bytes([bytes[28], bytes[29], bytes[30], bytes[31]]) as usize);
    let mut bad = bytes.clone();
    bad[second + 10] ^= 0x01;
    std::fs::write(&aof, &bad).expect("write");
    let err = try_start(&data, 1, ALWAYS).err().expect("refused");
    assert!(
        err.contains("shard-0.000001.aof") && err.contains(&format!("offset {second}")),
        "{err}"
    );
    let admin = Path::new(bin()).with_file_name("synap-admin");
    let out = Command::new(&admin)
        .arg("check-aof")
        .arg(&aof)
        .output()
        .expect("check-aof");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("offset {second}")), "{text}");
    let out = Command::new(&admin)
        .args(["check-aof", "--fix"])
        .arg(&aof)
        .output()
        .expect("check-aof --fix");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let node = start(&data, 1, ALWAYS);
    assert_eq!(
        keys_present(&node),
        1,
        "the record before the bad one is kept"
    );
    // Flipped bytes (every 5th offset here; every offset in the unit test of
    // `persist::aof::scan`): a refusal or a truncation, never a panic or wrong data.
    node.stop();
    for i in (0..bytes.len()).step_by(5) {
        let mut bad = bytes.clone();
        bad[i] ^= 0x20;
        std::fs::write(&aof, &bad).expect("write");
        match try_start(&data, 1, ALWAYS) {
            Err(e) => assert!(!e.contains("panicked"), "flip {i}: {e}"),
            Ok(node) => {
                let mut c = node.client();
                for k in 0..5 {
                    if let Some(v) = bulk(q(&mut c, &["GET", &format!("key{k}")])) {
                        assert_eq!(v, format!("val{k}").into_bytes(), "flip {i}: wrong data");
                    }
                }
            }
        }
    }
}

#[test]
fn info_health_and_metrics_report_persistence() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let node = start(&data, 2, ALWAYS);
    let mut c = node.client();
    fill(&mut c, 20);
    q(&mut c, &["SAVE"]);
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query(&mut c)
        .expect("info");
    for field in [
        "loading:0",
        "aof_enabled:1",
        "aof_fsync:always",
        "aof_last_write_status:ok",
        "rdb_saves:2",
        "aof_current_size:",
        "shard1:aof_size=",
    ] {
        assert!(info.contains(field), "{field} missing from {info}");
    }
    let http = |path: &str| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", node.http_port)).expect("http");
        use std::io::Write;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("w");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    let health = http("/health/kv");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(
        health.contains("\"aof_enabled\":true") && health.contains("\"loading\":false"),
        "{health}"
    );
    let metrics = http("/metrics");
    for m in [
        "synap_aof_written_bytes_total{shard=\"0\"}",
        "synap_aof_fsync_seconds_bucket{",
        "synap_snapshot_duration_seconds{shard=\"1\"}",
        "synap_snapshot_age_seconds{shard=\"0\"}",
    ] {
        assert!(metrics.contains(m), "{m} missing");
    }
}

#[test]
fn the_aof_is_rewritten_when_it_grows() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let yaml = "persistence:\n  enabled: true\n  aof_rewrite_percentage: 100\n  aof_rewrite_min_size: 64kb\n";
    let node = start(&data, 1, yaml);
    let mut c = node.client();
    let v = "x".repeat(100);
    for i in 0..3000 {
        q(&mut c, &["SET", &format!("grow{}", i % 500), &v]);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("persistence")
            .query(&mut c)
            .expect("info");
        if info.contains("aof_rewrites:1") || info.contains("aof_rewrites:2") {
            break;
        }
        assert!(Instant::now() < deadline, "no automatic rewrite: {info}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let expect = dump(&mut c);
    node.kill9();
    let node = start(&data, 1, yaml);
    assert_eq!(dump(&mut node.client()), expect);
}
