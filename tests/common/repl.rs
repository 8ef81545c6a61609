//! Replication test helpers: masters and replicas as real processes, datasets compared.

pub use super::dataset::{dump, q};
use super::{free_config_port, Server};
use redis::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

pub fn write_config(dir: &std::path::Path, name: &str, yaml: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, yaml).expect("config");
    p.display().to_string()
}

/// A master and its replication port.
pub struct Master {
    pub server: Server,
    pub repl_port: u16,
}

pub fn master(shards: usize) -> Master {
    let repl_port = free_config_port();
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

pub fn replica(shards: usize, m: &Master) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        "replica.yml",
        &format!(
            "server:\n  role: replica\nreplication:\n  enabled: true\n  master_host: 127.0.0.1\n  master_port: {}\n  listen_port: {}\n",
            m.repl_port,
            free_config_port()
        ),
    );
    let s = Server::start_with(shards, &["-c", &cfg]);
    std::mem::forget(dir);
    s
}

pub fn fill(c: &mut redis::Connection, from: usize, n: usize) {
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
    // Sorted sets (packed and large), and hashes and sets past their packed size; commands
    // whose replay differs (ZPOPMIN, SPOP, stores across shards) are journaled as their effect.
    let tag = from.to_string();
    q(
        c,
        &[
            "ZADD",
            &format!("zs{tag}"),
            "1",
            "a",
            "2",
            "b",
            "3",
            "c",
            "4.5",
            "d",
        ],
    );
    q(c, &["ZINCRBY", &format!("zs{tag}"), "10", "a"]);
    q(c, &["ZPOPMIN", &format!("zs{tag}")]);
    q(c, &["ZADD", &format!("{{t}}z{tag}"), "5", "x", "-inf", "y"]);
    q(
        c,
        &[
            "ZUNIONSTORE",
            &format!("zu{tag}"),
            "2",
            &format!("zs{tag}"),
            &format!("{{t}}z{tag}"),
        ],
    );
    let mut big = vec!["ZADD".to_string(), format!("bigz{tag}")];
    let mut hash = vec!["HSET".to_string(), format!("bigh{tag}")];
    let mut set = vec!["SADD".to_string(), format!("bigs{tag}")];
    for i in 0..300 {
        big.extend([format!("{}.5", i % 97), format!("member-{i}")]);
        hash.extend([format!("field-{i}"), format!("value-{i}")]);
        set.push(format!("m-{i}"));
    }
    for cmd in [&big, &hash, &set] {
        q(c, &cmd.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    }
    q(c, &["ZREMRANGEBYSCORE", &format!("bigz{tag}"), "0", "(10"]);
    q(c, &["SPOP", &format!("bigs{tag}"), "7"]);
    q(c, &["HDEL", &format!("bigh{tag}"), "field-1", "field-2"]);
    q(c, &["EXPIRE", &format!("bigz{tag}"), "900"]);
}

pub fn converge(master: &mut redis::Connection, replica: &mut redis::Connection) {
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

pub fn info(c: &mut redis::Connection) -> String {
    redis::cmd("INFO")
        .arg("replication")
        .query::<String>(c)
        .expect("info")
}

pub fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A field of `INFO section` as a number.
pub fn info_num(c: &mut redis::Connection, section: &str, field: &str) -> i64 {
    let text: String = redis::cmd("INFO").arg(section).query(c).expect("info");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {text}"))
}

/// A replica of `m` with its own AOF (everysec): (server, config path for restarts).
pub fn persistent_replica(shards: usize, m: &Master) -> (Server, String) {
    persistent_replica_with(
        shards,
        m,
        "persistence:\n  enabled: true\n  appendfsync: everysec\n",
    )
}

/// A replica of `m` with the `persistence` section `yaml`: (server, config path).
pub fn persistent_replica_with(shards: usize, m: &Master, yaml: &str) -> (Server, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        "replica.yml",
        &format!(
            "server:\n  role: replica\n{yaml}replication:\n  enabled: true\n  master_host: 127.0.0.1\n  master_port: {}\n  listen_port: {}\n",
            m.repl_port,
            free_config_port()
        ),
    );
    let s = Server::start_with(shards, &["-c", &cfg]);
    std::mem::forget(dir);
    (s, cfg)
}

/// Stops `s` (SIGTERM, or SIGKILL when `kill9`) and starts it again on its data directory.
pub fn respawn(mut s: Server, shards: usize, cfg: &str, kill9: bool) -> Server {
    if kill9 {
        let _ = s.child.kill();
        let _ = s.child.wait();
    } else {
        s.terminate();
    }
    let dir = std::mem::replace(&mut s.dir, tempfile::tempdir().expect("tempdir"));
    drop(s);
    Server::spawn(shards, &["-c", cfg], Some(dir), &super::ping_probe)
}

/// Writes to a master until stopped: INCR on counters, RPUSH on lists, SET with a TTL. Every
/// write is acknowledged before the next one.
pub struct Writer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<u64>>,
}

impl Writer {
    pub fn start(port: u16, prefix: &str) -> Writer {
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
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle
            .take()
            .map(|h| h.join().expect("writer"))
            .unwrap_or(0)
    }
}

/// Waits until the replica's link to `m` is up (and checks it follows `m`, not a stray server).
pub fn linked(rc: &mut redis::Connection, m: &Master) {
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

/// A replica of the master at `repl_port` that can itself serve replicas: (server, its
/// replication port).
pub fn chained_replica(shards: usize, repl_port: u16) -> (Server, u16) {
    let dir = tempfile::tempdir().expect("tempdir");
    let own = free_config_port();
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

pub fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let text = info(c);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {text}"))
        .trim()
        .to_string()
}

/// Sum of the counters `{prefix}c*` (each INCR of the writer adds one).
pub fn counted(c: &mut redis::Connection, prefix: &str) -> i64 {
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

/// `GET path` on an HTTP port: (status, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
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
pub fn series(body: &str, name_labels: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name_labels)?.trim().parse().ok())
}

/// A master with extra `replication:` settings (YAML lines, indented two spaces).
pub fn master_with(shards: usize, extra: &str) -> Master {
    let repl_port = free_config_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(
        dir.path(),
        "master.yml",
        &format!("replication:\n  enabled: true\n  listen_port: {repl_port}\n{extra}"),
    );
    let server = Server::start_with(shards, &["-c", &cfg]);
    std::mem::forget(dir);
    Master { server, repl_port }
}

/// Every key's type and value, read with pipelines (for large datasets).
pub fn pipelined_dump(c: &mut redis::Connection) -> BTreeMap<String, String> {
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).expect("keys");
    keys.sort();
    let mut out = BTreeMap::new();
    for chunk in keys.chunks(2000) {
        let mut p = redis::pipe();
        for k in chunk {
            p.cmd("TYPE").arg(k);
        }
        let types: Vec<String> = p.query(c).expect("types");
        let mut p = redis::pipe();
        for (k, t) in chunk.iter().zip(&types) {
            match t.as_str() {
                "string" => p.cmd("GET").arg(k),
                "list" => p.cmd("LRANGE").arg(k).arg(0).arg(-1),
                _ => p.cmd("TYPE").arg(k),
            };
        }
        let vals: Vec<Value> = p.query(c).expect("values");
        for ((k, t), v) in chunk.iter().zip(types).zip(vals) {
            out.insert(k.clone(), format!("{t} {v:?}"));
        }
    }
    out
}
