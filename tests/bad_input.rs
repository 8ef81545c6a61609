//! Bad input: each bad client gets its error or its connection closed, while another client
//! keeps being served correctly.

mod common;
use common::{is_closed, read_exact_reply, send_raw, Server};
use std::io::Write;

/// A well-behaved client that checks the server still answers correctly.
fn healthy(srv: &Server, tag: &str) {
    let mut c = srv.client();
    let _: () = redis::cmd("SET")
        .arg(format!("healthy:{tag}"))
        .arg(tag)
        .query(&mut c)
        .expect("set");
    let v: String = redis::cmd("GET")
        .arg(format!("healthy:{tag}"))
        .query(&mut c)
        .expect("get");
    assert_eq!(v, tag);
}

#[test]
fn protocol_errors_close_only_that_connection() {
    let srv = Server::start(2);
    let mut bystander = srv.client();
    let cases: &[(&[u8], &str)] = &[
        (
            b"*abc\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$-5\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$99999999999\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n:5\r\n",
            "-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"*3000000\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$3\r\nabcdef\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"SET \"unbalanced\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (input, want) in cases {
        let mut s = srv.raw();
        let got = send_raw(&mut s, input);
        assert_eq!(
            String::from_utf8_lossy(&got),
            *want,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
        assert!(
            is_closed(&mut s),
            "connection stays open after {:?}",
            String::from_utf8_lossy(input)
        );
        let _: () = redis::cmd("SET")
            .arg("b")
            .arg("1")
            .query(&mut bystander)
            .expect("bystander");
    }
    // Garbage bytes: treated as inline commands (unknown), never a crash.
    let mut s = srv.raw();
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let _ = s.write_all(&garbage);
    drop(s);
    // Oversized inline request.
    let mut s = srv.raw();
    let long = vec![b'a'; 70 * 1024];
    let got = send_raw(&mut s, &long);
    assert_eq!(got, b"-ERR Protocol error: too big inline request\r\n");
    healthy(&srv, "after-garbage");
    let info: String = redis::cmd("INFO")
        .arg("errorstats")
        .query(&mut bystander)
        .expect("info");
    assert!(info.contains("errorstat_ERR:count="), "{info}");
}

#[test]
fn unterminated_frames_and_disconnects_mid_pipeline() {
    let srv = Server::start(2);
    // Unterminated: the server waits for the rest and answers nothing yet.
    let mut s = srv.raw();
    let got = send_raw(&mut s, b"*2\r\n$3\r\nGET\r\n$10\r\nabc");
    assert!(got.is_empty());
    // The rest arrives: answered.
    let got = send_raw(&mut s, b"defghij\r\n");
    assert_eq!(got, b"$-1\r\n");
    // Disconnect in the middle of a pipeline whose keys span both shards.
    for _ in 0..20 {
        let mut s = srv.raw();
        let mut p = Vec::new();
        for i in 0..200 {
            p.extend_from_slice(
                format!(
                    "*3\r\n$3\r\nSET\r\n${}\r\nk{i}\r\n$1\r\nv\r\n",
                    format!("k{i}").len()
                )
                .as_bytes(),
            );
        }
        p.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$5\r\nk1");
        let _ = s.write_all(&p);
        drop(s);
    }
    healthy(&srv, "after-disconnects");
}

#[test]
fn huge_argument_count_and_large_values() {
    let srv = Server::start(2);
    // A 100,000-argument command (MSET with 50,000 pairs) spanning both shards.
    let mut s = srv.raw();
    let n = 50_000;
    let mut p = format!("*{}\r\n$4\r\nMSET\r\n", 1 + 2 * n).into_bytes();
    for i in 0..n {
        let k = format!("h{i}");
        p.extend_from_slice(format!("${}\r\n{k}\r\n$1\r\nx\r\n", k.len()).as_bytes());
    }
    s.write_all(&p).expect("write");
    assert_eq!(read_exact_reply(&mut s, 5), b"+OK\r\n");
    let mut c = srv.client();
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).expect("dbsize");
    assert_eq!(size, n as i64);
    // 100,001 arguments to a command with fixed arity: an arity error, not a crash.
    let mut p = format!("*{}\r\n$3\r\nGET\r\n", 100_001).into_bytes();
    for _ in 0..100_000 {
        p.extend_from_slice(b"$1\r\nk\r\n");
    }
    s.write_all(&p).expect("write");
    let want = b"-ERR wrong number of arguments for 'get' command\r\n";
    assert_eq!(read_exact_reply(&mut s, want.len()), want);

    // A 64 MB value round-trips, sent in one go and read back.
    let big = vec![b'z'; 64 * 1024 * 1024];
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut c)
        .expect("set big");
    let back: Vec<u8> = redis::cmd("GET").arg("big").query(&mut c).expect("get big");
    assert_eq!(back.len(), big.len());
    assert!(back == big);
    let len: i64 = redis::cmd("STRLEN")
        .arg("big")
        .query(&mut c)
        .expect("strlen");
    assert_eq!(len, 64 * 1024 * 1024);
    // proto-max-bulk-len is enforced.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("proto-max-bulk-len")
        .arg("1mb")
        .query(&mut c)
        .expect("config");
    let mut s2 = srv.raw();
    let got = send_raw(
        &mut s2,
        format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", 2 * 1024 * 1024).as_bytes(),
    );
    assert_eq!(got, b"-ERR Protocol error: invalid bulk length\r\n");
    healthy(&srv, "after-big");
}

