//! UNLINK of large aggregates and FLUSHALL of a large keyspace free memory in slices in the
//! background; the keys are gone at once and the shard keeps serving.

mod common;
use common::repl::info_num;
use common::{cmd, Server};
use redis::Value;

#[test]
fn unlink_and_flush_free_lazily() {
    let srv = Server::start(2);
    let mut c = srv.client();
    for (key, kind) in [
        ("bighash", "HSET"),
        ("bigset", "SADD"),
        ("biglist", "RPUSH"),
        ("bigzset", "ZADD"),
    ] {
        for chunk in 0..20 {
            let mut k = redis::cmd(kind);
            k.arg(key);
            for i in 0..5000 {
                let n = chunk * 5000 + i;
                if kind == "HSET" {
                    k.arg(format!("f{n}")).arg(n);
                } else if kind == "ZADD" {
                    k.arg(n).arg(format!("m{n}"));
                } else {
                    k.arg(format!("m{n}"));
                }
            }
            let _: i64 = k.query(&mut c).expect("fill");
        }
    }
    assert_eq!(
        cmd(
            &mut c,
            &["UNLINK", "bighash", "bigset", "biglist", "bigzset", "nope"]
        )
        .expect("unlink"),
        Value::Int(4)
    );
    assert_eq!(
        cmd(
            &mut c,
            &["EXISTS", "bighash", "bigset", "biglist", "bigzset"]
        )
        .expect("exists"),
        Value::Int(0)
    );
    assert_eq!(
        cmd(&mut c, &["PING"]).expect("ping"),
        Value::SimpleString("PONG".into())
    );
    let mut pipe = redis::pipe();
    for i in 0..60_000 {
        pipe.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
    }
    let _: () = pipe.query(&mut c).expect("pipeline");
    assert_eq!(
        cmd(&mut c, &["FLUSHALL", "ASYNC"]).expect("flush"),
        Value::Okay
    );
    assert_eq!(cmd(&mut c, &["DBSIZE"]).expect("dbsize"), Value::Int(0));
    assert_eq!(
        cmd(&mut c, &["SET", "after", "1"]).expect("set"),
        Value::Okay
    );
    assert_eq!(
        cmd(&mut c, &["GET", "after"]).expect("get"),
        Value::BulkString(b"1".to_vec())
    );
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query(&mut c)
        .expect("info");
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory");
    assert!(
        used < 1_000_000,
        "the flushed keyspace is no longer counted: {used}"
    );
}

fn rss(c: &mut redis::Connection) -> i64 {
    info_num(c, "memory", "used_memory_rss")
}

#[test]
fn freed_memory_goes_back_to_the_system() {
    // jemalloc with dirty_decay_ms:0 (src/main.rs): pages freed by a FLUSHALL are returned at
    // once, so RSS follows the dataset down instead of staying at its peak.
    let srv = Server::start(2);
    let mut c = srv.client();
    let before = rss(&mut c);
    let value = "v".repeat(300);
    for batch in 0..200 {
        let mut m = redis::cmd("MSET");
        for i in 0..1000 {
            m.arg(format!("key:{batch}:{i}")).arg(&value);
        }
        let _: () = m.query(&mut c).expect("mset");
    }
    let full = rss(&mut c);
    assert!(
        full - before > 60 << 20,
        "200k keys of 300 bytes: {before} -> {full}"
    );
    assert_eq!(cmd(&mut c, &["FLUSHALL"]).expect("flushall"), Value::Okay);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let now = rss(&mut c);
        if now - before < (full - before) / 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "RSS stayed at {now} after FLUSHALL (before {before}, full {full})"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
