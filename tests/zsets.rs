//! Sorted sets against the real binary on 1 and 4 shards: byte-exact replies recorded from
//! redis-server 7.0.15 (RESP2 and RESP3), then what a recording cannot show: 7.2's WITHSCORE,
//! random members, ZSCAN over a large set, encodings and their settings, large sets against a
//! model, keys spread over shards, lazy free and memory accounting.

mod common;
mod zsets_golden;

use common::repl::info_num;
use common::{cmd, Server};
use redis::Value;
use std::io::{Read, Write};
use std::net::TcpStream;

/// A raw RESP connection that returns each reply's exact bytes.
struct Raw {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    fn new(srv: &Server) -> Raw {
        Raw {
            s: srv.raw(),
            buf: Vec::new(),
        }
    }

    fn fill(&mut self) {
        let mut tmp = [0u8; 65536];
        let n = self.s.read(&mut tmp).expect("read");
        assert!(n > 0, "connection closed");
        self.buf.extend_from_slice(&tmp[..n]);
    }

    fn line(&mut self, at: usize) -> usize {
        loop {
            if let Some(p) = self.buf[at..].windows(2).position(|w| w == b"\r\n") {
                return at + p + 2;
            }
            self.fill();
        }
    }

    /// End offset of the reply starting at `at`.
    fn reply_end(&mut self, at: usize) -> usize {
        let end = self.line(at);
        let head = self.buf[at];
        let n: i64 = std::str::from_utf8(&self.buf[at + 1..end - 2])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match head {
            b'$' | b'=' if n >= 0 => {
                while self.buf.len() < end + n as usize + 2 {
                    self.fill();
                }
                end + n as usize + 2
            }
            b'*' | b'~' | b'>' | b'%' if n > 0 => {
                let items = if head == b'%' { n * 2 } else { n };
                let mut e = end;
                for _ in 0..items {
                    e = self.reply_end(e);
                }
                e
            }
            _ => end,
        }
    }

    fn call(&mut self, args: &[&str]) -> Vec<u8> {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.s.write_all(&req).expect("write");
        let end = self.reply_end(0);
        self.buf.drain(..end).collect()
    }
}

