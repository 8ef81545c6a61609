//! UNLINK of large aggregates and FLUSHALL of a large keyspace free memory in slices in the
//! background; the keys are gone at once and the shard keeps serving.

mod common;
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
