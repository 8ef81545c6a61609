//! Sets on several shards: encodings, random members, SSCAN, set algebra across shards.

mod common;
use common::{cmd, Server};
use redis::Value;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn sorted(v: Value) -> Vec<String> {
    let items = match v {
        Value::Array(i) | Value::Set(i) => i,
        other => panic!("not an array: {other:?}"),
    };
    let mut out: Vec<String> = items
        .into_iter()
        .map(|x| match x {
            Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    out.sort();
    out
}

#[test]
fn set_family_across_shards() {
    let srv = Server::start(4);
    let mut c = srv.client();
    let ok = |v: redis::RedisResult<Value>| v.expect("command");
    assert_eq!(
        ok(cmd(&mut c, &["SADD", "nums", "3", "1", "2", "2"])),
        Value::Int(3)
    );
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "nums"])),
        bulk("intset")
    );
    assert_eq!(
        ok(cmd(&mut c, &["SMEMBERS", "nums"])),
        Value::Array(vec![bulk("1"), bulk("2"), bulk("3")])
    );
    assert_eq!(ok(cmd(&mut c, &["SADD", "nums", "x"])), Value::Int(1));
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "nums"])),
        bulk("listpack")
    );
    assert_eq!(
        ok(cmd(&mut c, &["TYPE", "nums"])),
        Value::SimpleString("set".into())
    );
    // Keys chosen to land on different shards.
    let names: Vec<String> = (0..8).map(|i| format!("s{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        let members: Vec<String> = (0..5).map(|j| format!("m{}", i + j)).collect();
        let mut args = vec!["SADD", n.as_str()];
        args.extend(members.iter().map(|s| s.as_str()));
        assert_eq!(ok(cmd(&mut c, &args)), Value::Int(5));
    }
    assert_eq!(
        sorted(ok(cmd(&mut c, &["SUNION", "s0", "s3", "nosuch"]))),
        vec!["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"]
    );
    assert_eq!(
        sorted(ok(cmd(&mut c, &["SINTER", "s0", "s2", "s4"]))),
        vec!["m4"]
    );
    assert_eq!(
        sorted(ok(cmd(&mut c, &["SDIFF", "s0", "s1", "s2"]))),
        vec!["m0"]
    );
    assert_eq!(
        ok(cmd(&mut c, &["SINTERCARD", "2", "s0", "s1", "LIMIT", "2"])),
        Value::Int(2)
    );
    assert_eq!(
        ok(cmd(&mut c, &["SUNIONSTORE", "dest", "s0", "s5", "s7"])),
        Value::Int(12)
    );
    assert_eq!(ok(cmd(&mut c, &["SCARD", "dest"])), Value::Int(12));
    assert_eq!(
        ok(cmd(&mut c, &["SINTERSTORE", "dest", "s0", "s7"])),
        Value::Int(0)
    );
    assert_eq!(
        ok(cmd(&mut c, &["EXISTS", "dest"])),
        Value::Int(0),
        "an empty result deletes the destination"
    );
    assert_eq!(ok(cmd(&mut c, &["SMOVE", "s0", "s6", "m0"])), Value::Int(1));
    assert_eq!(ok(cmd(&mut c, &["SISMEMBER", "s6", "m0"])), Value::Int(1));
    assert_eq!(
        ok(cmd(&mut c, &["SMISMEMBER", "s0", "m0", "m1"])),
        Value::Array(vec![Value::Int(0), Value::Int(1)])
    );
    let _: () = redis::cmd("SET")
        .arg("str")
        .arg("x")
        .query(&mut c)
        .expect("set");
    assert_eq!(
        cmd(&mut c, &["SUNION", "s0", "str"])
            .expect_err("wrongtype")
            .code(),
        Some("WRONGTYPE")
    );
    // SPOP / SRANDMEMBER.
    let popped = sorted(ok(cmd(&mut c, &["SPOP", "s1", "2"])));
    assert_eq!(popped.len(), 2);
    assert_eq!(ok(cmd(&mut c, &["SCARD", "s1"])), Value::Int(3));
    assert_eq!(
        sorted(ok(cmd(&mut c, &["SRANDMEMBER", "s2", "10"]))).len(),
        5
    );
    assert_eq!(
        sorted(ok(cmd(&mut c, &["SRANDMEMBER", "s2", "-10"]))).len(),
        10
    );
    assert_eq!(ok(cmd(&mut c, &["SPOP", "nosuch"])), Value::Nil);
    // A big set: hashtable encoding, SSCAN sees every member once.
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        pipe.cmd("SADD")
            .arg("big")
            .arg(format!("member-{i}"))
            .ignore();
    }
    let _: () = pipe.query(&mut c).expect("pipeline");
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "big"])),
        bulk("hashtable")
    );
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, items): (String, Vec<String>) = redis::cmd("SSCAN")
            .arg("big")
            .arg(&cursor)
            .arg("COUNT")
            .arg(100)
            .query(&mut c)
            .expect("sscan");
        seen.extend(items);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 2000);
    // RESP3: SMEMBERS is a set.
    let mut raw = srv.raw();
    common::send_raw(&mut raw, b"HELLO 3\r\n");
    assert_eq!(common::send_raw(&mut raw, b"SMEMBERS nums\r\n")[0], b'~');
}