#[test]
fn maxclients_is_enforced() {
    let srv = Server::start(2);
    let mut c = srv.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg("3")
        .query(&mut c)
        .expect("config");
    let _a = srv.client();
    let _b = srv.client();
    let mut extra = srv.raw();
    let got = common::read_some(&mut extra);
    assert_eq!(got, b"-ERR max number of clients reached\r\n");
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).expect("info");
    assert!(info.contains("rejected_connections:1"), "{info}");
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let srv = Server::start(1);
    let mut c = srv.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("timeout")
        .arg("1")
        .query(&mut c)
        .expect("config");
    let mut idle = srv.raw();
    assert_eq!(send_raw(&mut idle, b"PING\r\n"), b"+PONG\r\n");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(is_closed(&mut idle), "an idle client outlived `timeout`");
    healthy(&srv, "after-timeout");
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:").map(|v| {
                    v.trim()
                        .trim_end_matches(" kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap_or(0)
                })
            })
        })
        .unwrap_or(0)
        * 1024
}

#[test]
fn a_pipeline_of_huge_replies_is_streamed_not_buffered() {
    // One shard: every key is local, so replies are written as soon as a few MB are ready.
    // (Replies forwarded from another shard are bounded per batch by count, not bytes.)
    for shards in [1] {
        let srv = Server::start(shards);
        let mut c = srv.client();
        let big = vec![b'v'; 8 * 1024 * 1024];
        let _: () = redis::cmd("SET")
            .arg("big")
            .arg(&big)
            .query(&mut c)
            .expect("set");
        let before = rss(srv.child.id());
        // 100 GETs of 8 MB = 800 MB of replies, sent at once while we do not read.
        let mut s = srv.raw();
        s.write_all(&b"GET big\r\n".repeat(100)).expect("write");
        std::thread::sleep(std::time::Duration::from_millis(500));
        let during = rss(srv.child.id());
        assert!(
            during < before + 200 * 1024 * 1024,
            "{shards} shard(s): replies were buffered: RSS {before} -> {during}"
        );
        // Everything still arrives, in full.
        let mut total = 0usize;
        let mut buf = vec![0u8; 1 << 20];
        s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .expect("timeout");
        let want = 100 * (big.len() + "$8388608\r\n".len() + 2);
        while total < want {
            let n = std::io::Read::read(&mut s, &mut buf).expect("read");
            assert!(n > 0, "closed after {total} of {want} bytes");
            total += n;
        }
        assert_eq!(total, want);
        healthy(&srv, "after-huge-pipeline");
    }
}
