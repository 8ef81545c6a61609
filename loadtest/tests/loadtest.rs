//! The load tester against the real synap-server (built by `cargo test --workspace`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LT: &str = env!("CARGO_BIN_EXE_synap-loadtest");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// synap-server next to this test binary (target/<profile>/deps/.. ), if built.
fn synap_server() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("synap-server");
    bin.exists().then_some(bin)
}

/// A server under test: synap-server when it is built, else `redis-server` from PATH.
struct Server {
    child: Child,
    port: u16,
    /// Synap's HTTP port (None for redis-server).
    http: Option<u16>,
}

impl Server {
    fn start() -> Server {
        let port = free_port();
        let (mut cmd, http) = match synap_server() {
            Some(bin) => {
                let http = free_port();
                eprintln!("server under test: {}", bin.display());
                let mut c = Command::new(bin);
                c.args(["--port", &port.to_string()]).args([
                    "--http-port",
                    &http.to_string(),
                    "--shards",
                    "2",
                ]);
                (c, Some(http))
            }
            None => {
                eprintln!("server under test: redis-server from PATH (synap-server is not built)");
                let mut c = Command::new("redis-server");
                c.args(["--port", &port.to_string()])
                    .args(["--save", "", "--appendonly", "no"]);
                (c, None)
            }
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the server (synap-server, or redis-server on PATH)");
        // The guard exists from here on, so a failed start still kills the server.
        let server = Server { child, port, http };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.write_all(b"PING\r\n");
                let mut b = [0u8; 7];
                if s.read_exact(&mut b).is_ok() && &b == b"+PONG\r\n" {
                    return server;
                }
            }
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn info(&self, section: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.write_all(format!("INFO {section}\r\n").as_bytes())
            .expect("write");
        let mut r = BufReader::new(s);
        let mut head = String::new();
        r.read_line(&mut head).expect("read");
        let n: usize = head
            .trim_start_matches('$')
            .trim()
            .parse()
            .expect("bulk length");
        let mut body = vec![0u8; n + 2];
        r.read_exact(&mut body).expect("body");
        String::from_utf8_lossy(&body).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(LT)
        .args(args)
        .output()
        .expect("run synap-loadtest");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn calls(info: &str, cmd: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{cmd}:calls=")))
        .and_then(|v| v.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn counts_match_the_server_and_json_parses() {
    let srv = Server::start();
    let port = srv.port.to_string();
    let (code, out, err) = run(&[
        "--port",
        &port,
        "--connections",
        "20",
        "--pipeline",
        "8",
        "--requests",
        "20000",
        "--ratio",
        "1:1",
        "--keys",
        "5000",
        "--key-pattern",
        "zipf:0.99",
        "--data-size",
        "10-200",
        "--json",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let sets = v["commands"]["SET"]["requests"]
        .as_u64()
        .expect("SET count");
    let gets = v["commands"]["GET"]["requests"]
        .as_u64()
        .expect("GET count");
    assert_eq!(sets + gets, 20_000);
    assert_eq!(v["requests"], 20_000);
    assert!(v["throughput"].as_f64().is_some_and(|t| t > 0.0));
    for p in ["p50", "p90", "p99", "p999", "p9999", "max"] {
        assert!(v["latency_us"][p].as_u64().is_some(), "latency_us.{p}");
    }
    assert!(
        v["errors"].as_object().is_some_and(|e| e.is_empty()),
        "{out}"
    );
    assert_eq!(
        v["hits"].as_u64().expect("hits") + v["misses"].as_u64().expect("misses"),
        gets
    );
    let info = srv.info("commandstats");
    assert_eq!(calls(&info, "set"), sets, "{info}");
    assert_eq!(calls(&info, "get"), gets, "{info}");
}

#[test]
fn verify_passes_against_synap_and_catches_a_wrong_reply() {
    let srv = Server::start();
    let (code, out, err) = run(&[
        "--port",
        &srv.port.to_string(),
        "--connections",
        "10",
        "--pipeline",
        "4",
        "--requests",
        "20000",
        "--ratio",
        "1:1",
        "--keys",
        "1000",
        "--verify",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("errors: none"), "{out}");

    // A fake server that acknowledges SETs and answers every GET with a wrong value.
    let fake = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = fake.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in fake.incoming().flatten() {
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().expect("clone"));
                let mut w = s;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let n: usize = line.trim_start_matches('*').trim().parse().unwrap_or(0);
                    let mut args = Vec::new();
                    for _ in 0..n {
                        let mut len = String::new();
                        let _ = r.read_line(&mut len);
                        let l: usize = len.trim_start_matches('$').trim().parse().unwrap_or(0);
                        let mut b = vec![0u8; l + 2];
                        let _ = r.read_exact(&mut b);
                        args.push(b[..l].to_vec());
                    }
                    let reply: &[u8] =
                        if args.first().is_some_and(|a| a.eq_ignore_ascii_case(b"GET")) {
                            b"$5\r\nwrong\r\n"
                        } else {
                            b"+OK\r\n"
                        };
                    if w.write_all(reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let (code, out, err) = run(&[
        "--port",
        &port.to_string(),
        "--connections",
        "2",
        "--requests",
        "400",
        "--ratio",
        "1:1",
        "--keys",
        "10",
        "--verify",
        "--quiet",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("VERIFY"), "{out}");
    assert!(out.contains("expected") && out.contains("got"), "{out}");
}

#[test]
fn impossible_connection_counts_are_refused_up_front() {
    let (code, _, err) = run(&["--port", "1", "--connections", "100000"]);
    assert_eq!(code, 2);
    assert!(err.contains("ulimit -n 100064"), "{err}");
}

#[test]
fn open_loop_with_a_pipeline_keeps_the_rate() {
    let srv = Server::start();
    let port = srv.port.to_string();
    // 4 connections x 8 requests per interval at 4,000 requests/s: 125 batches a second.
    let (code, out, err) = run(&[
        "--port",
        &port,
        "--connections",
        "4",
        "--pipeline",
        "8",
        "--rate",
        "4000",
        "--duration",
        "1s",
        "--json",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let n = v["requests"].as_u64().expect("requests");
    assert!(
        (3200..=4800).contains(&n),
        "open loop sent {n} requests in 1 s at 4000/s with -P 8"
    );
}

#[test]
fn open_loop_templates_and_hdr_log() {
    let srv = Server::start();
    let port = srv.port.to_string();
    // Open loop at 2,000 requests/s for ~1 s, with an interval log.
    let log = std::env::temp_dir().join(format!("synap-loadtest-{}.hlog", std::process::id()));
    let log_arg = log.to_string_lossy().into_owned();
    let (code, out, err) = run(&[
        "--port",
        &port,
        "--connections",
        "4",
        "--rate",
        "2000",
        "--duration",
        "1s",
        "--json",
        "--quiet",
        "--hdr-out",
        &log_arg,
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let n = v["requests"].as_u64().expect("requests");
    assert!(
        (1600..=2400).contains(&n),
        "open loop sent {n} requests in 1 s at 2000/s"
    );
    assert_eq!(v["rate"], 2000.0);
    // The interval log parses: per-second intervals plus one tagged interval per command,
    // whose counts add up to the run's.
    let text = std::fs::read(&log).expect("hdr log");
    let _ = std::fs::remove_file(&log);
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Deserializer;
    let (mut untagged, mut tagged) = (0, 0u64);
    for e in IntervalLogIterator::new(&text) {
        if let LogEntry::Interval(i) = e.expect("log entry") {
            if i.tag().is_some() {
                let bytes = base64_decode(i.encoded_histogram());
                let h: hdrhistogram::Histogram<u64> = Deserializer::new()
                    .deserialize(&mut &bytes[..])
                    .expect("histogram");
                tagged += h.len();
            } else {
                untagged += 1;
            }
        }
    }
    assert!(untagged >= 1, "no per-second intervals");
    assert_eq!(tagged, n, "tagged intervals cover the measured requests");

    // Templates.
    let (code, out, err) = run(&[
        "--port",
        &port,
        "--connections",
        "2",
        "--requests",
        "1000",
        "--command",
        "3:SET tpl:__key__ __data__",
        "--command",
        "INCR ctr:__key__",
        "--keys",
        "50",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("SET") && out.contains("INCR"), "{out}");
}

/// Standard base64 (the interval log's histogram encoding), without a dependency.
fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let mut out = Vec::new();
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= u32::from(val(c)) << (18 - 6 * i);
        }
        out.extend_from_slice(&acc.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn http_protocol_with_verify() {
    let srv = Server::start();
    let Some(http) = srv.http else {
        eprintln!("skipped: redis-server has no HTTP API");
        return;
    };
    let (code, out, err) = run(&[
        "--protocol",
        "http",
        "--port",
        &http.to_string(),
        "--connections",
        "4",
        "--requests",
        "4000",
        "--ratio",
        "1:1",
        "--keys",
        "100",
        "--data-size",
        "16-64",
        "--verify",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("4000 requests") && out.contains("errors: none"),
        "{out}"
    );
}

/// A synap-server started with `--config <yaml>` in a temporary data directory, ready when
/// it has loaded (HTTP `/health/kv` 200). None when synap-server is not built.
fn synap_with(yaml: &str, dir: &std::path::Path) -> Option<(Server, u16)> {
    let bin = synap_server()?;
    let (port, http) = (free_port(), free_port());
    let cfg = dir.join("synap.yml");
    std::fs::write(&cfg, yaml).unwrap();
    let child = Command::new(bin)
        .args([
            "--port",
            &port.to_string(),
            "--http-port",
            &http.to_string(),
        ])
        .args(["--shards", "2", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        port,
        http: Some(http),
    };
    // Ready once /health/kv answers 200: the shards have loaded (data commands get -LOADING
    // before that, even while the ports already accept connections).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut c) = TcpStream::connect(("127.0.0.1", http)) {
            let _ = c.write_all(b"GET /health/kv HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut head = [0u8; 12];
            if c.read_exact(&mut head).is_ok() && head.ends_with(b" 200") {
                break;
            }
        }
        assert!(Instant::now() < deadline, "synap-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some((server, http))
}

#[test]
fn tls_with_a_ca_or_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = p.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let path = |f: &str| dir.path().join(f).display().to_string();
    std::fs::write(path("ca.pem"), ca.pem()).unwrap();
    std::fs::write(path("cert.pem"), cert.pem()).unwrap();
    std::fs::write(path("key.pem"), key.serialize_pem()).unwrap();
    let yaml = format!(
        "server:\n  tls:\n    enabled: true\n    cert_path: {}\n    key_path: {}\n",
        path("cert.pem"),
        path("key.pem")
    );
    let Some((srv, _)) = synap_with(&yaml, dir.path()) else {
        eprintln!("skipped: synap-server is not built");
        return;
    };
    let port = srv.port.to_string();
    let base = [
        "--port",
        &port,
        "--connections",
        "8",
        "--pipeline",
        "4",
        "--requests",
        "8000",
        "--ratio",
        "1:1",
        "--keys",
        "500",
        "--verify",
        "--quiet",
    ];
    let ca_path = path("ca.pem");
    let mut args = base.to_vec();
    args.extend(["--tls", "--cacert", &ca_path, "--sni", "localhost"]);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("8000 requests") && out.contains("errors: none"),
        "{out}"
    );
    let mut args = base.to_vec();
    args.extend(["--tls", "--tls-insecure"]);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{out}{err}");
    // Without trusting the CA (its own certificate as the CA), every connect fails.
    let cert_path = path("cert.pem");
    let mut args = base.to_vec();
    args.extend(["--tls", "--cacert", &cert_path, "--sni", "localhost"]);
    let (code, out, _) = run(&args);
    assert_ne!(code, 0);
    assert!(out.contains("CONNECT"), "{out}");
    // --cacert alone is a usage error.
    assert_eq!(run(&["--cacert", &ca_path]).0, 2);
}

#[test]
fn http_with_an_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let Some((srv, http)) = synap_with("", dir.path()) else {
        eprintln!("skipped: synap-server is not built");
        return;
    };
    let mut s = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    s.write_all(b"APIKEY CREATE bench admin\r\n").unwrap();
    let mut r = BufReader::new(s);
    let (mut head, mut key) = (String::new(), String::new());
    r.read_line(&mut head).unwrap();
    r.read_line(&mut key).unwrap();
    let key = key.trim();
    assert!(key.starts_with("synap_"), "{head}{key}");
    let http = http.to_string();
    let base = [
        "--protocol",
        "http",
        "--port",
        &http,
        "--connections",
        "2",
        "--requests",
        "1000",
        "--ratio",
        "1:1",
        "--keys",
        "50",
        "--quiet",
    ];
    let (_, out, _) = run(&base);
    assert!(
        out.contains("errors: 1000 (401 1000)"),
        "without the key: {out}"
    );
    let mut args = base.to_vec();
    args.extend(["--auth", key]);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("errors: none"), "{out}");
    // RESP with the same key.
    let port = srv.port.to_string();
    let (code, out, err) = run(&[
        "--port",
        &port,
        "--auth",
        key,
        "--connections",
        "2",
        "--requests",
        "1000",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{out}{err}");
}