/// The encoding thresholds are CONFIG GET/SET parameters (Redis 7.2's names), applied to every
/// shard; values built before a change keep their encoding until they grow.
#[test]
fn set_encoding_thresholds_are_configurable() {
    let srv = Server::start(2);
    let mut c = srv.client();
    let ok = |v: redis::RedisResult<Value>| v.expect("command");
    let get = |c: &mut redis::Connection, name: &str| -> Vec<String> {
        redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query(c)
            .expect("config get")
    };
    assert_eq!(
        get(&mut c, "set-max-intset-entries"),
        ["set-max-intset-entries", "512"]
    );
    assert_eq!(
        get(&mut c, "set-max-listpack-entries"),
        ["set-max-listpack-entries", "128"]
    );
    assert_eq!(
        get(&mut c, "set-max-listpack-value"),
        ["set-max-listpack-value", "64"]
    );
    for (name, value) in [
        ("set-max-intset-entries", "3"),
        ("set-max-listpack-entries", "4"),
        ("set-max-listpack-value", "5"),
    ] {
        assert_eq!(
            ok(cmd(&mut c, &["CONFIG", "SET", name, value])),
            Value::Okay
        );
    }
    let err = cmd(&mut c, &["CONFIG", "SET", "set-max-listpack-entries", "-1"])
        .expect_err("negative")
        .to_string();
    assert!(
        err.contains("argument must be between 0 and 2147483647"),
        "{err}"
    );
    assert_eq!(
        get(&mut c, "set-max-listpack-entries"),
        ["set-max-listpack-entries", "4"]
    );
    // On every shard: keys spread by their names.
    for k in ["ints-a", "ints-b", "ints-c", "ints-d"] {
        ok(cmd(&mut c, &["SADD", k, "1", "2", "3"]));
        assert_eq!(ok(cmd(&mut c, &["OBJECT", "ENCODING", k])), bulk("intset"));
        ok(cmd(&mut c, &["SADD", k, "4"]));
        assert_eq!(
            ok(cmd(&mut c, &["OBJECT", "ENCODING", k])),
            bulk("listpack")
        );
        ok(cmd(&mut c, &["SADD", k, "5"]));
        assert_eq!(
            ok(cmd(&mut c, &["OBJECT", "ENCODING", k])),
            bulk("hashtable")
        );
        assert_eq!(
            sorted(ok(cmd(&mut c, &["SMEMBERS", k]))),
            ["1", "2", "3", "4", "5"]
        );
    }
    ok(cmd(&mut c, &["SADD", "words", "abcde"]));
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "words"])),
        bulk("listpack")
    );
    ok(cmd(&mut c, &["SADD", "words", "abcdef"]));
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "words"])),
        bulk("hashtable")
    );
    assert_eq!(ok(cmd(&mut c, &["SCARD", "words"])), Value::Int(2));
}
