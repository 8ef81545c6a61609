//! Blocking list pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) against the real binary on 1
//! and 4 shards: keys spread over shards, FIFO service, timeouts, disconnects, CLIENT UNBLOCK,
//! exactly-once delivery under concurrency, shutdown with blocked clients.

mod common;
use common::{cmd, Server};
use redis::Value;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn arr(items: Vec<Value>) -> Value {
    Value::Array(items)
}

/// The shard a key lives on with `n` shards (slots spread evenly, as `SlotMap::even`).
fn shard_of(key: &str, n: usize) -> usize {
    synap_shard::key_hash_slot(key.as_bytes()) as usize * n / synap_shard::SLOTS
}

/// `count` keys named `prefix…`, on pairwise different shards when there are enough shards.
fn spread(prefix: &str, count: usize, shards: usize) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    let mut i = 0;
    while keys.len() < count {
        let k = format!("{prefix}{i}");
        let s = shard_of(&k, shards);
        if keys.len() >= shards || keys.iter().all(|o| shard_of(o, shards) != s) {
            keys.push(k);
        }
        i += 1;
    }
    keys
}

fn info_field(c: &mut redis::Connection, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("clients").query(c).expect("info");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until `n` clients are blocked.
fn wait_blocked(c: &mut redis::Connection, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(c, "blocked_clients") != n {
        assert!(Instant::now() < deadline, "never saw {n} blocked clients");
        thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `args` on a new connection in a thread (it may block).
fn spawn_cmd(srv: &Server, args: &[&str]) -> thread::JoinHandle<redis::RedisResult<Value>> {
    let mut c = srv.client();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    thread::spawn(move || {
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        cmd(&mut c, &a)
    })
}

fn ok(v: redis::RedisResult<Value>) -> Value {
    v.expect("command")
}

fn pops_on(shards: usize) {
    let srv = Server::start(shards);
    let mut c = srv.client();
    let k = spread("key", 3, shards);
    let (k0, k1, k2) = (k[0].as_str(), k[1].as_str(), k[2].as_str());

    // Immediate: the first non-empty key in argument order.
    ok(cmd(&mut c, &["RPUSH", k1, "a", "b"]));
    ok(cmd(&mut c, &["RPUSH", k2, "z"]));
    assert_eq!(
        ok(cmd(&mut c, &["BLPOP", k0, k2, k1, "0"])),
        arr(vec![bulk(k2), bulk("z")])
    );
    assert_eq!(
        ok(cmd(&mut c, &["BRPOP", k0, k1, "1"])),
        arr(vec![bulk(k1), bulk("b")])
    );
    // A key of another type before any list answers WRONGTYPE.
    ok(cmd(&mut c, &["SET", k0, "string"]));
    assert_eq!(
        cmd(&mut c, &["BLPOP", k2, k0, k1, "0"])
            .expect_err("wrongtype")
            .code(),
        Some("WRONGTYPE")
    );
    ok(cmd(&mut c, &["DEL", k0, k1]));

    // Blocked on three shards; a push to the last key serves it.
    let h = spawn_cmd(&srv, &["BLPOP", k0, k1, k2, "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(info_field(&mut c, "total_blocking_keys"), 3);
    assert_eq!(ok(cmd(&mut c, &["RPUSH", k2, "x", "y"])), Value::Int(2));
    assert_eq!(
        ok(h.join().expect("thread")),
        arr(vec![bulk(k2), bulk("x")])
    );
    assert_eq!(
        ok(cmd(&mut c, &["LRANGE", k2, "0", "-1"])),
        arr(vec![bulk("y")])
    );
    wait_blocked(&mut c, 0);
    ok(cmd(&mut c, &["DEL", k2]));

    // BLMPOP with COUNT.
    let h = spawn_cmd(
        &srv,
        &["BLMPOP", "0", "3", k0, k1, k2, "RIGHT", "COUNT", "2"],
    );
    wait_blocked(&mut c, 1);
    ok(cmd(&mut c, &["RPUSH", k1, "a", "b", "c"]));
    assert_eq!(
        ok(h.join().expect("thread")),
        arr(vec![bulk(k1), arr(vec![bulk("c"), bulk("b")])])
    );
    assert_eq!(
        ok(cmd(&mut c, &["LRANGE", k1, "0", "-1"])),
        arr(vec![bulk("a")])
    );
    ok(cmd(&mut c, &["DEL", k1]));

    // BLMOVE and BRPOPLPUSH between keys on different shards.
    let h = spawn_cmd(&srv, &["BLMOVE", k0, k1, "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut c, 1);
    ok(cmd(&mut c, &["RPUSH", k0, "m1", "m2"]));
    assert_eq!(ok(h.join().expect("thread")), bulk("m1"));
    assert_eq!(
        ok(cmd(&mut c, &["LRANGE", k1, "0", "-1"])),
        arr(vec![bulk("m1")])
    );
    assert_eq!(
        ok(cmd(&mut c, &["LRANGE", k0, "0", "-1"])),
        arr(vec![bulk("m2")])
    );
    ok(cmd(&mut c, &["DEL", k0]));
    let h = spawn_cmd(&srv, &["BRPOPLPUSH", k2, k1, "0"]);
    wait_blocked(&mut c, 1);
    ok(cmd(&mut c, &["LPUSH", k2, "r1"]));
    assert_eq!(ok(h.join().expect("thread")), bulk("r1"));
    assert_eq!(
        ok(cmd(&mut c, &["LRANGE", k1, "0", "-1"])),
        arr(vec![bulk("r1"), bulk("m1")])
    );
    assert_eq!(ok(cmd(&mut c, &["EXISTS", k2])), Value::Int(0));

    // A blocked BLMOVE whose destination became another type: WRONGTYPE, nothing moves.
    ok(cmd(&mut c, &["SET", k1, "string"]));
    let h = spawn_cmd(&srv, &["BLMOVE", k0, k1, "RIGHT", "LEFT", "0"]);
    wait_blocked(&mut c, 1);
    ok(cmd(&mut c, &["RPUSH", k0, "kept"]));
    assert_eq!(
        h.join().expect("thread").expect_err("wrongtype").code(),
        Some("WRONGTYPE")
    );
    assert_eq!(
        ok(cmd(&mut c, &["LRANGE", k0, "0", "-1"])),
        arr(vec![bulk("kept")])
    );
    ok(cmd(&mut c, &["DEL", k0, k1]));

    // A chain: BLMOVE k0 → k1 serves a client blocked on k1.
    let h1 = spawn_cmd(&srv, &["BLMOVE", k0, k1, "LEFT", "LEFT", "0"]);
    wait_blocked(&mut c, 1);
    let h2 = spawn_cmd(&srv, &["BLPOP", k1, "0"]);
    wait_blocked(&mut c, 2);
    ok(cmd(&mut c, &["RPUSH", k0, "hop"]));
    assert_eq!(ok(h1.join().expect("thread")), bulk("hop"));
    assert_eq!(
        ok(h2.join().expect("thread")),
        arr(vec![bulk(k1), bulk("hop")])
    );
    assert_eq!(ok(cmd(&mut c, &["EXISTS", k0, k1])), Value::Int(0));
    wait_blocked(&mut c, 0);
}

#[test]
fn pops_across_one_shard() {
    pops_on(1);
}

#[test]
fn pops_across_four_shards() {
    pops_on(4);
}

/// Clients blocked on one key are served in the order they blocked, one element each, after
/// the push (which reports the length before the pops).
#[test]
fn many_clients_are_served_in_order() {
    let srv = Server::start(4);
    let mut c = srv.client();
    let mut handles = Vec::new();
    for i in 0..6 {
        // Different connections land on different shards; the order is global.
        let op = if i % 2 == 0 { "BLPOP" } else { "BRPOP" };
        handles.push(spawn_cmd(&srv, &[op, "other", "queue", "0"]));
        wait_blocked(&mut c, i + 1);
    }
    assert_eq!(
        ok(cmd(
            &mut c,
            &["RPUSH", "queue", "1", "2", "3", "4", "5", "6", "7"]
        )),
        Value::Int(7)
    );
    // LPOP takes from the left, RPOP from the right: 1, 7, 2, 6, 3, 5.
    let want = ["1", "7", "2", "6", "3", "5"];
    for (h, w) in handles.into_iter().zip(want) {
        assert_eq!(
            ok(h.join().expect("thread")),
            arr(vec![bulk("queue"), bulk(w)])
        );
    }
    assert_eq!(
        ok(cmd(&mut c, &["LRANGE", "queue", "0", "-1"])),
        arr(vec![bulk("4")])
    );
}

#[test]
fn timeouts_zero_fractional_and_errors() {
    let srv = Server::start(2);
    let mut c = srv.client();
    let t = Instant::now();
    assert_eq!(ok(cmd(&mut c, &["BLPOP", "none", "0.1"])), Value::Nil);
    let e = t.elapsed();
    assert!(
        e >= Duration::from_millis(100) && e < Duration::from_secs(2),
        "{e:?}"
    );
    assert_eq!(
        ok(cmd(&mut c, &["BLMPOP", "0.05", "1", "none", "LEFT"])),
        Value::Nil
    );
    assert_eq!(
        ok(cmd(
            &mut c,
            &["BLMOVE", "none", "x", "LEFT", "LEFT", "0.05"]
        )),
        Value::Nil
    );
    // Timeout 0: still blocked well after, served by the push.
    let h = spawn_cmd(&srv, &["BRPOP", "forever", "0"]);
    wait_blocked(&mut c, 1);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(info_field(&mut c, "blocked_clients"), 1);
    assert_eq!(info_field(&mut c, "clients_in_timeout_table"), 0);
    ok(cmd(&mut c, &["LPUSH", "forever", "late"]));
    assert_eq!(
        ok(h.join().expect("thread")),
        arr(vec![bulk("forever"), bulk("late")])
    );
    let err = |c: &mut redis::Connection, a: &[&str]| {
        cmd(c, a)
            .expect_err("error")
            .detail()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(err(&mut c, &["BLPOP", "k", "-1"]), "timeout is negative");
    assert_eq!(
        err(&mut c, &["BLPOP", "k", "abc"]),
        "timeout is not a float or out of range"
    );
    assert_eq!(
        err(&mut c, &["BLMPOP", "0", "0", "k", "LEFT"]),
        "numkeys should be greater than 0"
    );
    assert_eq!(
        err(&mut c, &["BLMOVE", "a", "b", "UP", "LEFT", "0"]),
        "syntax error"
    );
    // RESP3: a timeout is `_`; RESP2 `*-1`.
    let mut s = srv.raw();
    s.write_all(b"BLPOP none 0.01\r\nHELLO 3\r\nBLPOP none 0.01\r\nBLMOVE a b LEFT LEFT 0.01\r\n")
        .expect("write");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !got.ends_with(b"_\r\n_\r\n") && Instant::now() < deadline {
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).expect("read");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"*-1\r\n%7\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        got.ends_with(b"*0\r\n_\r\n_\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
}

/// A client that disconnects while blocked takes nothing: a later push stays in the list.
#[test]
fn disconnect_while_blocked_loses_nothing() {
    let srv = Server::start(4);
    let mut c = srv.client();
    let mut s = srv.raw();
    s.write_all(b"BLPOP gone1 gone2 0\r\n").expect("write");
    wait_blocked(&mut c, 1);
    drop(s);
    wait_blocked(&mut c, 0);
    ok(cmd(&mut c, &["RPUSH", "gone2", "kept"]));
    assert_eq!(
        ok(cmd(&mut c, &["LRANGE", "gone2", "0", "-1"])),
        arr(vec![bulk("kept")])
    );
    // CLIENT KILL of a blocked client releases it too.
    let mut s = srv.raw();
    s.write_all(b"CLIENT ID\r\n").expect("write");
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).expect("read");
    let id = String::from_utf8_lossy(&buf[1..n]).trim().to_string();
    s.write_all(b"BRPOPLPUSH gone1 gone3 0\r\n").expect("write");
    wait_blocked(&mut c, 1);
    assert_eq!(
        ok(cmd(&mut c, &["CLIENT", "KILL", "ID", &id])),
        Value::Int(1)
    );
    wait_blocked(&mut c, 0);
    assert!(common::is_closed(&mut s));
    ok(cmd(&mut c, &["RPUSH", "gone1", "stays"]));
    assert_eq!(ok(cmd(&mut c, &["LLEN", "gone1"])), Value::Int(1));
    // Registrations on other shards are removed by a message: soon.
    let deadline = Instant::now() + Duration::from_secs(5);
    while info_field(&mut c, "total_blocking_keys") != 0 {
        assert!(Instant::now() < deadline, "registrations left behind");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn client_unblock_and_client_list() {
    let srv = Server::start(4);
    let mut c = srv.client();
    let mut b = srv.client();
    let Value::Int(id) = ok(cmd(&mut b, &["CLIENT", "ID"])) else {
        panic!("CLIENT ID");
    };
    let id = id.to_string();
    let h = thread::spawn(move || cmd(&mut b, &["BLPOP", "u", "0"]).map(|v| (v, b)));
    wait_blocked(&mut c, 1);
    let list = match ok(cmd(&mut c, &["CLIENT", "LIST", "ID", &id])) {
        Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("{other:?}"),
    };
    assert!(
        list.contains(" flags=b ") && list.contains(" cmd=blpop "),
        "{list}"
    );
    assert_eq!(ok(cmd(&mut c, &["CLIENT", "UNBLOCK", &id])), Value::Int(1));
    let (v, mut b) = h.join().expect("thread").expect("blpop");
    assert_eq!(v, Value::Nil);
    assert_eq!(ok(cmd(&mut c, &["CLIENT", "UNBLOCK", &id])), Value::Int(0));
    let h = thread::spawn(move || cmd(&mut b, &["BLMPOP", "0", "1", "u", "LEFT"]));
    wait_blocked(&mut c, 1);
    assert_eq!(
        ok(cmd(&mut c, &["CLIENT", "UNBLOCK", &id, "ERROR"])),
        Value::Int(1)
    );
    let e = h.join().expect("thread").expect_err("unblocked");
    assert_eq!(e.code(), Some("UNBLOCKED"));
    assert_eq!(e.detail(), Some("client unblocked via CLIENT UNBLOCK"));
    assert_eq!(
        cmd(&mut c, &["CLIENT", "UNBLOCK", &id, "LATER"])
            .expect_err("bad reason")
            .detail(),
        Some("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    );
    wait_blocked(&mut c, 0);
    ok(cmd(&mut c, &["RPUSH", "u", "v"]));
    assert_eq!(ok(cmd(&mut c, &["LLEN", "u"])), Value::Int(1));
}

/// Commands pipelined after a blocking one wait behind it.
#[test]
fn pipelined_commands_wait_behind_a_blocked_one() {
    let srv = Server::start(4);
    let mut c = srv.client();
    let mut s = srv.raw();
    s.write_all(b"PING\r\nBLPOP pq 0\r\nPING\r\nECHO after\r\n")
        .expect("write");
    let first = common::read_exact_reply(&mut s, 7);
    assert_eq!(
        first, b"+PONG\r\n",
        "replies before the blocked command leave at once"
    );
    wait_blocked(&mut c, 1);
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    assert!(
        s.read(&mut buf).is_err(),
        "nothing after the blocked command runs"
    );
    ok(cmd(&mut c, &["RPUSH", "pq", "v"]));
    let rest = common::read_exact_reply(&mut s, 37);
    assert_eq!(
        String::from_utf8_lossy(&rest),
        "*2\r\n$2\r\npq\r\n$1\r\nv\r\n+PONG\r\n$5\r\nafter\r\n"
    );
}

/// Pushers and poppers on keys of several shards: every value is popped exactly once.
#[test]
fn concurrent_pushers_and_poppers_deliver_exactly_once() {
    let srv = Server::start(4);
    let keys = spread("q", 6, 4);
    const PUSHERS: usize = 3;
    const PER_PUSHER: usize = 400;
    let total = PUSHERS * PER_PUSHER;
    let popped = Arc::new(Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for p in 0..4 {
        let mut c = srv.client();
        let keys = keys.clone();
        let popped = popped.clone();
        let count = count.clone();
        handles.push(thread::spawn(move || {
            let mut i = 0usize;
            while count.load(Ordering::SeqCst) < total {
                i += 1;
                let mut args: Vec<String> = Vec::new();
                let mover = p == 3;
                match (p + i) % 3 {
                    _ if mover => {
                        args.extend(["BLMOVE".into(), keys[i % keys.len()].clone()]);
                        args.extend(["sink".into(), "LEFT".into(), "RIGHT".into(), "0.05".into()]);
                    }
                    0 => {
                        args.push("BLPOP".into());
                        args.extend(keys.iter().cloned());
                        args.push("0.2".into());
                    }
                    1 => {
                        args.push("BRPOP".into());
                        args.extend(keys.iter().rev().cloned());
                        args.push("0.2".into());
                    }
                    _ => {
                        args.extend(["BLMPOP".into(), "0.2".into(), keys.len().to_string()]);
                        args.extend(keys.iter().cloned());
                        args.extend(["LEFT".into(), "COUNT".into(), "3".into()]);
                    }
                }
                let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
                let v = cmd(&mut c, &a).expect("pop");
                let got: Vec<String> = match v {
                    Value::Nil => Vec::new(),
                    Value::BulkString(b) => {
                        // Moved to the sink: counted there at the end.
                        count.fetch_add(1, Ordering::SeqCst);
                        let _ = b;
                        Vec::new()
                    }
                    Value::Array(kv) => match &kv[1] {
                        Value::BulkString(b) => vec![String::from_utf8_lossy(b).into_owned()],
                        Value::Array(items) => items
                            .iter()
                            .map(|x| match x {
                                Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                                other => panic!("{other:?}"),
                            })
                            .collect(),
                        other => panic!("{other:?}"),
                    },
                    other => panic!("{other:?}"),
                };
                count.fetch_add(got.len(), Ordering::SeqCst);
                popped.lock().expect("lock").extend(got);
            }
        }));
    }
    let mut pushers = Vec::new();
    for p in 0..PUSHERS {
        let mut c = srv.client();
        let keys = keys.clone();
        pushers.push(thread::spawn(move || {
            for i in 0..PER_PUSHER {
                let k = &keys[(i * 7 + p) % keys.len()];
                let v = format!("p{p}-{i}");
                let op = if i % 2 == 0 { "RPUSH" } else { "LPUSH" };
                cmd(&mut c, &[op, k, &v]).expect("push");
            }
        }));
    }
    for h in pushers {
        h.join().expect("pusher");
    }
    for h in handles {
        h.join().expect("popper");
    }
    let mut c = srv.client();
    let mut all = popped.lock().expect("lock").clone();
    if let Value::Array(items) = ok(cmd(&mut c, &["LRANGE", "sink", "0", "-1"])) {
        for x in items {
            if let Value::BulkString(b) = x {
                all.push(String::from_utf8_lossy(&b).into_owned());
            }
        }
    }
    all.sort();
    let mut want: Vec<String> = (0..PUSHERS)
        .flat_map(|p| (0..PER_PUSHER).map(move |i| format!("p{p}-{i}")))
        .collect();
    want.sort();
    assert_eq!(all.len(), want.len(), "every pushed value popped once");
    assert_eq!(all, want);
    for k in &keys {
        assert_eq!(ok(cmd(&mut c, &["EXISTS", k])), Value::Int(0));
    }
}

/// CPU time of a process in clock ticks (utime + stime).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0)
}

/// Blocked clients cost no CPU; SIGTERM releases them and the server exits 0 promptly.
#[test]
fn blocked_clients_idle_and_shutdown_cleanly() {
    let mut srv = Server::start(4);
    let mut socks = Vec::new();
    for i in 0..50 {
        let mut s = srv.raw();
        s.write_all(format!("BLPOP idle{i} idle-any 0\r\n").as_bytes())
            .expect("write");
        socks.push(s);
    }
    {
        let mut c = srv.client();
        wait_blocked(&mut c, 50);
    }
    let before = cpu_ticks(srv.child.id());
    thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(srv.child.id()) - before;
    // Timers of the background tasks only: far from a busy core (100 ticks).
    assert!(used < 20, "{used} ticks in 1 s with 50 blocked clients");
    let (code, took) = srv.terminate();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(3), "{took:?}");
    for mut s in socks {
        assert!(common::is_closed(&mut s));
    }
}

/// Replies of blocking commands that complete at once, time out or fail, compared with
/// redis-server byte for byte (when it is installed).
#[test]
fn immediate_replies_match_redis() {
    let script: &[&[&str]] = &[
        &["RPUSH", "l", "a", "b", "c"],
        &["SET", "s", "x"],
        &["BLPOP", "l", "0"],
        &["BRPOP", "none", "l", "0"],
        &["BLPOP", "none", "s", "l", "0"],
        &["BLPOP", "l", "none", "s", "0"],
        &["BLMOVE", "l", "s", "LEFT", "RIGHT", "0"],
        &["BLMOVE", "l", "l2", "LEFT", "RIGHT", "0"],
        &["BRPOPLPUSH", "l2", "l", "0"],
        &["BLMPOP", "0", "2", "none", "l", "RIGHT", "COUNT", "5"],
        &["BLPOP", "none", "0.01"],
        &["BLMPOP", "0.01", "1", "none", "LEFT"],
        &["BRPOPLPUSH", "none", "x", "0.01"],
        &["BLPOP", "k", "-1"],
        &["BLPOP", "k", "1e400"],
        &["BLPOP", "k", "nan"],
        &["BLPOP", "k", " 1"],
        &["BLMPOP", "x", "1", "k", "LEFT"],
        &["BLMPOP", "0", "1", "k", "MIDDLE"],
        &["BLMPOP", "0", "5", "k", "LEFT"],
        &["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "0"],
        &["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "1", "COUNT", "2"],
        &["BLMOVE", "a", "b", "UP", "RIGHT", "x"],
        &["BLMOVE", "a", "b", "LEFT", "RIGHT", "x"],
        &["BLPOP"],
        &["BLPOP", "k"],
        &["CLIENT", "UNBLOCK", "999999"],
        &["CLIENT", "UNBLOCK", "abc"],
        &["CLIENT", "UNBLOCK", "1", "MAYBE"],
        &["CLIENT", "UNBLOCK", "1", "TIMEOUT", "x"],
        &["ZADD", "z", "1", "a", "2.5", "b", "3", "c", "-inf", "d"],
        &["BZPOPMIN", "none", "z", "0"],
        &["BZPOPMAX", "z", "0"],
        &["BZPOPMIN", "s", "z", "0"],
        &["BZMPOP", "0", "2", "none", "z", "MAX", "COUNT", "5"],
        &["BZPOPMIN", "z", "0.01"],
        &["BZMPOP", "0.01", "1", "z", "MIN"],
        &["BZPOPMIN", "z", "-1"],
        &["BZMPOP", "0", "0", "z", "MIN"],
        &["BZMPOP", "0", "1", "z", "SIDEWAYS"],
        &["BZMPOP", "0", "1", "z", "MIN", "COUNT", "0"],
    ];
    let Some(redis) = redis_port() else {
        eprintln!("redis-server is not installed: skipping the comparison");
        return;
    };
    let srv = Server::start(4);
    // One pipeline: every command completes at once or within 10 ms.
    let run = |port: u16| -> Vec<u8> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let mut req = String::new();
        for args in script {
            req.push_str(&format!("*{}\r\n", args.len()));
            for a in *args {
                req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
            }
        }
        common::send_raw(&mut s, req.as_bytes())
    };
    let want = run(redis.1);
    let got = run(srv.port);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );
}

struct RedisGuard(std::process::Child, u16);
impl Drop for RedisGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_port() -> Option<RedisGuard> {
    let port = common::free_port();
    let child = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--bind", "127.0.0.1"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let g = RedisGuard(child, port);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(g);
        }
        thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Served pops are journaled on the shard that popped (after the push that fed them), so a
/// restart from the AOF finds the lists as the clients left them.
#[test]
fn served_pops_survive_a_restart() {
    let conf = tempfile::tempdir().expect("tmp");
    let yml = conf.path().join("synap.yml");
    std::fs::write(
        &yml,
        "persistence:\n  enabled: true\n  appendfsync: always\n",
    )
    .expect("config");
    let yml = yml.to_string_lossy().into_owned();
    let srv = Server::start_with(4, &["--config", &yml]);
    let mut c = srv.client();
    let k = spread("durable", 4, 4);
    let (k0, k1, k2, k3) = (k[0].as_str(), k[1].as_str(), k[2].as_str(), k[3].as_str());
    let h = spawn_cmd(&srv, &["BLPOP", k0, "0"]);
    wait_blocked(&mut c, 1);
    ok(cmd(&mut c, &["RPUSH", k0, "a", "b"]));
    assert_eq!(
        ok(h.join().expect("thread")),
        arr(vec![bulk(k0), bulk("a")])
    );
    let h = spawn_cmd(&srv, &["BLMOVE", k1, k2, "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut c, 1);
    ok(cmd(&mut c, &["RPUSH", k1, "x", "y"]));
    assert_eq!(ok(h.join().expect("thread")), bulk("x"));
    let h = spawn_cmd(&srv, &["BLMPOP", "0", "1", k3, "LEFT", "COUNT", "2"]);
    wait_blocked(&mut c, 1);
    ok(cmd(&mut c, &["RPUSH", k3, "1", "2", "3"]));
    assert_eq!(
        ok(h.join().expect("thread")),
        arr(vec![bulk(k3), arr(vec![bulk("1"), bulk("2")])])
    );
    let h = spawn_cmd(&srv, &["BRPOPLPUSH", "{t}src", "{t}dst", "0"]);
    wait_blocked(&mut c, 1);
    ok(cmd(&mut c, &["RPUSH", "{t}src", "m", "n"]));
    assert_eq!(ok(h.join().expect("thread")), bulk("n"));
    wait_blocked(&mut c, 0);
    let lists = |c: &mut redis::Connection| -> Vec<Value> {
        [k0, k1, k2, k3, "{t}src", "{t}dst"]
            .iter()
            .map(|key| ok(cmd(c, &["LRANGE", key, "0", "-1"])))
            .collect()
    };
    let want = vec![
        arr(vec![bulk("b")]),
        arr(vec![bulk("y")]),
        arr(vec![bulk("x")]),
        arr(vec![bulk("3")]),
        arr(vec![bulk("m")]),
        arr(vec![bulk("n")]),
    ];
    assert_eq!(lists(&mut c), want);
    drop(c);
    let srv = srv.restart(4, &["--config", &yml]);
    assert_eq!(lists(&mut srv.client()), want, "after a restart");
    let srv = srv.restart(1, &["--config", &yml]);
    assert_eq!(
        lists(&mut srv.client()),
        want,
        "after a restart on one shard"
    );
}

#[test]
fn sorted_set_pops_block_across_shards() {
    let srv = Server::start(4);
    let keys = spread("zq", 3, 4);
    let mut c = srv.client();
    // BZPOPMIN on three keys of three shards, served by a ZADD on the last one.
    let a: Vec<&str> = ["BZPOPMIN", &keys[0], &keys[1], &keys[2], "0"].to_vec();
    let waiter = spawn_cmd(&srv, &a);
    wait_blocked(&mut c, 1);
    ok(cmd(&mut c, &["ZADD", &keys[2], "7", "m7", "3", "m3"]));
    assert_eq!(
        ok(waiter.join().expect("join")),
        arr(vec![bulk(&keys[2]), bulk("m3"), bulk("3")])
    );
    // BZPOPMAX and BZMPOP wait in FIFO order on one key.
    let first = spawn_cmd(&srv, &["BZPOPMAX", &keys[0], "0"]);
    wait_blocked(&mut c, 1);
    let second = spawn_cmd(&srv, &["BZMPOP", "0", "1", &keys[0], "MIN", "COUNT", "2"]);
    wait_blocked(&mut c, 2);
    ok(cmd(
        &mut c,
        &["ZADD", &keys[0], "1", "x", "2", "y", "3", "z"],
    ));
    assert_eq!(
        ok(first.join().expect("join")),
        arr(vec![bulk(&keys[0]), bulk("z"), bulk("3")])
    );
    assert_eq!(
        ok(second.join().expect("join")),
        arr(vec![
            bulk(&keys[0]),
            arr(vec![
                arr(vec![bulk("x"), bulk("1")]),
                arr(vec![bulk("y"), bulk("2")])
            ])
        ])
    );
    assert_eq!(ok(cmd(&mut c, &["EXISTS", &keys[0]])), Value::Int(0));
    // A timeout answers a null array.
    assert_eq!(ok(cmd(&mut c, &["BZPOPMIN", &keys[1], "0.05"])), Value::Nil);
}
