//! Replication: real masters and replicas on loopback, one stream per master shard
//! (convergence, read-only replicas, TLS and keys, expiry, WAIT, promotion). Resync,
//! failover and lag: tests/replication_resync.rs.

#[path = "common/certs.rs"]
mod certs;
mod common;

use common::repl::*;
use common::{free_config_port, Server};
use redis::Value;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

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
    // ROLE, as Redis answers it.
    let role = q(&mut mc, &["ROLE"]);
    let Value::Array(parts) = role else {
        panic!("ROLE: {role:?}")
    };
    assert_eq!(parts[0], Value::BulkString(b"master".to_vec()));
    assert!(matches!(parts[1], Value::Int(o) if o > 0), "{parts:?}");
    assert!(
        matches!(&parts[2], Value::Array(r) if r.len() == 2),
        "{parts:?}"
    );
    let role = q(&mut c2, &["ROLE"]);
    let Value::Array(parts) = role else {
        panic!("ROLE: {role:?}")
    };
    assert_eq!(
        parts[..4],
        [
            Value::BulkString(b"slave".to_vec()),
            Value::BulkString(b"127.0.0.1".to_vec()),
            Value::Int(m.repl_port as i64),
            Value::BulkString(b"connected".to_vec()),
        ]
    );
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
    let repl_port = free_config_port();
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
            free_config_port(),
            ca.display()
        ),
    );
    let s = Server::start_with(shards, &["-c", &cfg]);
    std::mem::forget(dir);
    s
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

#[test]
fn multi_key_commands_across_replica_shards_converge() {
    // One master shard: every command's keys are together there, spread over 3 replica shards
    // (and the persistent replica replays what it journaled for them after a restart).
    let m = master(1);
    let mut mc = m.server.client();
    let (r, cfg) = persistent_replica(3, &m);
    linked(&mut r.client(), &m);
    for i in 0..40 {
        let (a, b, c) = (format!("a{i}"), format!("b{i}"), format!("c{i}"));
        q(&mut mc, &["SET", &a, &format!("va{i}"), "EX", "900"]);
        q(&mut mc, &["RENAME", &a, &b]);
        q(&mut mc, &["RPUSH", &a, "1", "2", "3"]);
        q(&mut mc, &["RPOPLPUSH", &a, &c]);
        q(&mut mc, &["LMOVE", &a, &c, "LEFT", "RIGHT"]);
        q(&mut mc, &["SADD", &format!("s{i}"), "x", "y", "z"]);
        q(&mut mc, &["SADD", &format!("t{i}"), "y", "w"]);
        q(&mut mc, &["SMOVE", &format!("s{i}"), &format!("t{i}"), "x"]);
        q(
            &mut mc,
            &[
                "SINTERSTORE",
                &format!("u{i}"),
                &format!("s{i}"),
                &format!("t{i}"),
            ],
        );
        q(
            &mut mc,
            &[
                "SUNIONSTORE",
                &format!("v{i}"),
                &format!("s{i}"),
                &format!("t{i}"),
            ],
        );
        q(
            &mut mc,
            &["MSETNX", &format!("n{i}"), "1", &format!("o{i}"), "2"],
        );
        q(&mut mc, &["COPY", &c, &format!("d{i}")]);
        q(&mut mc, &["INCR", &format!("ctr{i}")]);
        q(
            &mut mc,
            &["RENAME", &format!("ctr{i}"), &format!("ctr2{i}")],
        );
        q(&mut mc, &["INCR", &format!("ctr2{i}")]);
    }
    let mut rc = r.client();
    converge(&mut mc, &mut rc);
    assert!(!r.log().contains("not applied"), "{}", r.log());
    let r = respawn(r, 3, &cfg, false);
    let mut rc = r.client();
    linked(&mut rc, &m);
    converge(&mut mc, &mut rc);
}
