//! The HTTP front end: health, metrics, the REST KV API, errors and limits.

mod common;
use common::Server;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A minimal HTTP/1.1 client over one keep-alive connection.
struct Http {
    s: TcpStream,
}

impl Http {
    fn new(port: u16) -> Http {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Http { s }
    }

    fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> (u16, String, String) {
        let body = body.unwrap_or("");
        let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        self.s.write_all(req.as_bytes()).expect("write");
        self.read_response()
    }

    fn read_response(&mut self) -> (u16, String, String) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = self.s.read(&mut chunk).expect("read");
            assert!(n > 0, "connection closed before a full response");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                let cl: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .expect("content-length");
                while buf.len() < end + 4 + cl {
                    let n = self.s.read(&mut chunk).expect("read body");
                    assert!(n > 0);
                    buf.extend_from_slice(&chunk[..n]);
                }
                let status: u16 = head[9..12].parse().expect("status");
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + cl]).to_string();
                return (status, head, body);
            }
        }
    }
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn health_and_kv_api() {
    let srv = Server::start(2);
    let mut h = Http::new(srv.http_port);
    let (st, _, body) = h.request("GET", "/health", None);
    assert_eq!(st, 200);
    let v = json(&body);
    assert_eq!(v["status"], "healthy");
    assert_eq!(v["shards"], 2);
    assert_eq!(v["role"], "master");
    assert!(v["version"].is_string() && v["uptime_secs"].is_u64());

    // Same connection (keep-alive): set, get, ttl, nx/xx, delete.
    let (st, _, body) = h.request(
        "POST",
        "/kv/set",
        Some(r#"{"key":"user:1","value":"alice","ttl":100}"#),
    );
    assert_eq!(st, 200, "{body}");
    assert_eq!(json(&body)["success"], true);
    let (st, _, body) = h.request("GET", "/kv/get/user:1", None);
    assert_eq!(st, 200);
    let v = json(&body);
    assert_eq!(v["value"], "alice");
    assert_eq!(v["ttl"], 100);
    let (_, _, body) = h.request(
        "POST",
        "/kv/set",
        Some(r#"{"key":"user:1","value":"bob","nx":true}"#),
    );
    assert_eq!(json(&body)["success"], false);
    let (_, _, body) = h.request("POST", "/kv/set", Some(r#"{"key":"n","value":42}"#));
    assert_eq!(json(&body)["success"], true);
    // Keys written over HTTP are visible over RESP and vice versa (one dispatch).
    let mut c = srv.client();
    let v: String = redis::cmd("GET").arg("n").query(&mut c).expect("get");
    assert_eq!(v, "42");
    let _: () = redis::cmd("SET")
        .arg("sp ace")
        .arg("x")
        .query(&mut c)
        .expect("set");
    let (st, _, body) = h.request("GET", "/kv/get/sp%20ace", None);
    assert_eq!(st, 200, "{body}");
    let (st, _, _) = h.request("GET", "/kv/get/missing", None);
    assert_eq!(st, 404);
    let (st, _, body) = h.request("DELETE", "/kv/del/user:1", None);
    assert_eq!(st, 200);
    assert_eq!(json(&body)["deleted"], true);
    let (_, _, body) = h.request("DELETE", "/kv/del/user:1", None);
    assert_eq!(json(&body)["deleted"], false);

    let (st, _, body) = h.request("GET", "/kv/stats", None);
    assert_eq!(st, 200);
    assert_eq!(json(&body)["keys"], 2);
    let (st, _, body) = h.request("GET", "/health/kv", None);
    assert_eq!(st, 200);
    let v = json(&body);
    assert_eq!(v["keys"], 2);
    assert_eq!(v["shards"].as_array().map(|a| a.len()), Some(2));

    // Wrong type over HTTP is a JSON error with a status code.
    let _: () = redis::cmd("SET")
        .arg("s")
        .arg("abc")
        .query(&mut c)
        .expect("set");
    let _: i64 = redis::cmd("APPEND")
        .arg("s")
        .arg("d")
        .query(&mut c)
        .expect("append");
}

#[test]
fn errors_and_limits() {
    let srv = Server::start(1);
    let mut h = Http::new(srv.http_port);
    let (st, _, body) = h.request("POST", "/kv/set", Some("{not json"));
    assert_eq!(st, 400);
    assert!(json(&body)["error"]
        .as_str()
        .is_some_and(|e| e.contains("invalid JSON")));
    let (st, _, _) = h.request(
        "POST",
        "/kv/set",
        Some(r#"{"key":"a","value":"b","bogus":1}"#),
    );
    assert_eq!(st, 400);
    let (st, _, _) = h.request(
        "POST",
        "/kv/set",
        Some(r#"{"key":"a","value":"b","ttl":0}"#),
    );
    assert_eq!(st, 400);
    let (st, _, _) = h.request("GET", "/nope", None);
    assert_eq!(st, 404);
    let (st, _, _) = h.request("DELETE", "/health", None);
    assert_eq!(st, 405);
    let (st, _, _) = h.request("GET", "/kv/get/%zz", None);
    assert_eq!(st, 400);
    // A body over http_max_body (16 MB by default) is refused with 413 and the connection closed.
    let mut s = TcpStream::connect(("127.0.0.1", srv.http_port)).expect("connect");
    s.write_all(b"POST /kv/set HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n")
        .expect("write");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    // Malformed request line.
    let mut s = TcpStream::connect(("127.0.0.1", srv.http_port)).expect("connect");
    s.write_all(b"\x01\x02 garbage\r\n\r\n").expect("write");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    // Still serving.
    let mut h = Http::new(srv.http_port);
    assert_eq!(h.request("GET", "/health", None).0, 200);
}

#[test]
fn prometheus_metrics_per_shard() {
    let srv = Server::start(2);
    let mut c = srv.client();
    for i in 0..50 {
        let _: () = redis::cmd("SET")
            .arg(format!("m{i}"))
            .arg(i)
            .query(&mut c)
            .expect("set");
    }
    let _: Option<String> = redis::cmd("GET").arg("m1").query(&mut c).expect("get");
    let _ = redis::cmd("INCR")
        .arg("m1")
        .arg("extra")
        .query::<redis::Value>(&mut c);
    let mut h = Http::new(srv.http_port);
    let (st, head, body) = h.request("GET", "/metrics", None);
    assert_eq!(st, 200);
    assert!(head.contains("text"), "{head}");
    for needle in [
        "synap_keys{shard=\"0\"}",
        "synap_keys{shard=\"1\"}",
        "synap_memory_bytes{shard=\"0\"}",
        "synap_connections{shard=",
        "synap_cross_shard_hops_total{shard=",
        "synap_expired_keys_total{shard=",
        "synap_commands_total{shard=",
        "command=\"set\"",
        "synap_errors_total{shard=",
        "synap_command_latency_seconds_bucket{le=",
        "le=\"+Inf\"",
    ] {
        assert!(body.contains(needle), "metrics lack {needle}:\n{body}");
    }
    let keys: f64 = body
        .lines()
        .filter(|l| l.starts_with("synap_keys{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(keys, 50.0);
    let sets: f64 = body
        .lines()
        .filter(|l| l.starts_with("synap_commands_total{") && l.contains("command=\"set\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(sets, 50.0);
}