#[test]
fn replies_match_redis_byte_for_byte() {
    for shards in [1, 4] {
        let srv = Server::start(shards);
        for resp3 in [false, true] {
            let mut c = Raw::new(&srv);
            c.call(&["FLUSHALL"]);
            if resp3 {
                c.call(&["HELLO", "3"]);
            }
            for (args, want2, want3) in zsets_golden::CASES {
                let want = if resp3 { want3 } else { want2 };
                let got = c.call(args);
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(want),
                    "{shards} shard(s), RESP{}: {args:?}",
                    if resp3 { 3 } else { 2 }
                );
            }
        }
    }
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn strings(v: Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .map(|x| match x {
                Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
                Value::Int(i) => i.to_string(),
                Value::Double(d) => d.to_string(),
                other => format!("{other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

fn ok(v: redis::RedisResult<Value>) -> Value {
    v.expect("command")
}

fn err(v: redis::RedisResult<Value>) -> String {
    match v {
        Err(e) => format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

#[test]
fn rank_withscore_as_redis_7_2() {
    let srv = Server::start(2);
    let mut c = srv.client();
    ok(cmd(&mut c, &["ZADD", "z", "1.5", "a", "2", "b"]));
    assert_eq!(
        ok(cmd(&mut c, &["ZRANK", "z", "b", "WITHSCORE"])),
        Value::Array(vec![Value::Int(1), bulk("2")])
    );
    assert_eq!(
        ok(cmd(&mut c, &["ZREVRANK", "z", "b", "withscore"])),
        Value::Array(vec![Value::Int(0), bulk("2")])
    );
    assert_eq!(
        ok(cmd(&mut c, &["ZRANK", "z", "nope", "WITHSCORE"])),
        Value::Nil
    );
    assert_eq!(
        ok(cmd(&mut c, &["ZRANK", "missing", "a", "WITHSCORE"])),
        Value::Nil
    );
    assert_eq!(
        err(cmd(&mut c, &["ZRANK", "z", "a", "WITHSCORES"])),
        "ERR syntax error"
    );
    assert_eq!(
        err(cmd(&mut c, &["ZRANK", "z", "a", "WITHSCORE", "x"])),
        "ERR wrong number of arguments for 'zrank' command"
    );
    let mut raw = Raw::new(&srv);
    assert_eq!(raw.call(&["ZRANK", "z", "nope", "WITHSCORE"]), b"*-1\r\n");
    raw.call(&["HELLO", "3"]);
    assert_eq!(
        raw.call(&["ZRANK", "z", "a", "WITHSCORE"]),
        b"*2\r\n:0\r\n,1.5\r\n"
    );
    assert_eq!(raw.call(&["ZRANK", "z", "nope", "WITHSCORE"]), b"_\r\n");
}

#[test]
fn random_members() {
    let srv = Server::start(1);
    let mut c = srv.client();
    let mut args = vec!["ZADD".to_string(), "z".into()];
    for i in 0..300 {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    ok(cmd(&mut c, &refs));
    for count in ["5", "150", "299"] {
        let got = strings(ok(cmd(&mut c, &["ZRANDMEMBER", "z", count])));
        let n: usize = count.parse().expect("n");
        assert_eq!(got.len(), n);
        let mut d = got.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), n, "distinct");
        assert!(got.iter().all(|m| m.starts_with('m')));
    }
    let got = strings(ok(cmd(&mut c, &["ZRANDMEMBER", "z", "-1000"])));
    assert_eq!(got.len(), 1000);
    let pairs = strings(ok(cmd(&mut c, &["ZRANDMEMBER", "z", "7", "WITHSCORES"])));
    assert_eq!(pairs.len(), 14);
    for p in pairs.chunks(2) {
        assert_eq!(format!("m{}", p[1]), p[0], "score goes with its member");
    }
    let all = strings(ok(cmd(&mut c, &["ZRANDMEMBER", "z", "1000"])));
    assert_eq!(all.len(), 300);
    assert_eq!(
        all[0], "m299",
        "the whole set comes from the top, as in Redis"
    );
    match ok(cmd(&mut c, &["ZRANDMEMBER", "z"])) {
        Value::BulkString(b) => assert!(b.starts_with(b"m")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn zscan_visits_a_large_set_once() {
    let srv = Server::start(1);
    let mut c = srv.client();
    let mut pipe = redis::pipe();
    for i in 0..5000 {
        pipe.cmd("ZADD")
            .arg("z")
            .arg(i)
            .arg(format!("m{i}"))
            .ignore();
    }
    let _: () = pipe.query(&mut c).expect("fill");
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "z"])),
        bulk("skiplist")
    );
    let mut seen = std::collections::HashMap::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        let reply = ok(cmd(&mut c, &["ZSCAN", "z", &cursor, "COUNT", "100"]));
        let Value::Array(mut parts) = reply else {
            panic!("reply")
        };
        let items = strings(parts.pop().expect("items"));
        cursor = strings(Value::Array(parts)).remove(0);
        for p in items.chunks(2).filter(|p| p[0].starts_with('m')) {
            *seen.entry(p[0].clone()).or_insert(0) += 1;
            assert_eq!(format!("m{}", p[1]), p[0]);
        }
        rounds += 1;
        // Churn between steps: members removed and added are allowed to show up or not.
        ok(cmd(&mut c, &["ZADD", "z", "-1", &format!("new{rounds}")]));
        if cursor == "0" {
            break;
        }
    }
    assert!(rounds >= 50);
    for i in 0..5000 {
        assert_eq!(seen.get(&format!("m{i}")), Some(&1), "m{i}");
    }
    let matched = ok(cmd(
        &mut c,
        &["ZSCAN", "z", "0", "MATCH", "m1?", "COUNT", "100000"],
    ));
    let Value::Array(parts) = matched else {
        panic!()
    };
    assert_eq!(strings(parts[1].clone()).len(), 20);
}

#[test]
fn encodings_follow_the_settings() {
    let srv = Server::start(1);
    let mut c = srv.client();
    assert_eq!(
        strings(ok(cmd(
            &mut c,
            &["CONFIG", "GET", "zset-max-listpack-entries"]
        ))),
        vec!["zset-max-listpack-entries", "128"]
    );
    ok(cmd(
        &mut c,
        &["CONFIG", "SET", "zset-max-listpack-entries", "3"],
    ));
    ok(cmd(
        &mut c,
        &["CONFIG", "SET", "zset-max-ziplist-value", "4"],
    ));
    assert_eq!(
        strings(ok(cmd(
            &mut c,
            &["CONFIG", "GET", "zset-max-listpack-value"]
        ))),
        vec!["zset-max-listpack-value", "4"]
    );
    ok(cmd(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]));
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "z"])),
        bulk("listpack")
    );
    ok(cmd(&mut c, &["ZADD", "z", "4", "d"]));
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "z"])),
        bulk("skiplist")
    );
    ok(cmd(&mut c, &["ZADD", "y", "1", "abcde"]));
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "y"])),
        bulk("skiplist")
    );
    ok(cmd(&mut c, &["ZPOPMIN", "z", "2"]));
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "z"])),
        bulk("skiplist")
    );
    // A stored result is packed again when it fits.
    ok(cmd(&mut c, &["ZUNIONSTORE", "u", "1", "z"]));
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "u"])),
        bulk("listpack")
    );
    ok(cmd(&mut c, &["ZRANGESTORE", "r", "z", "0", "-1"]));
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "r"])),
        bulk("listpack")
    );
    ok(cmd(
        &mut c,
        &["CONFIG", "SET", "zset-max-listpack-entries", "0"],
    ));
    ok(cmd(&mut c, &["ZADD", "x", "1", "a"]));
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "x"])),
        bulk("skiplist")
    );
    assert!(err(cmd(
        &mut c,
        &["CONFIG", "SET", "zset-max-listpack-entries", "-1"]
    ))
    .contains("zset-max-listpack-entries"));
    assert_eq!(
        ok(cmd(&mut c, &["TYPE", "x"])),
        Value::SimpleString("zset".into())
    );
}

