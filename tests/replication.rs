//! Replication: real masters and replicas on loopback, one stream per master shard.

#[path = "common/certs.rs"]
mod certs;
mod common;

use common::{free_port, Server};
use redis::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn q(c: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query::<Value>(c)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Every key with its type, value (canonical text) and its absolute expiry rounded to 1 s.
fn dump(c: &mut redis::Connection) -> BTreeMap<String, (String, String, i64)> {
    let mut out = BTreeMap::new();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).expect("keys");
    for k in keys {
        let t: String = redis::cmd("TYPE").arg(&k).query(c).expect("type");
        let v = match t.as_str() {
            "string" => format!("{:?}", q(c, &["GET", &k])),
            "list" => format!("{:?}", q(c, &["LRANGE", &k, "0", "-1"])),
            "hash" => {
                let mut m: Vec<(String, String)> =
                    redis::cmd("HGETALL").arg(&k).query(c).expect("hgetall");
                m.sort();
                format!("{m:?}")
            }
            "set" => {
                let mut m: Vec<String> = redis::cmd("SMEMBERS").arg(&k).query(c).expect("smembers");
                m.sort();
                format!("{m:?}")
            }
            other => format!("type {other}"),
        };
        let at: i64 = redis::cmd("PEXPIRETIME").arg(&k).query(c).unwrap_or(-3);
        out.insert(k, (t, v, if at > 0 { at / 1000 } else { at }));
    }
    out
}

fn write_config(dir: &std::path::Path, name: &str, yaml: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, yaml).expect("config");
    p.display().to_string()
}

struct Master {
    server: Server,
    repl_port: u16,
}

fn master(shards: usize) -> Master {
    let repl_port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        "master.yml",
        &format!("replication:\n  enabled: true\n  listen_port: {repl_port}\n"),
    );
    let server = Server::start_with(shards, &["-c", &cfg]);
    std::mem::forget(dir);
    Master { server, repl_port }
}

fn replica(shards: usize, m: &Master) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        "replica.yml",
        &format!(
            "server:\n  role: replica\nreplication:\n  enabled: true\n  master_host: 127.0.0.1\n  master_port: {}\n  listen_port: {}\n",
            m.repl_port,
            free_port()
        ),
    );
    let s = Server::start_with(shards, &["-c", &cfg]);
    std::mem::forget(dir);
    s
}

fn fill(c: &mut redis::Connection, from: usize, n: usize) {
    for i in from..from + n {
        let k = format!("k{i}");
        match i % 6 {
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
                q(c, &["SADD", &k, "x", "y", &i.to_string()]);
            }
            4 => {
                q(c, &["SET", &k, "ttl", "EX", "1000"]);
            }
            _ => {
                q(c, &["INCRBY", &k, &i.to_string()]);
                q(c, &["EXPIRE", &k, "500"]);
            }
        }
    }
    q(
        c,
        &[
            "MSET", "m1", "1", "m2", "2", "m3", "3", "{t}a", "x", "{t}b", "y",
        ],
    );
    q(c, &["DEL", "k0", "k1", "k2"]);
    q(c, &["SET", "short", "gone", "PX", "1"]);
}

