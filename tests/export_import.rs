//! `synap-admin export` / `import` against the real `synap-server` (and a real `redis-server`
//! when installed): every type, binary values, TTLs, shards, malformed files, memory.

mod common;

use common::{cmd, Server};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// These tests each start servers and move tens of MB; on a small machine running them all at
/// once starves the servers (connect timeouts). They take turns.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn admin_bin() -> &'static str {
    env!("CARGO_BIN_EXE_synap-admin")
}

/// Runs `synap-admin --port PORT args…`.
fn admin(port: u16, args: &[&str]) -> Output {
    let out = Command::new(admin_bin())
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(args)
        .env_remove("SYNAP_API_KEY")
        .output()
        .expect("run synap-admin");
    eprintln!(
        "synap-admin {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "synap-admin failed: {}", stderr(&o));
    stderr(&o)
}

/// A value, in a form that compares regardless of hash/set order.
#[derive(Debug, PartialEq)]
enum Canon {
    Str(Vec<u8>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    List(Vec<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    Zset(Vec<(Vec<u8>, Vec<u8>)>),
}

/// Every key: its value and absolute expiry time (PEXPIRETIME: -1 for none).
fn dump(c: &mut redis::Connection) -> BTreeMap<Vec<u8>, (Canon, i64)> {
    let mut out = BTreeMap::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, keys): (String, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("COUNT")
            .arg(500)
            .query(c)
            .expect("scan");
        for k in keys {
            let t: String = redis::cmd("TYPE").arg(&k).query(c).expect("type");
            let v = match t.as_str() {
                "string" => Canon::Str(redis::cmd("GET").arg(&k).query(c).unwrap()),
                "hash" => Canon::Hash(redis::cmd("HGETALL").arg(&k).query(c).unwrap()),
                "list" => Canon::List(
                    redis::cmd("LRANGE")
                        .arg(&k)
                        .arg(0)
                        .arg(-1)
                        .query(c)
                        .unwrap(),
                ),
                "set" => Canon::Set(redis::cmd("SMEMBERS").arg(&k).query(c).unwrap()),
                "zset" => {
                    let flat: Vec<Vec<u8>> = redis::cmd("ZRANGE")
                        .arg(&k)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query(c)
                        .unwrap();
                    Canon::Zset(
                        flat.chunks(2)
                            .map(|p| (p[0].clone(), p[1].clone()))
                            .collect(),
                    )
                }
                other => panic!("unexpected type {other}"),
            };
            let at: i64 = redis::cmd("PEXPIRETIME").arg(&k).query(c).unwrap();
            out.insert(k, (v, at));
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
    out
}

/// Same keys, same values, same absolute expiry times (export reads them with PEXPIRETIME and
/// import sets them with PXAT/PEXPIREAT, so they are equal to the millisecond).
fn assert_same(before: &BTreeMap<Vec<u8>, (Canon, i64)>, after: &BTreeMap<Vec<u8>, (Canon, i64)>) {
    let kb: Vec<_> = before.keys().collect();
    let ka: Vec<_> = after.keys().collect();
    assert_eq!(kb.len(), ka.len(), "key counts differ");
    assert!(kb == ka, "key sets differ");
    for (k, (v, at)) in before {
        let (v2, at2) = &after[k];
        assert!(
            v == v2,
            "value of {:?} differs",
            k.escape_ascii().to_string()
        );
        assert_eq!(at, at2, "expiry time of {}", k.escape_ascii());
    }
}

fn zadd_supported(c: &mut redis::Connection) -> bool {
    match cmd(c, &["ZADD", "__probe__", "1", "m"]) {
        Ok(_) => {
            let _ = cmd(c, &["DEL", "__probe__"]);
            true
        }
        Err(e) => {
            assert!(
                e.to_string().to_lowercase().contains("unknown command"),
                "ZADD: {e}"
            );
            false
        }
    }
}

/// Bytes that are not UTF-8, with every byte value, deterministic per `seed`.
fn binary(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

/// A dataset of every type with binary keys and values, large keys and TTLs.
fn fill(c: &mut redis::Connection, zsets: bool) {
    let all: Vec<u8> = (0..=255u8).collect();
    let mut p = redis::pipe();
    p.cmd("SET").arg("str:all-bytes").arg(&all).ignore();
    p.cmd("SET").arg(&all).arg("key with every byte").ignore();
    p.cmd("SET")
        .arg(b"str:bad-utf8\xff")
        .arg(&[0xc3u8, 0x28, 0xff, 0xfe, 0][..])
        .ignore();
    p.cmd("SET").arg("str:empty").arg("").ignore();
    p.cmd("SET").arg("").arg("the empty key").ignore();
    p.cmd("SET")
        .arg("str:text")
        .arg("h\u{e9}llo \"world\"\n\t\\ \u{1F600}")
        .ignore();
    p.cmd("SET")
        .arg("str:control")
        .arg("a\u{1b}[31mred\u{7f}")
        .ignore();
    p.cmd("SET").arg("str:big").arg(binary(1 << 20, 1)).ignore();
    p.cmd("SET")
        .arg("str:big-text")
        .arg("x".repeat(1 << 20))
        .ignore();
    p.cmd("SET")
        .arg("str:ttl")
        .arg("expires")
        .arg("PX")
        .arg(300_000)
        .ignore();
    p.cmd("SET")
        .arg("{tag}:a")
        .arg("1")
        .arg("EX")
        .arg(1000)
        .ignore();
    p.cmd("SET").arg("{tag}:b").arg("2").ignore();
    for i in 0..3000 {
        p.cmd("SET").arg(format!("small:{i}")).arg(i).ignore();
    }
    // Hashes: a 10,000-field table with binary fields and values, a small packed one.
    for chunk in 0..10 {
        let mut h = redis::cmd("HSET");
        h.arg("hash:big");
        for i in chunk * 1000..(chunk + 1) * 1000 {
            let mut f = format!("f{i}").into_bytes();
            if i % 7 == 0 {
                f.push(0xff);
            }
            h.arg(f).arg(binary(i % 50, i as u64));
        }
        p.add_command(h).ignore();
    }
    p.cmd("HSET")
        .arg("hash:big")
        .arg("huge")
        .arg(binary(1 << 20, 9))
        .ignore();
    p.cmd("PEXPIRE").arg("hash:big").arg(600_000).ignore();
    p.cmd("HSET")
        .arg("hash:small")
        .arg("")
        .arg("empty field")
        .arg("empty value")
        .arg("")
        .arg(&all)
        .arg(&all)
        .ignore();
    // Lists: 10,000 elements with duplicates, empty and binary ones; a small one.
    for chunk in 0..10 {
        let mut l = redis::cmd("RPUSH");
        l.arg("list:big");
        for i in chunk * 1000..(chunk + 1) * 1000 {
            match i % 4 {
                0 => l.arg(""),
                1 => l.arg("dup"),
                2 => l.arg(binary(i % 30, i as u64)),
                _ => l.arg(i),
            };
        }
        p.add_command(l).ignore();
    }
    p.cmd("RPUSH")
        .arg("list:small")
        .arg("a")
        .arg("")
        .arg(&all)
        .ignore();
    p.cmd("EXPIRE").arg("list:small").arg(500).ignore();
    // Sets: an intset, a large binary one.
    let mut s = redis::cmd("SADD");
    s.arg("set:int");
    for i in 0..100 {
        s.arg(i * 3 - 50);
    }
    p.add_command(s).ignore();
    let mut s = redis::cmd("SADD");
    s.arg("set:big");
    for i in 0..5000u64 {
        s.arg(binary(1 + (i % 40) as usize, i));
    }
    s.arg("");
    p.add_command(s).ignore();
    if zsets {
        let mut z = redis::cmd("ZADD");
        z.arg("zset:scores");
        for (score, m) in [
            ("inf", &b"plus-inf"[..]),
            ("-inf", b"minus-inf"),
            ("0.1", b"tenth"),
            ("-0", b"minus-zero"),
            ("1e300", b"huge"),
            ("5e-324", b"subnormal"),
            ("9007199254740993", b"2^53+1"),
            ("3.141592653589793", b"pi"),
            ("1", b"\xff\x00binary"),
            ("1", b""),
        ] {
            z.arg(score).arg(m);
        }
        p.add_command(z).ignore();
        for chunk in 0..3 {
            let mut z = redis::cmd("ZADD");
            z.arg("zset:big");
            for i in chunk * 1000..(chunk + 1) * 1000 {
                z.arg(i as f64 / 7.0).arg(binary(1 + i % 20, i as u64));
            }
            p.add_command(z).ignore();
        }
        p.cmd("PEXPIRE").arg("zset:big").arg(400_000).ignore();
    }
    let _: () = p.query(c).expect("fill");
}

fn flushall(c: &mut redis::Connection) {
    let _: () = redis::cmd("FLUSHALL").query(c).expect("flushall");
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[test]
fn round_trip_every_type_with_binary_values_and_ttls() {
    let _turn = turn();
    let server = Server::start(4);
    let mut c = server.client();
    let zsets = zadd_supported(&mut c);
    if !zsets {
        eprintln!("Synap has no ZADD yet: the sorted-set part runs against redis-server only");
    }
    fill(&mut c, zsets);
    let before = dump(&mut c);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.json");
    let f = path_str(&file);
    let msg = ok(admin(server.port, &["export", "--output", f]));
    assert!(
        msg.contains(&format!("export: {} keys", before.len())),
        "{msg}"
    );
    assert!(
        !dir.path().join("backup.json.partial").exists(),
        "the partial file is renamed into place"
    );
    // The file: a header, one line per key, an end line.
    let text = std::fs::read(&file).unwrap();
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), before.len() + 2);
    assert!(lines[0].starts_with(br#"{"format":"synap-export","version":1"#));
    assert_eq!(
        lines.last().unwrap(),
        &format!(r#"{{"end":true,"keys":{}}}"#, before.len()).as_bytes()
    );
    assert!(
        String::from_utf8_lossy(&text).contains(r#""value":"héllo \"world\"\n\t\\ 😀""#),
        "valid UTF-8 without control characters is kept as JSON text"
    );
    assert!(String::from_utf8_lossy(&text).contains(
        r#"{"key":"str:control","type":"string","expire_at_ms":null,"value":{"base64":"#
    ));

    flushall(&mut c);
    let msg = ok(admin(server.port, &["import", "--input", f]));
    assert!(
        msg.contains(&format!(
            "import: {} keys written, 0 existing kept",
            before.len()
        )),
        "{msg}"
    );
    let after = dump(&mut c);
    assert_same(&before, &after);

    // Again without --replace: every key exists, nothing changes.
    let _: () = redis::cmd("SET")
        .arg("str:text")
        .arg("changed")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("DEL").arg("hash:small").query(&mut c).unwrap();
    let _: () = redis::cmd("RPUSH")
        .arg("list:small")
        .arg("extra")
        .query(&mut c)
        .unwrap();
    let msg = ok(admin(server.port, &["import", "--input", f]));
    assert!(
        msg.contains(&format!(
            "import: 1 keys written, {} existing kept",
            before.len() - 1
        )),
        "{msg}"
    );
    let v: Vec<u8> = redis::cmd("GET").arg("str:text").query(&mut c).unwrap();
    assert_eq!(v, b"changed");
    let n: i64 = redis::cmd("LLEN").arg("list:small").query(&mut c).unwrap();
    assert_eq!(n, 4);
    // With --replace: the file's values win, a list is replaced (not appended to).
    let _: () = redis::cmd("SET")
        .arg("set:big")
        .arg("now a string")
        .query(&mut c)
        .unwrap();
    let msg = ok(admin(server.port, &["import", "--replace", "--input", f]));
    assert!(
        msg.contains(&format!("import: {} keys written (replacing", before.len())),
        "{msg}"
    );
    let after = dump(&mut c);
    assert_same(&before, &after);
}

#[test]
fn one_shard_export_imports_into_four_shards() {
    let _turn = turn();
    let one = Server::start(1);
    let four = Server::start(4);
    let (mut c1, mut c4) = (one.client(), four.client());
    let zsets = zadd_supported(&mut c1) && zadd_supported(&mut c4);
    fill(&mut c1, zsets);
    let before = dump(&mut c1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.json");
    ok(admin(one.port, &["export", "-o", path_str(&file)]));
    ok(admin(four.port, &["import", "-i", path_str(&file)]));
    let after = dump(&mut c4);
    assert_same(&before, &after);
    // The keys really are spread over the four shards.
    let info: String = redis::cmd("INFO").arg("keyspace").query(&mut c4).unwrap();
    assert!(info.contains(&format!("keys={}", before.len())), "{info}");
}

fn header() -> String {
    r#"{"format":"synap-export","version":1,"created_at_ms":0,"source":"test","keys_estimate":0}"#
        .to_string()
}

#[test]
fn malformed_lines_are_refused_with_their_line_number() {
    let _turn = turn();
    let server = Server::start(4);
    let mut c = server.client();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.json");
    let f = path_str(&file);
    // A hash whose 1,500th pair is bad: none of it may be written.
    let mut big = String::from(r#"{"key":"big","type":"hash","expire_at_ms":null,"value":["#);
    for i in 0..2000 {
        if i > 0 {
            big.push(',');
        }
        if i == 1500 {
            big.push_str(r#"["f1500",{"base64":"not base64!"}]"#);
        } else {
            big.push_str(&format!(r#"["f{i}","v{i}"]"#));
        }
    }
    big.push_str("]}");
    let lines = [
        header(),
        r#"{"key":"a","type":"string","expire_at_ms":null,"value":"1"}"#.into(),
        r#"{"key":{"base64":"AP8="},"type":"list","expire_at_ms":null,"value":["x",{"base64":"AA=="}]}"#.into(),
        String::new(),
        big.clone(),
        r#"{"key":"after","type":"string","expire_at_ms":null,"value":"no"}"#.into(),
        r#"{"end":true,"keys":4}"#.into(),
    ];
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    // --dry-run finds it without writing anything.
    let out = admin(server.port, &["import", "--dry-run", "--input", f]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("bad.json:5: column "),
        "{}",
        stderr(&out)
    );
    assert_eq!(cmd(&mut c, &["DBSIZE"]).unwrap(), redis::Value::Int(0));
    // A real import: lines 2-3 are written, line 5 and everything after are not.
    let out = admin(server.port, &["import", "--input", f]);
    assert_eq!(out.status.code(), Some(1));
    let msg = stderr(&out);
    assert!(
        msg.contains("bad.json:5: column ") && msg.contains("bad base64"),
        "{msg}"
    );
    assert!(
        msg.contains("the lines before it were imported (2 keys written"),
        "{msg}"
    );
    let v: Vec<u8> = redis::cmd("GET").arg("a").query(&mut c).unwrap();
    assert_eq!(v, b"1");
    let l: Vec<Vec<u8>> = redis::cmd("LRANGE")
        .arg(&[0u8, 255][..])
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(l, vec![b"x".to_vec(), vec![0]]);
    assert_eq!(
        cmd(&mut c, &["EXISTS", "big", "after"]).unwrap(),
        redis::Value::Int(0)
    );

    // Other refusals, each naming its line.
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![r#"{"format":"other","version":1}"#.into()],
            "bad.json:1: not a synap-export header",
        ),
        (
            vec![r#"{"format":"synap-export","version":9}"#.into()],
            "bad.json:1: format version 9 is not supported",
        ),
        (
            vec![
                header(),
                r#"{"key":"k","type":"zset","value":[["m","NaN"]]}"#.into(),
            ],
            "bad.json:2: column ",
        ),
        (
            vec![header(), r#"{"key":"k","type":"stream","value":[]}"#.into()],
            "bad.json:2: unknown type",
        ),
        (
            vec![header(), r#"{"key":"k","type":"set","value":[]}"#.into()],
            "bad.json:2: empty set",
        ),
        (
            vec![
                header(),
                r#"{"key":"k","type":"string","value":"v","ttl":5}"#.into(),
            ],
            "bad.json:2: column ",
        ),
        (
            vec![
                header(),
                r#"{"end":true,"keys":0}"#.into(),
                r#"{"key":"k","type":"string","value":"v"}"#.into(),
            ],
            "bad.json:3: data after the end line",
        ),
        (
            vec![
                header(),
                r#"{"key":"k","type":"string","value":"v"}"#.into(),
            ],
            "without the end line",
        ),
        (
            vec![
                header(),
                r#"{"key":"k","type":"string","value":"v"}"#.into(),
                r#"{"end":true,"keys":2}"#.into(),
            ],
            "announces 2 keys but the file has 1",
        ),
    ];
    for (lines, want) in cases {
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        let out = admin(server.port, &["import", "--input", f]);
        assert_eq!(out.status.code(), Some(1), "{want}");
        assert!(
            stderr(&out).contains(want),
            "{} should contain {want}",
            stderr(&out)
        );
    }
    // A truncated export (no end line) still imported its complete lines, and says so.
    assert_eq!(cmd(&mut c, &["EXISTS", "k"]).unwrap(), redis::Value::Int(1));
    let mut bytes = header().into_bytes();
    bytes.extend_from_slice(b"\n{\"key\":\"k2\",\"type\":\"string\",\"value\":\"v\xff\"}\n");
    std::fs::write(&file, bytes).unwrap();
    let out = admin(server.port, &["import", "--input", f]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("bad.json:2: not UTF-8"),
        "{}",
        stderr(&out)
    );

    // Keys whose expiry time has passed are skipped and counted.
    flushall(&mut c);
    let future = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 60_000;
    let lines = [
        header(),
        r#"{"key":"old","type":"string","expire_at_ms":1000,"value":"v"}"#.into(),
        r#"{"key":"oldhash","type":"hash","expire_at_ms":1000,"value":[["f","v"]]}"#.into(),
        format!(r#"{{"key":"new","type":"set","expire_at_ms":{future},"value":["m"]}}"#),
        r#"{"key":"plain","type":"string","value":"no expire_at_ms is no expiry"}"#.into(),
        r#"{"end":true,"keys":4}"#.into(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap(); // no final newline: fine
    let msg = ok(admin(server.port, &["import", "--input", f]));
    assert!(
        msg.contains(
            "2 keys written, 0 existing kept (--replace overwrites them), 2 expired skipped"
        ),
        "{msg}"
    );
    assert_eq!(
        cmd(&mut c, &["EXISTS", "old", "oldhash"]).unwrap(),
        redis::Value::Int(0)
    );
    let ttl: i64 = redis::cmd("PTTL").arg("new").query(&mut c).unwrap();
    assert!((50_000..=60_000).contains(&ttl), "{ttl}");
    let ttl: i64 = redis::cmd("PTTL").arg("plain").query(&mut c).unwrap();
    assert_eq!(ttl, -1);
}

struct Redis {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `redis-server` on a free port (with extra arguments), if it is installed.
fn start_redis(extra: &[&str]) -> Option<Redis> {
    let dir = tempfile::tempdir().ok()?;
    let port = common::free_port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--bind", "127.0.0.1", "--dir", path_str(dir.path())])
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .ok()?;
    let r = Redis {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut b = [0u8; 1];
            if s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut b).is_ok() {
                return Some(r);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn redis_client(port: u16, password: Option<&str>) -> redis::Connection {
    let url = match password {
        Some(p) => format!("redis://:{p}@127.0.0.1:{port}/"),
        None => format!("redis://127.0.0.1:{port}/"),
    };
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .expect("redis client")
}

#[test]
fn redis_server_exports_import_into_synap() {
    let _turn = turn();
    let Some(redis) = start_redis(&[]) else {
        eprintln!("redis-server is not installed: skipping");
        return;
    };
    let mut rc = redis_client(redis.port, None);
    let synap = Server::start(4);
    let mut sc = synap.client();
    let zsets = zadd_supported(&mut sc);
    fill(&mut rc, zsets);
    let before = dump(&mut rc);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("redis.json");
    ok(admin(redis.port, &["export", "--output", path_str(&file)]));
    ok(admin(synap.port, &["import", "--input", path_str(&file)]));
    assert_same(&before, &dump(&mut sc));
    // And back: Synap's export imports into redis-server.
    let file2 = dir.path().join("synap.json");
    flushall(&mut rc);
    ok(admin(synap.port, &["export", "--output", path_str(&file2)]));
    ok(admin(redis.port, &["import", "--input", path_str(&file2)]));
    assert_same(&before, &dump(&mut rc));
}

/// Sorted sets between two redis-servers (until Synap has them), one with a password: the
/// API-key hook sends AUTH, from `--api-key` or `SYNAP_API_KEY`.
#[test]
fn sorted_sets_round_trip_between_redis_servers_with_auth() {
    let _turn = turn();
    let Some(src) = start_redis(&[]) else {
        eprintln!("redis-server is not installed: skipping");
        return;
    };
    let Some(dst) = start_redis(&["--requirepass", "s3cret"]) else {
        panic!("second redis-server did not start");
    };
    let mut sc = redis_client(src.port, None);
    fill(&mut sc, true);
    let before = dump(&mut sc);
    assert!(matches!(before.get(&b"zset:big"[..]), Some((Canon::Zset(z), _)) if z.len() == 3000));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("z.json");
    ok(admin(src.port, &["export", "--output", path_str(&file)]));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(r#"["plus-inf","inf"]"#) && text.contains(r#"["minus-inf","-inf"]"#),
        "scores as the server prints them"
    );
    assert!(
        text.contains(r#"["tenth","0.10000000000000001"]"#),
        "scores as the server prints them"
    );
    // Without the password: refused, with a clear message.
    let out = admin(dst.port, &["import", "--input", path_str(&file)]);
    assert!(
        !out.status.success() && stderr(&out).contains("NOAUTH"),
        "{}",
        stderr(&out)
    );
    let out = admin(
        dst.port,
        &["--api-key", "wrong", "import", "--input", path_str(&file)],
    );
    assert!(
        !out.status.success() && stderr(&out).contains("AUTH failed"),
        "{}",
        stderr(&out)
    );
    // The key from the environment.
    let out = Command::new(admin_bin())
        .args([
            "--port",
            &dst.port.to_string(),
            "import",
            "--input",
            path_str(&file),
        ])
        .env("SYNAP_API_KEY", "s3cret")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut dc = redis_client(dst.port, Some("s3cret"));
    assert_same(&before, &dump(&mut dc));
}

/// Max resident set of a finished child, from `wait4`.
#[allow(clippy::zombie_processes)] // reaped by wait4, which also reports its rusage
fn run_measuring_rss(c: &mut Command) -> (std::process::ExitStatus, i64) {
    use std::os::unix::process::ExitStatusExt;
    let child = c
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain syscall on our own child; rusage is written by the kernel.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid, "wait4");
    (std::process::ExitStatus::from_raw(status), ru.ru_maxrss) // KiB
}

#[test]
fn export_and_import_of_200k_keys_keep_memory_small() {
    let _turn = turn();
    let server = Server::start(4);
    let mut c = server.client();
    let value = "v".repeat(100);
    for chunk in 0..200 {
        let mut m = redis::cmd("MSET");
        for i in chunk * 1000..(chunk + 1) * 1000 {
            m.arg(format!("key:{i}")).arg(&value);
        }
        let _: () = m.query(&mut c).unwrap();
    }
    // Plus one large hash, read in windows.
    for chunk in 0..100 {
        let mut h = redis::cmd("HSET");
        h.arg("bighash");
        for i in chunk * 1000..(chunk + 1) * 1000 {
            h.arg(i).arg(&value);
        }
        let _: () = h.query(&mut c).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.json");
    let port = server.port.to_string();
    let (st, export_kib) = run_measuring_rss(Command::new(admin_bin()).args([
        "--port",
        &port,
        "export",
        "-o",
        path_str(&file),
    ]));
    assert!(st.success());
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > 200_000 * 100, "{size}");
    flushall(&mut c);
    let (st, import_kib) = run_measuring_rss(Command::new(admin_bin()).args([
        "--port",
        &port,
        "import",
        "-i",
        path_str(&file),
    ]));
    assert!(st.success());
    assert_eq!(
        cmd(&mut c, &["DBSIZE"]).unwrap(),
        redis::Value::Int(200_001)
    );
    assert_eq!(
        cmd(&mut c, &["HLEN", "bighash"]).unwrap(),
        redis::Value::Int(100_000)
    );
    eprintln!(
        "export of {} MB: max RSS {export_kib} KiB; import: {import_kib} KiB",
        size / 1_000_000
    );
    // The file is ~32 MB and the big hash ~11 MB of it: neither may be held.
    assert!(export_kib < 24 * 1024, "export max RSS {export_kib} KiB");
    assert!(import_kib < 40 * 1024, "import max RSS {import_kib} KiB");
}