#[test]
fn yaml_sets_the_thresholds() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("c.yml");
    std::fs::write(
        &path,
        "kv_store:\n  zset_max_listpack_entries: 2\n  zset_max_listpack_value: 1kb\n",
    )
    .expect("write");
    let srv = Server::start_with(1, &["--config", path.to_str().expect("path")]);
    let mut c = srv.client();
    ok(cmd(&mut c, &["ZADD", "z", "1", "a", "2", "b"]));
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "z"])),
        bulk("listpack")
    );
    ok(cmd(&mut c, &["ZADD", "z", "3", "c"]));
    assert_eq!(
        ok(cmd(&mut c, &["OBJECT", "ENCODING", "z"])),
        bulk("skiplist")
    );
    assert_eq!(
        strings(ok(cmd(
            &mut c,
            &["CONFIG", "GET", "zset-max-listpack-value"]
        ))),
        vec!["zset-max-listpack-value", "1024"]
    );
}

/// A large set through many operations, against a sorted model.
#[test]
fn large_sets_match_a_model() {
    for shards in [1, 4] {
        let srv = Server::start(shards);
        let mut c = srv.client();
        let mut model: Vec<(f64, String)> = Vec::new();
        let mut x: u64 = 42;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 33
        };
        let mut pipe = redis::pipe();
        for _ in 0..3000 {
            let m = format!("m{}", next() % 2000);
            let s = (next() % 500) as f64 / 4.0;
            pipe.cmd("ZADD").arg("big").arg(s).arg(&m).ignore();
            match model.iter_mut().find(|e| e.1 == m) {
                Some(e) => e.0 = s,
                None => model.push((s, m)),
            }
        }
        let _: () = pipe.query(&mut c).expect("fill");
        for _ in 0..300 {
            let m = format!("m{}", next() % 2000);
            let removed = model.iter().position(|e| e.1 == m).map(|i| model.remove(i));
            assert_eq!(
                ok(cmd(&mut c, &["ZREM", "big", &m])),
                Value::Int(removed.is_some() as i64)
            );
        }
        model.sort_by(|a, b| a.0.partial_cmp(&b.0).expect("cmp").then(a.1.cmp(&b.1)));
        let all = strings(ok(cmd(&mut c, &["ZRANGE", "big", "0", "-1", "WITHSCORES"])));
        let want: Vec<String> = model
            .iter()
            .flat_map(|(s, m)| [m.clone(), s.to_string()])
            .collect();
        assert_eq!(all, want);
        assert_eq!(
            ok(cmd(&mut c, &["ZCARD", "big"])),
            Value::Int(model.len() as i64)
        );
        for i in [0usize, 1, 77, model.len() / 2, model.len() - 1] {
            let (s, m) = &model[i];
            assert_eq!(ok(cmd(&mut c, &["ZRANK", "big", m])), Value::Int(i as i64));
            assert_eq!(
                ok(cmd(&mut c, &["ZREVRANK", "big", m])),
                Value::Int((model.len() - 1 - i) as i64)
            );
            assert_eq!(ok(cmd(&mut c, &["ZSCORE", "big", m])), bulk(&s.to_string()));
        }
        let in_range: Vec<String> = model
            .iter()
            .filter(|(s, _)| *s > 10.0 && *s <= 50.0)
            .map(|(_, m)| m.clone())
            .collect();
        assert_eq!(
            ok(cmd(&mut c, &["ZCOUNT", "big", "(10", "50"])),
            Value::Int(in_range.len() as i64)
        );
        assert_eq!(
            strings(ok(cmd(
                &mut c,
                &["ZRANGEBYSCORE", "big", "(10", "50", "LIMIT", "5", "20"]
            ))),
            in_range[5..25].to_vec()
        );
        let mut rev = in_range.clone();
        rev.reverse();
        assert_eq!(
            strings(ok(cmd(
                &mut c,
                &["ZRANGE", "big", "50", "(10", "BYSCORE", "REV", "LIMIT", "3", "4"]
            ))),
            rev[3..7].to_vec()
        );
        assert_eq!(
            ok(cmd(&mut c, &["ZREMRANGEBYSCORE", "big", "(10", "50"])),
            Value::Int(in_range.len() as i64)
        );
        model.retain(|(s, _)| !(*s > 10.0 && *s <= 50.0));
        assert_eq!(
            ok(cmd(&mut c, &["ZREMRANGEBYRANK", "big", "10", "-11"])),
            Value::Int(model.len() as i64 - 20)
        );
        model.drain(10..model.len() - 10);
        let all = strings(ok(cmd(&mut c, &["ZRANGE", "big", "0", "-1"])));
        assert_eq!(
            all,
            model.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>()
        );
        let popped = strings(ok(cmd(&mut c, &["ZPOPMAX", "big", "3"])));
        assert_eq!(popped[0], model[model.len() - 1].1);
        assert_eq!(popped[4], model[model.len() - 3].1);
    }
}

