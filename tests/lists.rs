//! Lists on several shards: ends, ranges, positions, moves across shards.

mod common;
use common::{cmd, Server};
use redis::Value;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn list_family_across_shards() {
    let srv = Server::start(4);
    let mut c = srv.client();
    let ok = |v: redis::RedisResult<Value>| v.expect("command");
    assert_eq!(
        ok(cmd(&mut c, &["RPUSH", "q", "a", "b", "c"])),
        Value::Int(3)
    );
    assert_eq!(ok(cmd(&mut c, &["LPUSH", "q", "x", "y"])), Value::Int(5));
    assert_eq!(
        ok(cmd(&mut c, &["LRANGE", "q", "0", "-1"])),
        Value::Array(["y", "x", "a", "b", "c"].iter().map(|s| bulk(s)).collect())
    );
    assert_eq!(
        ok(cmd(&mut c, &["TYPE", "q"])),
        Value::SimpleString("list".into())
    );
    assert_eq!(ok(cmd(&mut c, &["LINDEX", "q", "-1"])), bulk("c"));
    assert_eq!(ok(cmd(&mut c, &["LPOS", "q", "b"])), Value::Int(3));
    assert_eq!(
        ok(cmd(&mut c, &["LINSERT", "q", "BEFORE", "a", "z"])),
        Value::Int(6)
    );
    assert_eq!(ok(cmd(&mut c, &["LREM", "q", "0", "z"])), Value::Int(1));
    assert_eq!(ok(cmd(&mut c, &["LSET", "q", "0", "Y"])), Value::Okay);
    assert_eq!(
        cmd(&mut c, &["LSET", "q", "99", "Y"])
            .expect_err("range")
            .detail(),
        Some("index out of range")
    );
    assert_eq!(ok(cmd(&mut c, &["LTRIM", "q", "1", "-2"])), Value::Okay);
    assert_eq!(
        ok(cmd(&mut c, &["LRANGE", "q", "0", "-1"])),
        Value::Array(["x", "a", "b"].iter().map(|s| bulk(s)).collect())
    );
    // Moves between keys on different shards.
    for (i, dst) in ["d0", "d1", "d2", "d3", "d4", "d5"].iter().enumerate() {
        let _: () = redis::cmd("RPUSH")
            .arg(format!("src{i}"))
            .arg("e1")
            .arg("e2")
            .query(&mut c)
            .expect("rpush");
        assert_eq!(
            ok(cmd(
                &mut c,
                &["LMOVE", &format!("src{i}"), dst, "RIGHT", "LEFT"]
            )),
            bulk("e2")
        );
        assert_eq!(
            ok(cmd(&mut c, &["RPOPLPUSH", &format!("src{i}"), dst])),
            bulk("e1")
        );
        assert_eq!(
            ok(cmd(&mut c, &["EXISTS", &format!("src{i}")])),
            Value::Int(0),
            "emptied lists are deleted"
        );
        assert_eq!(
            ok(cmd(&mut c, &["LRANGE", dst, "0", "-1"])),
            Value::Array(vec![bulk("e1"), bulk("e2")])
        );
    }
    assert_eq!(
        ok(cmd(
            &mut c,
            &["LMPOP", "3", "none1", "d3", "d4", "LEFT", "COUNT", "5"]
        )),
        Value::Array(vec![bulk("d3"), Value::Array(vec![bulk("e1"), bulk("e2")])])
    );
    assert_eq!(
        ok(cmd(&mut c, &["LMPOP", "2", "none1", "none2", "LEFT"])),
        Value::Nil
    );
    let _: () = redis::cmd("SET")
        .arg("s")
        .arg("x")
        .query(&mut c)
        .expect("set");
    assert_eq!(
        cmd(&mut c, &["LMOVE", "d0", "s", "LEFT", "LEFT"])
            .expect_err("wrongtype")
            .code(),
        Some("WRONGTYPE")
    );
    assert_eq!(
        ok(cmd(&mut c, &["LLEN", "d0"])),
        Value::Int(2),
        "a failed move changes nothing"
    );
    // A long list: O(1) at both ends and by index.
    let mut pipe = redis::pipe();
    for i in 0..10_000 {
        pipe.cmd("RPUSH").arg("long").arg(i).ignore();
    }
    let _: () = pipe.query(&mut c).expect("pipeline");
    assert_eq!(ok(cmd(&mut c, &["LINDEX", "long", "5000"])), bulk("5000"));
    assert_eq!(
        ok(cmd(&mut c, &["LPOP", "long", "2"])),
        Value::Array(vec![bulk("0"), bulk("1")])
    );
    assert_eq!(ok(cmd(&mut c, &["LPOP", "missing", "2"])), Value::Nil);
}

