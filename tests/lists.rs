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