/// Keys on different shards: the gather path, stores on the destination's shard.
#[test]
fn multi_key_commands_across_shards() {
    let srv = Server::start(4);
    let mut c = srv.client();
    // Enough keys that several shards are involved.
    for i in 0..8 {
        let k = format!("k{i}");
        ok(cmd(
            &mut c,
            &[
                "ZADD",
                &k,
                &i.to_string(),
                "shared",
                "1",
                &format!("own{i}"),
            ],
        ));
    }
    ok(cmd(&mut c, &["SADD", "plainset", "shared", "own0"]));
    let keys: Vec<String> = (0..8).map(|i| format!("k{i}")).collect();
    let mut args = vec!["ZUNIONSTORE", "dest", "8"];
    args.extend(keys.iter().map(|s| s.as_str()));
    assert_eq!(ok(cmd(&mut c, &args)), Value::Int(9));
    assert_eq!(ok(cmd(&mut c, &["ZSCORE", "dest", "shared"])), bulk("28"));
    let mut args = vec![
        "ZINTER",
        "3",
        "k1",
        "k2",
        "plainset",
        "WEIGHTS",
        "2",
        "3",
        "4",
        "WITHSCORES",
    ];
    assert_eq!(strings(ok(cmd(&mut c, &args))), vec!["shared", "12"]);
    args[0] = "ZINTERCARD";
    assert_eq!(ok(cmd(&mut c, &args[..5])), Value::Int(1));
    assert_eq!(
        strings(ok(cmd(
            &mut c,
            &["ZDIFF", "2", "k0", "plainset", "WITHSCORES"]
        ))),
        Vec::<String>::new()
    );
    assert_eq!(
        ok(cmd(&mut c, &["ZDIFFSTORE", "k7", "2", "k3", "k4"])),
        Value::Int(1)
    );
    assert_eq!(
        strings(ok(cmd(&mut c, &["ZRANGE", "k7", "0", "-1"]))),
        vec!["own3"]
    );
    assert_eq!(
        ok(cmd(&mut c, &["ZRANGESTORE", "k6", "dest", "0", "2"])),
        Value::Int(3)
    );
    assert_eq!(
        strings(ok(cmd(&mut c, &["ZRANGE", "k6", "0", "-1", "WITHSCORES"]))),
        vec!["own0", "1", "own1", "1", "own2", "1"]
    );
    ok(cmd(&mut c, &["SET", "str", "x"]));
    assert_eq!(
        err(cmd(&mut c, &["ZUNIONSTORE", "dest", "2", "k1", "str"])),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        ok(cmd(&mut c, &["ZCARD", "dest"])),
        Value::Int(9),
        "unchanged"
    );
    assert_eq!(
        ok(cmd(
            &mut c,
            &["ZMPOP", "3", "nokey", "k5", "k1", "MAX", "COUNT", "1"]
        )),
        Value::Array(vec![
            bulk("k5"),
            Value::Array(vec![Value::Array(vec![bulk("shared"), bulk("5")])])
        ])
    );
    assert_eq!(
        err(cmd(&mut c, &["ZMPOP", "2", "str", "k1", "MIN"])),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    // COPY and RENAME move sorted sets between shards.
    assert_eq!(ok(cmd(&mut c, &["COPY", "dest", "copied"])), Value::Int(1));
    assert_eq!(
        ok(cmd(&mut c, &["RENAME", "copied", "renamed"])),
        Value::Okay
    );
    assert_eq!(ok(cmd(&mut c, &["ZCARD", "renamed"])), Value::Int(9));
    assert_eq!(
        ok(cmd(
            &mut c,
            &[
                "COMMAND",
                "GETKEYS",
                "ZUNIONSTORE",
                "d",
                "2",
                "a",
                "b",
                "WEIGHTS",
                "1",
                "2"
            ]
        )),
        Value::Array(vec![bulk("d"), bulk("a"), bulk("b")])
    );
}

fn used_memory(c: &mut redis::Connection) -> i64 {
    info_num(c, "memory", "used_memory")
}

#[test]
fn memory_is_accounted_and_freed_lazily() {
    let srv = Server::start(1);
    let mut c = srv.client();
    let before = used_memory(&mut c);
    for chunk in 0..20 {
        let mut k = redis::cmd("ZADD");
        k.arg("big");
        for i in 0..5000 {
            let n = chunk * 5000 + i;
            k.arg(n).arg(format!("member:{n}"));
        }
        let _: i64 = k.query(&mut c).expect("fill");
    }
    let grown = used_memory(&mut c) - before;
    // About 60 bytes a member in the large encoding.
    assert!((4_000_000..9_000_000).contains(&grown), "{grown}");
    let usage = match ok(cmd(&mut c, &["MEMORY", "USAGE", "big"])) {
        Value::Int(n) => n,
        other => panic!("{other:?}"),
    };
    assert!((grown - usage).abs() < grown / 10, "{usage} vs {grown}");
    ok(cmd(&mut c, &["ZADD", "small", "1", "a"]));
    let small = match ok(cmd(&mut c, &["MEMORY", "USAGE", "small"])) {
        Value::Int(n) => n,
        other => panic!("{other:?}"),
    };
    assert!(small < 200, "{small}");
    assert_eq!(ok(cmd(&mut c, &["UNLINK", "big", "small"])), Value::Int(2));
    assert_eq!(ok(cmd(&mut c, &["EXISTS", "big"])), Value::Int(0));
    assert!(used_memory(&mut c) - before < 100_000);
    assert_eq!(
        ok(cmd(&mut c, &["PING"])),
        Value::SimpleString("PONG".into())
    );
    // DEL of a large set works too, at once.
    ok(cmd(&mut c, &["ZUNIONSTORE", "again", "1", "nokey"]));
    let mut k = redis::cmd("ZADD");
    k.arg("big2");
    for i in 0..1000 {
        k.arg(i).arg(i);
    }
    let _: i64 = k.query(&mut c).expect("fill");
    assert_eq!(ok(cmd(&mut c, &["DEL", "big2"])), Value::Int(1));
    assert_eq!(ok(cmd(&mut c, &["DBSIZE"])), Value::Int(0));
}

#[test]
fn bad_input_changes_nothing() {
    let srv = Server::start(2);
    let mut c = srv.client();
    ok(cmd(&mut c, &["ZADD", "z", "1", "a", "2", "b"]));
    ok(cmd(&mut c, &["SET", "s", "v"]));
    let cases: &[(&[&str], &str)] = &[
        (&["ZADD", "z", "1", "a", "x", "b"], "ERR value is not a valid float"),
        (&["ZADD", "z", "nan", "c"], "ERR value is not a valid float"),
        (&["ZADD", "z", "1", "c", "2"], "ERR syntax error"),
        (&["ZADD", "s", "1", "a"], "WRONGTYPE Operation against a key holding the wrong kind of value"),
        (&["ZADD", "z", "XX", "NX", "1", "a"], "ERR XX and NX options at the same time are not compatible"),
        (&["ZADD", "z", "GT", "LT", "1", "a"], "ERR GT, LT, and/or NX options at the same time are not compatible"),
        (&["ZADD", "z", "INCR", "1", "a", "2", "b"], "ERR INCR option supports a single increment-element pair"),
        (&["ZINCRBY", "z", "x", "a"], "ERR value is not a valid float"),
        (&["ZRANGE", "z", "0", "99999999999999999999"], "ERR value is not an integer or out of range"),
        (&["ZRANGEBYSCORE", "z", "(x", "1"], "ERR min or max is not a float"),
        (&["ZRANGEBYLEX", "z", "a", "+"], "ERR min or max not valid string range item"),
        (&["ZPOPMIN", "z", "-5"], "ERR value is out of range, must be positive"),
        (&["ZRANDMEMBER", "z", "-9223372036854775808"], "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
        (&["ZUNIONSTORE", "z", "99999", "a"], "ERR syntax error"),
        (&["ZUNIONSTORE", "z", "1", "s"], "WRONGTYPE Operation against a key holding the wrong kind of value"),
        (&["ZINTERSTORE", "z", "2", "z", "a", "WEIGHTS", "1", "x"], "ERR weight value is not a float"),
        (&["ZMPOP", "99999999999", "z", "MIN"], "ERR syntax error"),
        (&["ZRANGESTORE", "z", "s", "0", "-1"], "WRONGTYPE Operation against a key holding the wrong kind of value"),
    ];
    for (args, want) in cases {
        assert_eq!(&err(cmd(&mut c, args)), want, "{args:?}");
    }
    assert_eq!(
        strings(ok(cmd(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]))),
        vec!["a", "1", "b", "2"]
    );
    // Huge counts are fine: bounded by the set.
    assert_eq!(
        strings(ok(cmd(
            &mut c,
            &[
                "ZRANGEBYSCORE",
                "z",
                "-inf",
                "+inf",
                "LIMIT",
                "0",
                "9223372036854775807"
            ]
        ))),
        vec!["a", "b"]
    );
    assert_eq!(
        strings(ok(cmd(
            &mut c,
            &[
                "ZRANGEBYSCORE",
                "z",
                "-inf",
                "+inf",
                "LIMIT",
                "9223372036854775807",
                "1"
            ]
        ))),
        Vec::<String>::new()
    );
    assert_eq!(
        strings(ok(cmd(
            &mut c,
            &["ZRANGE", "z", "-9223372036854775808", "9223372036854775807"]
        ))),
        vec!["a", "b"]
    );
    assert_eq!(
        strings(ok(cmd(&mut c, &["ZPOPMIN", "z", "9223372036854775807"]))),
        vec!["a", "1", "b", "2"]
    );
    assert_eq!(ok(cmd(&mut c, &["EXISTS", "z"])), Value::Int(0));
    assert_eq!(ok(cmd(&mut c, &["GET", "s"])), bulk("v"));
}