fn converge(master: &mut redis::Connection, replica: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        // The master's view too: a key with a 1 ms TTL may still be listed at the first look.
        let want = dump(master);
        let got = dump(replica);
        if got == want {
            return;
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = want
                .keys()
                .filter(|k| !got.contains_key(*k))
                .take(5)
                .collect();
            let extra: Vec<_> = got
                .keys()
                .filter(|k| !want.contains_key(*k))
                .take(5)
                .collect();
            let diff: Vec<_> = want
                .iter()
                .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
                .take(5)
                .collect();
            panic!(
                "replica did not converge: {} vs {} keys; missing {missing:?} extra {extra:?} differing {diff:?}",
                got.len(),
                want.len()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn info(c: &mut redis::Connection) -> String {
    redis::cmd("INFO")
        .arg("replication")
        .query::<String>(c)
        .expect("info")
}

#[test]
fn two_replicas_converge_and_refuse_writes() {
    let m = master(3);
    let mut mc = m.server.client();
    fill(&mut mc, 0, 300); // before the replicas: full sync
    let r1 = replica(3, &m);
    let r2 = replica(2, &m); // a different shard count
    fill(&mut mc, 300, 300); // streamed
    let mut c1 = r1.client();
    let mut c2 = r2.client();
    converge(&mut mc, &mut c1);
    converge(&mut mc, &mut c2);
    let mut raw = r1.raw();
    assert_eq!(
        common::send_raw(&mut raw, b"SET a b\r\n"),
        b"-READONLY You can't write against a read only replica.\r\n"
    );
    assert_eq!(
        common::send_raw(&mut raw, b"GET k6\r\n"),
        b"$5\r\nv6\r\n\0\r\n"
    );
    let i = info(&mut c1);
    assert!(i.contains("role:slave"), "{i}");
    assert!(i.contains("master_link_status:up"), "{i}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let i = info(&mut mc);
        if i.contains("connected_slaves:2") && i.contains("slave1:ip=127.0.0.1") {
            break;
        }
        assert!(Instant::now() < deadline, "{i}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // FLUSHALL and later writes stream too.
    q(&mut mc, &["FLUSHALL"]);
    fill(&mut mc, 1000, 60);
    converge(&mut mc, &mut c1);
    converge(&mut mc, &mut c2);
}

#[test]
fn restarted_replica_converges() {
    let m = master(2);
    let mut mc = m.server.client();
    fill(&mut mc, 0, 100);
    let mut r = replica(2, &m);
    converge(&mut mc, &mut r.client());
    r.terminate();
    fill(&mut mc, 100, 100);
    let r = replica(4, &m);
    converge(&mut mc, &mut r.client());
}

#[test]
fn garbage_on_the_replication_port_is_harmless() {
    let m = master(2);
    let mut mc = m.server.client();
    for junk in [
        &b"hello world\n"[..],
        b"SYNC 99 x ? 0 1 -\n",
        b"SYNC a b c d e f\n",
        &[0xffu8; 5000][..],
        b"INFO",
    ] {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", m.repl_port)).expect("connect");
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = s.write_all(junk);
        let mut buf = [0u8; 256];
        let _ = s.read(&mut buf);
    }
    q(&mut mc, &["SET", "still", "alive"]);
    let r = replica(2, &m);
    converge(&mut mc, &mut r.client());
}

#[test]
fn replicaof_no_one_promotes() {
    let m = master(2);
    let mut mc = m.server.client();
    fill(&mut mc, 0, 30);
    let r = replica(2, &m);
    let mut rc = r.client();
    converge(&mut mc, &mut rc);
    // synap-admin promote-replica sends REPLICAOF NO ONE.
    let admin = std::path::Path::new(common::bin()).with_file_name("synap-admin");
    let out = std::process::Command::new(admin)
        .args(["promote-replica", "--port", &r.port.to_string()])
        .output()
        .expect("synap-admin");
    assert!(out.status.success(), "{out:?}");
    assert!(info(&mut rc).contains("role:master"));
    q(&mut rc, &["SET", "mine", "1"]);
    q(&mut mc, &["SET", "k4", "changed"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        q(&mut rc, &["GET", "mine"]),
        Value::BulkString(b"1".to_vec())
    );
    assert_eq!(
        q(&mut rc, &["GET", "k4"]),
        Value::BulkString(b"ttl".to_vec())
    );
}

/// A master serving TLS on its RESP and replication ports, ready once a TLS PING answers.
fn tls_master(dir: &std::path::Path, ca: &certs::Ca, shards: usize) -> Master {
    let pair = ca.server(dir, "master");
    let repl_port = free_port();
    let cfg = write_config(
        dir,
        "master.yml",
        &format!(
            "server:\n  tls:\n    enabled: true\n    cert_path: {}\n    key_path: {}\nreplication:\n  enabled: true\n  listen_port: {repl_port}\n",
            pair.cert.display(),
            pair.key.display()
        ),
    );
    let probe = synap::tls::client_config(None, None, true).expect("client config");
    let server = Server::spawn(shards, &["-c", &cfg], None, &move |port| {
        tls_call(port, probe.clone(), "PING\r\n").is_some_and(|r| r.starts_with("+PONG"))
    });
    Master { server, repl_port }
}

/// One command over a fresh TLS connection; the raw reply.
fn tls_call(port: u16, config: std::sync::Arc<rustls::ClientConfig>, cmd: &str) -> Option<String> {
    let sock = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    sock.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let name = rustls::pki_types::ServerName::try_from("localhost").ok()?;
    let conn = rustls::ClientConnection::new(config, name).ok()?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(cmd.as_bytes()).ok()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while synap::protocol::read::skip(&out, 0).is_none() {
        let n = tls.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn tls_client(port: u16, ca: &std::path::Path, key: &str) -> redis::Connection {
    redis::Client::build_with_tls(
        format!("rediss://:{key}@localhost:{port}/"),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(std::fs::read(ca).expect("ca")),
        },
    )
    .expect("client")
    .get_connection_with_timeout(Duration::from_secs(5))
    .expect("TLS connection")
}

/// A replica following `m` over TLS (trusting `ca`) with `key`.
fn tls_replica(shards: usize, m: &Master, ca: &std::path::Path, key: &str) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        "replica.yml",
        &format!(
            "server:\n  role: replica\nreplication:\n  enabled: true\n  master_host: 127.0.0.1\n  master_port: {}\n  listen_port: {}\n  tls: true\n  tls_ca_path: {}\n  api_key: {key}\n",
            m.repl_port,
            free_port(),
            ca.display()
        ),
    );
    let s = Server::start_with(shards, &["-c", &cfg]);
    std::mem::forget(dir);
    s
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn replication_over_tls_needs_an_admin_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = certs::Ca::new(dir.path(), "repl");
    let m = tls_master(dir.path(), &ca, 3);
    let insecure = synap::tls::client_config(None, None, true).expect("client config");
    // The first key (admin) from loopback, then a replication key and a readonly key.
    let created = tls_call(
        m.server.port,
        insecure.clone(),
        "APIKEY CREATE root admin\r\n",
    )
    .expect("apikey");
    let root = created.lines().nth(1).expect("key").to_string();
    let mut mc = tls_client(m.server.port, &ca.pem, &root);
    let repl = match q(&mut mc, &["APIKEY", "CREATE", "repl", "admin"]) {
        Value::BulkString(b) => String::from_utf8(b).expect("utf8"),
        other => panic!("{other:?}"),
    };
    let ro = match q(&mut mc, &["APIKEY", "CREATE", "ro", "readonly"]) {
        Value::BulkString(b) => String::from_utf8(b).expect("utf8"),
        other => panic!("{other:?}"),
    };
    fill(&mut mc, 0, 200);

    // Plaintext on the TLS replication port gets nothing back.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", m.repl_port)).expect("connect");
    plain
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let _ = plain.write_all(format!("INFO {repl}\n").as_bytes());
    let mut buf = [0u8; 64];
    let n = plain.read(&mut buf).unwrap_or(0);
    assert!(!buf[..n].starts_with(b"+"), "{:?}", &buf[..n]);

    // Over TLS: no key, a wrong key and a readonly key are refused with Redis's texts.
    let raw_tls = |line: &str| {
        let mut out = String::new();
        if let Some(r) = tls_call(m.repl_port, insecure.clone(), line) {
            out = r;
        }
        out
    };
    assert_eq!(raw_tls("INFO -\n"), "-NOAUTH Authentication required.\n");
    assert_eq!(
        raw_tls("INFO synap_00\n"),
        "-WRONGPASS invalid username-password pair or user is disabled.\n"
    );
    assert!(raw_tls(&format!("SYNC 0 x ? 0 1 {ro}\n")).starts_with("-NOPERM"));
    assert!(raw_tls(&format!("INFO {repl}\n")).starts_with('+'));

    let good = tls_replica(2, &m, &ca.pem, &repl);
    let wrong = tls_replica(2, &m, &ca.pem, "synap_not_a_key");
    let mut gc = good.client();
    converge(&mut mc, &mut gc);
    fill(&mut mc, 200, 100);
    converge(&mut mc, &mut gc);
    // The wrong key never syncs; the master keeps serving.
    let mut wc = wrong.client();
    let i = info(&mut wc);
    assert!(i.contains("master_link_status:down"), "{i}");
    assert_eq!(q(&mut wc, &["DBSIZE"]), Value::Int(0));
    assert!(info(&mut mc).contains("connected_slaves:1"));
    assert!(m.server.log().contains("WRONGPASS"), "master log");

    // Revoking the replica's key closes its streams and refuses the reconnect.
    q(&mut mc, &["APIKEY", "REVOKE", "repl"]);
    wait_for("the link to go down", || {
        info(&mut gc).contains("master_link_status:down")
    });
    q(&mut mc, &["SET", "after-revoke", "1"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(q(&mut gc, &["EXISTS", "after-revoke"]), Value::Int(0));
    assert!(info(&mut gc).contains("master_link_status:down"));
    wait_for("connected_slaves:0", || {
        info(&mut mc).contains("connected_slaves:0")
    });
    assert_eq!(
        q(&mut mc, &["GET", "after-revoke"]),
        Value::BulkString(b"1".to_vec())
    );
}

#[test]
fn keys_the_master_expires_are_deleted_on_replicas() {
    let m = master(2);
    let mut mc = m.server.client();
    let r = replica(3, &m);
    let mut rc = r.client();
    wait_for("the link", || {
        info(&mut rc).contains("master_link_status:up")
    });
    let set_at = Instant::now();
    q(&mut mc, &["SET", "counter", "10", "PX", "2000"]);
    q(&mut mc, &["SET", "text", "old", "PX", "2000"]);
    for i in 0..50 {
        q(&mut mc, &["SET", &format!("gone{i}"), "1", "PX", "2000"]);
    }
    q(&mut mc, &["SET", "stays", "1"]);
    wait_for("the replica to get the keys", || {
        q(&mut rc, &["DBSIZE"]) == Value::Int(53)
    });
    std::thread::sleep(Duration::from_millis(2300).saturating_sub(set_at.elapsed()));
    // Writes on keys the master found expired: the master's DEL reaches the replica first.
    assert_eq!(q(&mut mc, &["INCR", "counter"]), Value::Int(1));
    assert_eq!(q(&mut mc, &["APPEND", "text", "new"]), Value::Int(3));
    wait_for("the replica to converge", || {
        q(&mut rc, &["GET", "counter"]) == Value::BulkString(b"1".to_vec())
            && q(&mut rc, &["GET", "text"]) == Value::BulkString(b"new".to_vec())
    });
    // Keys the master's active cycle removes are removed on the replica too (DBSIZE counts
    // entries not yet removed; the replica does not expire keys on its own).
    wait_for("the replica's DBSIZE to drop", || {
        q(&mut rc, &["DBSIZE"]) == Value::Int(3)
    });
    converge(&mut mc, &mut rc);
}

#[test]
fn wait_counts_replicas_that_acknowledged_the_writes() {
    let m = master(2);
    let mut mc = m.server.client();
    // No replica yet: WAIT 0 answers at once, WAIT 1 times out with 0.
    assert_eq!(q(&mut mc, &["WAIT", "0", "0"]), Value::Int(0));
    assert_eq!(q(&mut mc, &["WAIT", "1", "100"]), Value::Int(0));
    let e = redis::cmd("WAIT")
        .arg(1)
        .arg(-1)
        .query::<Value>(&mut mc)
        .expect_err("negative timeout");
    assert!(e.to_string().contains("timeout is negative"), "{e}");
    let r = replica(3, &m);
    let mut rc = r.client();
    fill(&mut mc, 0, 40);
    // The replica acknowledges every second: WAIT 1 returns 1 well before its timeout.
    let t = std::time::Instant::now();
    assert_eq!(q(&mut mc, &["WAIT", "1", "10000"]), Value::Int(1));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    converge(&mut mc, &mut rc);
    // Asking for more replicas than exist waits for the timeout and reports the one there is.
    q(&mut mc, &["SET", "after", "1"]);
    assert_eq!(q(&mut mc, &["WAIT", "2", "1500"]), Value::Int(1));
    // On the replica, WAIT is refused as in Redis.
    let mut cmd = redis::cmd("WAIT");
    cmd.arg(1).arg(10);
    let e = cmd.query::<Value>(&mut rc).expect_err("refused");
    assert!(e.to_string().contains("replica"), "{e}");
}

/// A field of `INFO section` as a number.
fn info_num(c: &mut redis::Connection, section: &str, field: &str) -> i64 {
    let text: String = redis::cmd("INFO").arg(section).query(c).expect("info");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {text}"))
}

/// A replica of `m` with its own AOF (everysec): (server, config path for restarts).
fn persistent_replica(shards: usize, m: &Master) -> (Server, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        "replica.yml",
        &format!(
            "server:\n  role: replica\npersistence:\n  enabled: true\n  appendfsync: everysec\nreplication:\n  enabled: true\n  master_host: 127.0.0.1\n  master_port: {}\n  listen_port: {}\n",
            m.repl_port,
            free_port()
        ),
    );
    let s = Server::start_with(shards, &["-c", &cfg]);
    std::mem::forget(dir);
    (s, cfg)
}

/// Stops `s` (SIGTERM, or SIGKILL when `kill9`) and starts it again on its data directory.
fn respawn(mut s: Server, shards: usize, cfg: &str, kill9: bool) -> Server {
    if kill9 {
        let _ = s.child.kill();
        let _ = s.child.wait();
    } else {
        s.terminate();
    }
    let dir = std::mem::replace(&mut s.dir, tempfile::tempdir().expect("tempdir"));
    drop(s);
    Server::spawn(shards, &["-c", cfg], Some(dir), &common::ping_probe)
}

/// Writes to a master until stopped: INCR on counters, RPUSH on lists, SET with a TTL. Every
/// write is acknowledged before the next one.
struct Writer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<u64>>,
}

impl Writer {
    fn start(port: u16, prefix: &str) -> Writer {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let prefix = prefix.to_string();
        let handle = std::thread::spawn(move || {
            let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
            let mut c = c.get_connection().expect("connect");
            let mut n = 0u64;
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let p = &prefix;
                q(&mut c, &["INCR", &format!("{p}c{}", n % 37)]);
                q(
                    &mut c,
                    &["RPUSH", &format!("{p}l{}", n % 11), &n.to_string()],
                );
                q(
                    &mut c,
                    &[
                        "SET",
                        &format!("{p}s{}", n % 101),
                        &n.to_string(),
                        "EX",
                        "1000",
                    ],
                );
                n += 1;
            }
            n
        });
        Writer {
            stop,
            handle: Some(handle),
        }
    }

    /// Stops and returns the rounds written.
    fn stop(mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle
            .take()
            .map(|h| h.join().expect("writer"))
            .unwrap_or(0)
    }
}

/// Waits until the replica's link to `m` is up (and checks it follows `m`, not a stray server).
fn linked(rc: &mut redis::Connection, m: &Master) {
    wait_for("the replica's link", || {
        let i = info(rc);
        i.contains("master_link_status:up")
    });
    let i = info(rc);
    assert!(
        i.contains(&format!("master_port:{}", m.repl_port)),
        "follows another master: {i}"
    );
}

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
    for kill9 in [false, true] {
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
    assert!(info_num(&mut mc, "stats", "sync_partial_ok") >= partial_before + 4);
    let i = info(&mut rc);
    assert!(
        i.contains("partial_syncs:2") && i.contains("full_syncs:0"),
        "{i}"
    );
}

/// A replica of the master at `repl_port` that can itself serve replicas: (server, its
/// replication port).
fn chained_replica(shards: usize, repl_port: u16) -> (Server, u16) {
    let dir = tempfile::tempdir().expect("tempdir");
    let own = free_port();
    let cfg = write_config(
        dir.path(),
        "replica.yml",
        &format!(
            "server:\n  role: replica\nreplication:\n  enabled: true\n  master_host: 127.0.0.1\n  master_port: {repl_port}\n  listen_port: {own}\n"
        ),
    );
    let s = Server::start_with(shards, &["-c", &cfg]);
    std::mem::forget(dir);
    (s, own)
}

fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let text = info(c);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {text}"))
        .trim()
        .to_string()
}

/// Sum of the counters `{prefix}c*` (each INCR of the writer adds one).
fn counted(c: &mut redis::Connection, prefix: &str) -> i64 {
    (0..37)
        .map(|k| {
            let v: Option<i64> = redis::cmd("GET")
                .arg(format!("{prefix}c{k}"))
                .query(c)
                .expect("get");
            v.unwrap_or(0)
        })
        .sum()
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

/// `GET path` on an HTTP port: (status, body).
fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

/// The value of the series `name{labels}` in a metrics page.
fn series(body: &str, name_labels: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name_labels)?.trim().parse().ok())
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
    let (st, body) = http_get(m.server.http_port, "/health/replication");
    assert_eq!(st, 200);
    let h: serde_json::Value = serde_json::from_str(&body).expect("json");
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
