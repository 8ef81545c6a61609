//! Replication: real masters and replicas on loopback, one stream per master shard.

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
    let want = dump(master);
    loop {
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
    assert_eq!(q(&mut rc, &["REPLICAOF", "NO", "ONE"]), Value::Okay);
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
