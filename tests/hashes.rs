//! Hashes on several shards: encodings, big hashes, HSCAN, HRANDFIELD, errors, RESP3.

mod common;
use common::{cmd, Server};
use redis::Value;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn hash_family() {
    let srv = Server::start(3);
    let mut c = srv.client();
    let ok = |v: redis::RedisResult<Value>| v.expect("command");
    assert_eq!(
        ok(cmd(&mut c, &["HSET", "h", "a", "1", "b", "2"])),
        Value::Int(2)
    );
    assert_eq!(
        ok(cmd(&mut c, &["HSET", "h", "a", "10", "c", "3"])),
        Value::Int(1)
    );
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "h"])),
        bulk("listpack")
    );
    assert_eq!(
        ok(cmd(&mut c, &["TYPE", "h"])),
        Value::SimpleString("hash".into())
    );
    assert_eq!(
        ok(cmd(&mut c, &["HGETALL", "h"])),
        Value::Array(vec![
            bulk("a"),
            bulk("10"),
            bulk("b"),
            bulk("2"),
            bulk("c"),
            bulk("3")
        ])
    );
    assert_eq!(ok(cmd(&mut c, &["HINCRBY", "h", "a", "5"])), Value::Int(15));
    assert_eq!(
        ok(cmd(&mut c, &["HINCRBYFLOAT", "h", "b", "0.5"])),
        bulk("2.5")
    );
    let e = cmd(&mut c, &["HINCRBY", "h", "b", "1"]).expect_err("not an integer");
    assert_eq!(e.detail(), Some("hash value is not an integer"));
    let e = cmd(&mut c, &["GET", "h"]).expect_err("wrongtype");
    assert_eq!(e.code(), Some("WRONGTYPE"));
    let e = cmd(&mut c, &["HSET", "h", "x"]).expect_err("arity");
    assert_eq!(
        e.detail(),
        Some("wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        ok(cmd(&mut c, &["HDEL", "h", "a", "b", "c", "zz"])),
        Value::Int(3)
    );
    assert_eq!(
        ok(cmd(&mut c, &["EXISTS", "h"])),
        Value::Int(0),
        "an emptied hash is deleted"
    );

    // A big hash converts to a table and HSCAN walks all of it.
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("HSET")
            .arg("big")
            .arg(format!("f{i}"))
            .arg(i)
            .ignore();
    }
    let _: () = pipe.query(&mut c).expect("pipeline");
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "big"])),
        bulk("hashtable")
    );
    assert_eq!(ok(cmd(&mut c, &["HLEN", "big"])), Value::Int(1000));
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, items): (String, Vec<String>) = redis::cmd("HSCAN")
            .arg("big")
            .arg(&cursor)
            .arg("COUNT")
            .arg(77)
            .query(&mut c)
            .expect("hscan");
        for pair in items.chunks(2) {
            assert_eq!(pair[0][1..], pair[1]);
            seen.insert(pair[0].clone());
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    let fields: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("big")
        .arg(5)
        .query(&mut c)
        .expect("hrandfield");
    assert_eq!(
        fields
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        5
    );
    let repeats: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("big")
        .arg(-2000)
        .query(&mut c)
        .expect("hrandfield");
    assert_eq!(repeats.len(), 2000);
    let with: Vec<String> = redis::cmd("HRANDFIELD")
        .arg("big")
        .arg(3)
        .arg("WITHVALUES")
        .query(&mut c)
        .expect("hrandfield");
    assert_eq!(with.len(), 6);
    // Renames and copies of hashes across shards keep every field.
    assert_eq!(ok(cmd(&mut c, &["COPY", "big", "big2"])), Value::Int(1));
    assert_eq!(ok(cmd(&mut c, &["RENAME", "big2", "big3"])), Value::Okay);
    assert_eq!(ok(cmd(&mut c, &["HGET", "big3", "f999"])), bulk("999"));
    let mut hashes = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("TYPE")
            .arg("hash")
            .query(&mut c)
            .expect("scan");
        hashes.extend(keys);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    hashes.sort();
    assert_eq!(hashes, vec!["big".to_string(), "big3".to_string()]);
    // Thresholds are configurable.
    assert_eq!(
        ok(cmd(
            &mut c,
            &["CONFIG", "SET", "hash-max-listpack-entries", "2"]
        )),
        Value::Okay
    );
    assert_eq!(
        ok(cmd(
            &mut c,
            &["HSET", "small", "a", "1", "b", "2", "c", "3"]
        )),
        Value::Int(3)
    );
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "small"])),
        bulk("hashtable")
    );
    let Value::Int(mem) = ok(cmd(&mut c, &["MEMORY", "USAGE", "big"])) else {
        panic!()
    };
    assert!(mem > 1000 * 10, "{mem}");
    // RESP3 HGETALL is a map.
    let mut raw = srv.raw();
    common::send_raw(&mut raw, b"HELLO 3\r\n");
    let r = common::send_raw(&mut raw, b"HSET m k v\r\nHGETALL m\r\n");
    assert_eq!(r, b":1\r\n%1\r\n$1\r\nk\r\n$1\r\nv\r\n");
}
