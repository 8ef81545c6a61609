//! Every command family against the real server on several shards, with Redis's replies and
//! errors.

mod common;
use common::{cmd, Server};
use redis::{Commands, Value};

fn ok(v: redis::RedisResult<Value>) -> Value {
    v.expect("command failed")
}

fn err(v: redis::RedisResult<Value>) -> String {
    let e = v.expect_err("expected an error");
    // redis-rs splits the code from the detail; put them back together.
    match (e.code(), e.detail()) {
        (Some(code), Some(d)) => format!("{code} {d}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    }
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn strings_on_four_shards() {
    let srv = Server::start(4);
    let mut c = srv.client();
    assert_eq!(ok(cmd(&mut c, &["SET", "k", "v"])), Value::Okay);
    assert_eq!(ok(cmd(&mut c, &["GET", "k"])), bulk("v"));
    assert_eq!(ok(cmd(&mut c, &["GET", "missing"])), Value::Nil);
    assert_eq!(ok(cmd(&mut c, &["SET", "k", "w", "NX"])), Value::Nil);
    assert_eq!(ok(cmd(&mut c, &["SET", "k2", "w", "XX"])), Value::Nil);
    assert_eq!(ok(cmd(&mut c, &["SET", "k", "w", "XX", "GET"])), bulk("v"));
    assert_eq!(ok(cmd(&mut c, &["SET", "k", "x", "GET"])), bulk("w"));
    assert_eq!(
        err(cmd(&mut c, &["SET", "k", "x", "NX", "XX"])),
        "ERR syntax error"
    );
    assert_eq!(
        err(cmd(&mut c, &["SET", "k", "x", "EX", "0"])),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        err(cmd(&mut c, &["SET", "k", "x", "EX", "abc"])),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(cmd(&mut c, &["SET", "k", "x", "EX", "10", "PX", "100"])),
        "ERR syntax error"
    );
    assert_eq!(
        ok(cmd(&mut c, &["SET", "t", "x", "EX", "100"])),
        Value::Okay
    );
    assert_eq!(ok(cmd(&mut c, &["TTL", "t"])), Value::Int(100));
    assert_eq!(ok(cmd(&mut c, &["SET", "t", "y", "KEEPTTL"])), Value::Okay);
    assert_eq!(ok(cmd(&mut c, &["TTL", "t"])), Value::Int(100));
    assert_eq!(ok(cmd(&mut c, &["SET", "t", "z"])), Value::Okay);
    assert_eq!(ok(cmd(&mut c, &["TTL", "t"])), Value::Int(-1));
    assert_eq!(
        ok(cmd(&mut c, &["SET", "past", "z", "PXAT", "1"])),
        Value::Okay
    );
    assert_eq!(ok(cmd(&mut c, &["EXISTS", "past"])), Value::Int(0));

    assert_eq!(ok(cmd(&mut c, &["SETNX", "nx", "1"])), Value::Int(1));
    assert_eq!(ok(cmd(&mut c, &["SETNX", "nx", "2"])), Value::Int(0));
    assert_eq!(ok(cmd(&mut c, &["SETEX", "se", "10", "v"])), Value::Okay);
    assert_eq!(ok(cmd(&mut c, &["TTL", "se"])), Value::Int(10));
    assert_eq!(
        err(cmd(&mut c, &["SETEX", "se", "-1", "v"])),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(
        ok(cmd(&mut c, &["PSETEX", "pse", "10000", "v"])),
        Value::Okay
    );
    assert_eq!(ok(cmd(&mut c, &["GETSET", "nx", "3"])), bulk("1"));
    assert_eq!(ok(cmd(&mut c, &["GETDEL", "nx"])), bulk("3"));
    assert_eq!(ok(cmd(&mut c, &["GETDEL", "nx"])), Value::Nil);
    assert_eq!(ok(cmd(&mut c, &["GETEX", "se", "PERSIST"])), bulk("v"));
    assert_eq!(ok(cmd(&mut c, &["TTL", "se"])), Value::Int(-1));
    assert_eq!(ok(cmd(&mut c, &["GETEX", "se", "EX", "50"])), bulk("v"));
    assert_eq!(ok(cmd(&mut c, &["TTL", "se"])), Value::Int(50));
    assert_eq!(
        err(cmd(&mut c, &["GETEX", "se", "EX", "50", "PERSIST"])),
        "ERR syntax error"
    );

    // MSET/MGET spanning every shard.
    let keys: Vec<String> = (0..40).map(|i| format!("mk{i}")).collect();
    let mut args = vec!["MSET".to_string()];
    for k in &keys {
        args.push(k.clone());
        args.push(format!("val-{k}"));
    }
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(ok(cmd(&mut c, &a)), Value::Okay);
    let mut mget = vec!["MGET"];
    mget.extend(keys.iter().map(|s| s.as_str()));
    mget.push("nope");
    let Value::Array(vals) = ok(cmd(&mut c, &mget)) else {
        panic!("array")
    };
    assert_eq!(vals.len(), 41);
    for (k, v) in keys.iter().zip(&vals) {
        assert_eq!(*v, bulk(&format!("val-{k}")));
    }
    assert_eq!(vals[40], Value::Nil);
    assert_eq!(
        err(cmd(&mut c, &["MSET", "a", "1", "b"])),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(
        ok(cmd(&mut c, &["MSETNX", "n1", "1", "n2", "2", "n3", "3"])),
        Value::Int(1)
    );
    assert_eq!(
        ok(cmd(&mut c, &["MSETNX", "n4", "1", "n2", "x"])),
        Value::Int(0)
    );
    assert_eq!(ok(cmd(&mut c, &["EXISTS", "n4"])), Value::Int(0));

    assert_eq!(ok(cmd(&mut c, &["APPEND", "ap", "Hello"])), Value::Int(5));
    assert_eq!(ok(cmd(&mut c, &["APPEND", "ap", " World"])), Value::Int(11));
    assert_eq!(ok(cmd(&mut c, &["STRLEN", "ap"])), Value::Int(11));
    assert_eq!(ok(cmd(&mut c, &["STRLEN", "none"])), Value::Int(0));
    assert_eq!(
        ok(cmd(&mut c, &["GETRANGE", "ap", "0", "4"])),
        bulk("Hello")
    );
    assert_eq!(
        ok(cmd(&mut c, &["GETRANGE", "ap", "-5", "-1"])),
        bulk("World")
    );
    assert_eq!(
        ok(cmd(&mut c, &["SETRANGE", "ap", "6", "Redis"])),
        Value::Int(11)
    );
    assert_eq!(ok(cmd(&mut c, &["GET", "ap"])), bulk("Hello Redis"));
    assert_eq!(
        err(cmd(&mut c, &["SETRANGE", "ap", "-1", "x"])),
        "ERR offset is out of range"
    );
    assert_eq!(
        err(cmd(&mut c, &["SETRANGE", "ap", "536870912", "x"])),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );

    assert_eq!(ok(cmd(&mut c, &["INCR", "ctr"])), Value::Int(1));
    assert_eq!(ok(cmd(&mut c, &["INCRBY", "ctr", "10"])), Value::Int(11));
    assert_eq!(ok(cmd(&mut c, &["DECR", "ctr"])), Value::Int(10));
    assert_eq!(ok(cmd(&mut c, &["DECRBY", "ctr", "20"])), Value::Int(-10));
    assert_eq!(
        err(cmd(&mut c, &["INCR", "ap"])),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        ok(cmd(&mut c, &["SET", "big", "9223372036854775807"])),
        Value::Okay
    );
    assert_eq!(
        err(cmd(&mut c, &["INCR", "big"])),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        err(cmd(&mut c, &["DECRBY", "ctr", "-9223372036854775808"])),
        "ERR decrement would overflow"
    );
    assert_eq!(ok(cmd(&mut c, &["SET", "f", "10.50"])), Value::Okay);
    assert_eq!(ok(cmd(&mut c, &["INCRBYFLOAT", "f", "0.1"])), bulk("10.6"));
    assert_eq!(ok(cmd(&mut c, &["INCRBYFLOAT", "f", "-5"])), bulk("5.6"));
    assert_eq!(ok(cmd(&mut c, &["SET", "f", "5.0e3"])), Value::Okay);
    assert_eq!(
        ok(cmd(&mut c, &["INCRBYFLOAT", "f", "2.0e2"])),
        bulk("5200")
    );
    assert_eq!(
        err(cmd(&mut c, &["INCRBYFLOAT", "f", "abc"])),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(cmd(&mut c, &["INCRBYFLOAT", "f", "inf"])),
        "ERR increment would produce NaN or Infinity"
    );
    assert_eq!(
        err(cmd(&mut c, &["GET"])),
        "ERR wrong number of arguments for 'get' command"
    );
    assert!(err(cmd(&mut c, &["NOSUCHCMD", "a"])).starts_with("ERR unknown command 'NOSUCHCMD'"));

    // Binary-safe values.
    let bin: Vec<u8> = (0..=255u8).collect();
    let _: () = c.set(b"bin".as_slice(), bin.clone()).expect("set");
    let got: Vec<u8> = c.get(b"bin".as_slice()).expect("get");
    assert_eq!(got, bin);
}

#[test]
fn keys_on_three_shards() {
    let srv = Server::start(3);
    let mut c = srv.client();
    for i in 0..30 {
        assert_eq!(
            ok(cmd(&mut c, &["SET", &format!("key{i}"), "v"])),
            Value::Okay
        );
    }
    let mut del = vec!["DEL"];
    let names: Vec<String> = (0..10).map(|i| format!("key{i}")).collect();
    del.extend(names.iter().map(|s| s.as_str()));
    del.push("absent");
    assert_eq!(ok(cmd(&mut c, &del)), Value::Int(10));
    assert_eq!(
        ok(cmd(&mut c, &["EXISTS", "key10", "key11", "key10", "key0"])),
        Value::Int(3)
    );
    assert_eq!(
        ok(cmd(&mut c, &["UNLINK", "key10", "key11"])),
        Value::Int(2)
    );
    assert_eq!(
        ok(cmd(&mut c, &["TOUCH", "key12", "key13", "nope"])),
        Value::Int(2)
    );
    assert_eq!(ok(cmd(&mut c, &["DBSIZE"])), Value::Int(18));
    assert_eq!(
        ok(cmd(&mut c, &["TYPE", "key12"])),
        Value::SimpleString("string".into())
    );
    assert_eq!(
        ok(cmd(&mut c, &["TYPE", "nope"])),
        Value::SimpleString("none".into())
    );

    // Expiry commands and options.
    assert_eq!(ok(cmd(&mut c, &["EXPIRE", "key12", "100"])), Value::Int(1));
    assert_eq!(
        ok(cmd(&mut c, &["EXPIRE", "key12", "200", "NX"])),
        Value::Int(0)
    );
    assert_eq!(
        ok(cmd(&mut c, &["EXPIRE", "key12", "200", "XX"])),
        Value::Int(1)
    );
    assert_eq!(
        ok(cmd(&mut c, &["EXPIRE", "key12", "100", "GT"])),
        Value::Int(0)
    );
    assert_eq!(
        ok(cmd(&mut c, &["EXPIRE", "key12", "300", "GT"])),
        Value::Int(1)
    );
    assert_eq!(
        ok(cmd(&mut c, &["EXPIRE", "key12", "50", "LT"])),
        Value::Int(1)
    );
    assert_eq!(ok(cmd(&mut c, &["TTL", "key12"])), Value::Int(50));
    assert_eq!(
        ok(cmd(&mut c, &["EXPIRE", "key13", "50", "GT"])),
        Value::Int(0)
    );
    assert_eq!(
        ok(cmd(&mut c, &["EXPIRE", "key13", "50", "LT"])),
        Value::Int(1)
    );
    assert_eq!(
        err(cmd(&mut c, &["EXPIRE", "key13", "50", "NX", "XX"])),
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        err(cmd(&mut c, &["EXPIRE", "key13", "50", "GT", "LT"])),
        "ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(
        err(cmd(&mut c, &["EXPIRE", "key13", "50", "FOO"])),
        "ERR Unsupported option FOO"
    );
    assert_eq!(ok(cmd(&mut c, &["EXPIRE", "nope", "50"])), Value::Int(0));
    let Value::Int(pttl) = ok(cmd(&mut c, &["PTTL", "key13"])) else {
        panic!()
    };
    assert!(pttl > 49_000 && pttl <= 50_000, "{pttl}");
    assert_eq!(ok(cmd(&mut c, &["PERSIST", "key13"])), Value::Int(1));
    assert_eq!(ok(cmd(&mut c, &["PERSIST", "key13"])), Value::Int(0));
    assert_eq!(ok(cmd(&mut c, &["TTL", "key13"])), Value::Int(-1));
    assert_eq!(ok(cmd(&mut c, &["TTL", "nope"])), Value::Int(-2));
    assert_eq!(
        ok(cmd(&mut c, &["EXPIREAT", "key14", "4102444800"])),
        Value::Int(1)
    );
    assert_eq!(
        ok(cmd(&mut c, &["EXPIRETIME", "key14"])),
        Value::Int(4102444800)
    );
    assert_eq!(
        ok(cmd(&mut c, &["PEXPIRETIME", "key14"])),
        Value::Int(4102444800000)
    );
    assert_eq!(
        ok(cmd(&mut c, &["PEXPIREAT", "key15", "4102444800123"])),
        Value::Int(1)
    );
    assert_eq!(
        ok(cmd(&mut c, &["PEXPIRETIME", "key15"])),
        Value::Int(4102444800123)
    );
    assert_eq!(ok(cmd(&mut c, &["EXPIRETIME", "key16"])), Value::Int(-1));
    assert_eq!(ok(cmd(&mut c, &["EXPIRE", "key16", "-1"])), Value::Int(1));
    assert_eq!(ok(cmd(&mut c, &["EXISTS", "key16"])), Value::Int(0));
    assert_eq!(
        err(cmd(&mut c, &["EXPIRE", "key17", "9223372036854775807"])),
        "ERR invalid expire time in 'expire' command"
    );

    // Lazy and active expiry.
    assert_eq!(ok(cmd(&mut c, &["PEXPIRE", "key17", "30"])), Value::Int(1));
    for i in 100..300 {
        assert_eq!(
            ok(cmd(&mut c, &["SET", &format!("vol{i}"), "v", "PX", "30"])),
            Value::Okay
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(60));
    assert_eq!(ok(cmd(&mut c, &["GET", "key17"])), Value::Nil);
    // The active cycle removes the rest without anyone touching them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("keyspace")
            .query(&mut c)
            .expect("info");
        let Value::Int(n) = ok(cmd(&mut c, &["DBSIZE"])) else {
            panic!()
        };
        if n == 16 {
            assert!(info.contains("db0:keys=16,expires=3"), "{info}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "active expiry left keys: dbsize {n}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let stats: String = redis::cmd("INFO").arg("stats").query(&mut c).expect("info");
    assert!(stats.contains("expired_keys:201"), "{stats}");

    // RENAME / RENAMENX / COPY within and across shards, keeping TTLs.
    for (src, dst) in [("{t}a", "{t}b"), ("ra", "rb"), ("rc", "rd"), ("re", "rf")] {
        assert_eq!(
            ok(cmd(&mut c, &["SET", src, "val", "EX", "1000"])),
            Value::Okay
        );
        assert_eq!(ok(cmd(&mut c, &["RENAME", src, dst])), Value::Okay);
        assert_eq!(ok(cmd(&mut c, &["GET", dst])), bulk("val"));
        assert_eq!(ok(cmd(&mut c, &["TTL", dst])), Value::Int(1000));
        assert_eq!(ok(cmd(&mut c, &["EXISTS", src])), Value::Int(0));
    }
    assert_eq!(
        err(cmd(&mut c, &["RENAME", "nope", "x"])),
        "ERR no such key"
    );
    assert_eq!(ok(cmd(&mut c, &["SET", "src", "1"])), Value::Okay);
    assert_eq!(ok(cmd(&mut c, &["RENAMENX", "src", "rb"])), Value::Int(0));
    assert_eq!(
        ok(cmd(&mut c, &["RENAMENX", "src", "fresh"])),
        Value::Int(1)
    );
    assert_eq!(
        err(cmd(&mut c, &["RENAMENX", "src", "fresh2"])),
        "ERR no such key"
    );
    assert_eq!(ok(cmd(&mut c, &["COPY", "fresh", "copy1"])), Value::Int(1));
    assert_eq!(ok(cmd(&mut c, &["COPY", "fresh", "copy1"])), Value::Int(0));
    assert_eq!(
        ok(cmd(&mut c, &["COPY", "rb", "copy1", "REPLACE"])),
        Value::Int(1)
    );
    assert_eq!(ok(cmd(&mut c, &["GET", "copy1"])), bulk("val"));
    assert_eq!(ok(cmd(&mut c, &["COPY", "nope", "copy2"])), Value::Int(0));
    assert_eq!(
        err(cmd(&mut c, &["COPY", "rb", "copy1", "DB", "1"])),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err(cmd(&mut c, &["COPY", "rb", "rb"])),
        "ERR source and destination objects are the same"
    );

    // KEYS / RANDOMKEY / FLUSHALL.
    let Value::Array(ks) = ok(cmd(&mut c, &["KEYS", "copy*"])) else {
        panic!()
    };
    assert_eq!(ks.len(), 1);
    assert!(matches!(
        ok(cmd(&mut c, &["RANDOMKEY"])),
        Value::BulkString(_)
    ));
    assert_eq!(ok(cmd(&mut c, &["FLUSHALL"])), Value::Okay);
    assert_eq!(ok(cmd(&mut c, &["DBSIZE"])), Value::Int(0));
    assert_eq!(ok(cmd(&mut c, &["RANDOMKEY"])), Value::Nil);
    assert_eq!(ok(cmd(&mut c, &["OBJECT", "ENCODING", "nope"])), Value::Nil);
    assert_eq!(ok(cmd(&mut c, &["SET", "i", "12"])), Value::Okay);
    assert_eq!(ok(cmd(&mut c, &["OBJECT", "ENCODING", "i"])), bulk("int"));
    let Value::Int(small) = ok(cmd(&mut c, &["MEMORY", "USAGE", "i"])) else {
        panic!()
    };
    assert_eq!(
        ok(cmd(&mut c, &["SET", "big", &"x".repeat(1000)])),
        Value::Okay
    );
    let Value::Int(large) = ok(cmd(&mut c, &["MEMORY", "USAGE", "big", "SAMPLES", "5"])) else {
        panic!()
    };
    assert!(small > 0 && large >= small + 1000, "{small} {large}");
    assert_eq!(ok(cmd(&mut c, &["MEMORY", "USAGE", "nope"])), Value::Nil);
    let stats: String = redis::cmd("INFO").arg("stats").query(&mut c).expect("info");
    assert!(stats.contains("instantaneous_ops_per_sec:"), "{stats}");
}

#[test]
fn scan_returns_every_key_exactly_once() {
    let srv = Server::start(4);
    let mut c = srv.client();
    let n = 2000;
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.set(format!("scan:{i}"), i).ignore();
    }
    pipe.set("other", 1).ignore();
    let _: () = pipe.query(&mut c).expect("pipeline");
    let mut seen = std::collections::HashMap::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("MATCH")
            .arg("scan:*")
            .arg("COUNT")
            .arg(100)
            .query(&mut c)
            .expect("scan");
        for k in keys {
            *seen.entry(k).or_insert(0) += 1;
        }
        rounds += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
        assert!(rounds < 1000, "scan does not terminate");
    }
    assert_eq!(seen.len(), n);
    assert!(
        seen.values().all(|&v| v == 1),
        "a key was returned twice without churn"
    );
    let (_, keys): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("TYPE")
        .arg("hash")
        .query(&mut c)
        .expect("scan");
    assert!(keys.is_empty());
    assert_eq!(err(cmd(&mut c, &["SCAN", "abc"])), "ERR invalid cursor");
    assert_eq!(
        err(cmd(&mut c, &["SCAN", "0", "COUNT", "0"])),
        "ERR syntax error"
    );
}

#[test]
fn pipelines_spanning_all_shards_keep_request_order() {
    let srv = Server::start(4);
    let mut c = srv.client();
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.cmd("SET").arg(format!("p{i}")).arg(i);
        pipe.cmd("INCR").arg(format!("p{i}"));
        pipe.cmd("GET").arg(format!("p{i}"));
        if i % 50 == 0 {
            pipe.cmd("DBSIZE");
            pipe.cmd("MGET")
                .arg(format!("p{i}"))
                .arg(format!("p{}", i + 1))
                .arg("p0");
        }
    }
    let replies: Vec<Value> = pipe.query(&mut c).expect("pipeline");
    let mut it = replies.into_iter();
    for i in 0..500 {
        assert_eq!(it.next(), Some(Value::Okay));
        assert_eq!(it.next(), Some(Value::Int(i + 1)));
        assert_eq!(it.next(), Some(bulk(&(i + 1).to_string())));
        if i % 50 == 0 {
            assert_eq!(it.next(), Some(Value::Int(i + 1)));
            let Some(Value::Array(v)) = it.next() else {
                panic!("mget")
            };
            assert_eq!(v[0], bulk(&(i + 1).to_string()));
            assert_eq!(v[1], Value::Nil);
            assert_eq!(v[2], bulk("1"));
        }
    }
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).expect("info");
    let hops: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("cross_shard_hops:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("hops");
    assert!(
        hops > 0,
        "keys on other shards must have been forwarded: {info}"
    );
}

#[test]
fn resp3_replies() {
    let srv = Server::start(2);
    let mut raw = srv.raw();
    let hello = common::send_raw(&mut raw, b"HELLO 3\r\n");
    assert!(
        hello.starts_with(b"%7\r\n"),
        "{}",
        String::from_utf8_lossy(&hello)
    );
    let r = common::send_raw(
        &mut raw,
        b"GET nothing\r\nSET a 1\r\nINCRBYFLOAT a 1.5\r\nCONFIG GET maxclients\r\n",
    );
    assert_eq!(
        String::from_utf8_lossy(&r),
        "_\r\n+OK\r\n$3\r\n2.5\r\n%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"
    );
    let r = common::send_raw(&mut raw, b"HELLO 2\r\nGET nothing\r\n");
    assert!(r.ends_with(b"$-1\r\n"), "{}", String::from_utf8_lossy(&r));
    let r = common::send_raw(&mut raw, b"HELLO 4\r\n");
    assert_eq!(r, b"-NOPROTO unsupported protocol version\r\n");
    // The redis crate in RESP3 mode works too.
    let mut c3 = srv.client_resp3();
    assert_eq!(ok(cmd(&mut c3, &["SET", "x", "1"])), Value::Okay);
    assert_eq!(ok(cmd(&mut c3, &["GET", "nope"])), Value::Nil);
}

#[test]
fn connection_and_client_commands() {
    let srv = Server::start(2);
    let mut c = srv.client();
    assert_eq!(
        ok(cmd(&mut c, &["PING"])),
        Value::SimpleString("PONG".into())
    );
    assert_eq!(ok(cmd(&mut c, &["PING", "hi"])), bulk("hi"));
    assert_eq!(ok(cmd(&mut c, &["ECHO", "hello"])), bulk("hello"));
    assert_eq!(ok(cmd(&mut c, &["SELECT", "0"])), Value::Okay);
    assert_eq!(
        err(cmd(&mut c, &["SELECT", "1"])),
        "ERR DB index is out of range"
    );
    assert_eq!(
        ok(cmd(&mut c, &["CLIENT", "SETNAME", "tester"])),
        Value::Okay
    );
    assert_eq!(ok(cmd(&mut c, &["CLIENT", "GETNAME"])), bulk("tester"));
    assert_eq!(
        err(cmd(&mut c, &["CLIENT", "SETNAME", "bad name"])),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        ok(cmd(&mut c, &["CLIENT", "SETINFO", "LIB-NAME", "mylib"])),
        Value::Okay
    );
    let Value::Int(id) = ok(cmd(&mut c, &["CLIENT", "ID"])) else {
        panic!()
    };
    let mut other = srv.client();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut other)
        .expect("list");
    assert!(
        list.contains(&format!("id={id} "))
            && list.contains("name=tester")
            && list.contains("lib-name=mylib"),
        "{list}"
    );
    assert_eq!(list.lines().count(), 2, "{list}");
    let info: String = redis::cmd("CLIENT")
        .arg("INFO")
        .query(&mut c)
        .expect("info");
    assert!(info.contains("name=tester"));
    let t: Vec<String> = redis::cmd("TIME").query(&mut c).expect("time");
    assert_eq!(t.len(), 2);
    assert_eq!(
        ok(cmd(&mut c, &["CLUSTER", "KEYSLOT", "foo"])),
        Value::Int(12182)
    );
    assert_eq!(
        ok(cmd(&mut c, &["CLUSTER", "KEYSLOT", "{user1000}.following"])),
        Value::Int(3443)
    );
    assert!(err(cmd(&mut c, &["CLIENT", "NOPE"])).starts_with("ERR unknown subcommand 'NOPE'"));
    // CLIENT KILL closes a connection blocked in a read, on whichever shard it lives.
    let mut victims: Vec<std::net::TcpStream> = (0..4).map(|_| srv.raw()).collect();
    let mut ids = Vec::new();
    for v in victims.iter_mut() {
        let r = common::send_raw(v, b"CLIENT ID\r\n");
        ids.push(String::from_utf8_lossy(&r[1..r.len() - 2]).to_string());
    }
    assert_eq!(
        ok(cmd(&mut c, &["CLIENT", "KILL", "ID", &ids[0]])),
        Value::Int(1)
    );
    assert!(common::is_closed(&mut victims[0]));
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut c)
        .expect("list");
    let addr = list
        .lines()
        .find(|l| l.contains(&format!("id={} ", ids[1])))
        .and_then(|l| l.split(' ').find_map(|f| f.strip_prefix("addr=")))
        .expect("addr")
        .to_string();
    assert_eq!(ok(cmd(&mut c, &["CLIENT", "KILL", &addr])), Value::Okay);
    assert!(common::is_closed(&mut victims[1]));
    assert_eq!(
        err(cmd(&mut c, &["CLIENT", "KILL", "1.2.3.4:5"])),
        "ERR No such client"
    );
    assert_eq!(
        ok(cmd(
            &mut c,
            &["CLIENT", "KILL", "ID", &ids[2], "SKIPME", "yes"]
        )),
        Value::Int(1)
    );
    assert_eq!(common::send_raw(&mut victims[3], b"PING\r\n"), b"+PONG\r\n");
    let mut raw = srv.raw();
    assert_eq!(common::send_raw(&mut raw, b"QUIT\r\n"), b"+OK\r\n");
    assert!(common::is_closed(&mut raw));
}

#[test]
fn server_commands_for_tools() {
    let srv = Server::start(2);
    let mut c = srv.client();
    let Value::Int(n) = ok(cmd(&mut c, &["COMMAND", "COUNT"])) else {
        panic!()
    };
    assert!(n > 50);
    let Value::Array(info) = ok(cmd(&mut c, &["COMMAND", "INFO", "get", "nope"])) else {
        panic!()
    };
    let Value::Array(get) = &info[0] else {
        panic!()
    };
    assert_eq!(get[0], bulk("get"));
    assert_eq!(get[1], Value::Int(2));
    assert_eq!(info[1], Value::Nil);
    let Value::Array(docs) = ok(cmd(&mut c, &["COMMAND", "DOCS", "set"])) else {
        panic!()
    };
    assert_eq!(docs[0], bulk("set"));
    let Value::Array(all) = ok(cmd(&mut c, &["COMMAND"])) else {
        panic!()
    };
    assert_eq!(all.len() as i64, n);
    let Value::Array(keys) = ok(cmd(
        &mut c,
        &["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"],
    )) else {
        panic!()
    };
    assert_eq!(keys, vec![bulk("a"), bulk("b")]);

    let info: String = redis::cmd("INFO").query(&mut c).expect("info");
    for needle in [
        "# Server",
        "redis_version:",
        "# Clients",
        "connected_clients:",
        "# Memory",
        "used_memory:",
        "# Stats",
        "# Replication",
        "role:master",
        "# Keyspace",
        "# Shards",
        "shard0:",
        "shard1:",
    ] {
        assert!(info.contains(needle), "INFO lacks {needle}");
    }
    let _: () = c.set("x", 1).expect("set");
    let all: String = redis::cmd("INFO").arg("all").query(&mut c).expect("info");
    assert!(all.contains("cmdstat_set:calls=1,"), "{all}");
    assert!(all.contains("errorstat_") || !all.contains("total_error_replies:1"));

    let cfg: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("max*")
        .query(&mut c)
        .expect("config");
    assert!(
        cfg.contains(&"maxclients".to_string()) && cfg.contains(&"maxmemory".to_string()),
        "{cfg:?}"
    );
    assert_eq!(
        ok(cmd(&mut c, &["CONFIG", "SET", "maxmemory", "10mb"])),
        Value::Okay
    );
    let cfg: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query(&mut c)
        .expect("config");
    assert_eq!(
        cfg,
        vec!["maxmemory".to_string(), (10 * 1024 * 1024).to_string()]
    );
    assert!(err(cmd(&mut c, &["CONFIG", "SET", "maxmemory", "lots"]))
        .contains("argument must be a memory value"));
    assert!(err(cmd(&mut c, &["CONFIG", "SET", "nosuch", "1"])).starts_with("ERR Unknown option"));
    // maxmemory is enforced: tiny limit, large values → OOM for writes, reads still work.
    assert_eq!(
        ok(cmd(&mut c, &["CONFIG", "SET", "maxmemory", "1"])),
        Value::Okay
    );
    let e = err(cmd(&mut c, &["SET", "y", "1"]));
    assert!(e.starts_with("OOM command not allowed"), "{e}");
    assert_eq!(ok(cmd(&mut c, &["GET", "x"])), bulk("1"));
    assert_eq!(ok(cmd(&mut c, &["DEL", "x"])), Value::Int(1));
    assert_eq!(
        ok(cmd(&mut c, &["CONFIG", "SET", "maxmemory", "0"])),
        Value::Okay
    );
    assert_eq!(ok(cmd(&mut c, &["SET", "y", "1"])), Value::Okay);
    assert_eq!(ok(cmd(&mut c, &["CONFIG", "RESETSTAT"])), Value::Okay);
    assert_eq!(
        ok(cmd(&mut c, &["LASTSAVE"])).clone(),
        ok(cmd(&mut c, &["LASTSAVE"]))
    );
}