/// Small lists are one packed chunk (`listpack`), large ones a deque of chunks (`quicklist`),
/// by `list-max-listpack-size`; they go back to one chunk when they shrink to half the limit.
#[test]
fn encodings_follow_list_max_listpack_size() {
    let srv = Server::start(2);
    let mut c = srv.client();
    let ok = |v: redis::RedisResult<Value>| v.expect("command");
    let enc = |c: &mut redis::Connection, k: &str| ok(cmd(c, &["OBJECT", "ENCODING", k]));
    assert_eq!(
        ok(cmd(&mut c, &["CONFIG", "GET", "list-max-listpack-size"])),
        Value::Array(vec![bulk("list-max-listpack-size"), bulk("-2")])
    );
    ok(cmd(&mut c, &["RPUSH", "small", "a", "b", "c"]));
    assert_eq!(enc(&mut c, "small"), bulk("listpack"));
    let big: Vec<String> = (0..3000).map(|i| format!("element:{i}")).collect();
    let mut args = vec!["RPUSH", "big"];
    args.extend(big.iter().map(|s| s.as_str()));
    assert_eq!(ok(cmd(&mut c, &args)), Value::Int(3000));
    assert_eq!(enc(&mut c, "big"), bulk("quicklist"));
    assert_eq!(ok(cmd(&mut c, &["LINDEX", "big", "0"])), bulk("element:0"));
    assert_eq!(
        ok(cmd(&mut c, &["LINDEX", "big", "-1"])),
        bulk("element:2999")
    );
    assert_eq!(
        ok(cmd(&mut c, &["LINDEX", "big", "1777"])),
        bulk("element:1777")
    );
    assert_eq!(
        ok(cmd(&mut c, &["LRANGE", "big", "1499", "1501"])),
        Value::Array(
            ["element:1499", "element:1500", "element:1501"]
                .iter()
                .map(|s| bulk(s))
                .collect()
        )
    );
    // Packed: about 4 bytes per element here (Redis's listpack takes 14).
    let Value::Int(usage) = ok(cmd(&mut c, &["MEMORY", "USAGE", "big"])) else {
        panic!("MEMORY USAGE");
    };
    assert!(usage < 3000 * 8, "{usage}");
    assert_eq!(ok(cmd(&mut c, &["LTRIM", "big", "0", "9"])), Value::Okay);
    assert_eq!(enc(&mut c, "big"), bulk("listpack"));
    // A count limit: two elements per chunk.
    assert_eq!(
        ok(cmd(
            &mut c,
            &["CONFIG", "SET", "list-max-listpack-size", "2"]
        )),
        Value::Okay
    );
    ok(cmd(&mut c, &["RPUSH", "two", "a", "b", "c"]));
    assert_eq!(enc(&mut c, "two"), bulk("quicklist"));
    assert_eq!(
        ok(cmd(&mut c, &["LINSERT", "two", "AFTER", "b", "x"])),
        Value::Int(4)
    );
    assert_eq!(
        ok(cmd(&mut c, &["LRANGE", "two", "0", "-1"])),
        Value::Array(["a", "b", "x", "c"].iter().map(|s| bulk(s)).collect())
    );
    assert_eq!(
        cmd(&mut c, &["CONFIG", "SET", "list-max-listpack-size", "x"])
            .expect_err("not an integer")
            .detail(),
        Some("CONFIG SET failed (possibly related to argument 'list-max-listpack-size') - argument couldn't be parsed into an integer")
    );
}
