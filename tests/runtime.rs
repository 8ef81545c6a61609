//! The process: configuration errors, --check-config, --version, port conflicts, limits,
//! systemd notification, graceful shutdown, 10,000 clients.

mod common;
use common::{bin, free_port, Server};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).args(args).output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn shipped_configs_pass_check_config() {
    for f in [
        "config-standalone.yml",
        "config-master.yml",
        "config-replica-1.yml",
        "config-replica-2.yml",
    ] {
        let (code, out, err) = run(&["--config", &repo(&format!("config/{f}")), "--check-config"]);
        assert_eq!(code, 0, "{f}: {out}{err}");
        assert!(out.contains("configuration OK"), "{out}");
    }
    let (code, out, _) = run(&["--check-config"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("built-in defaults")
            && out.contains("127.0.0.1:6379")
            && out.contains("15500"),
        "{out}"
    );
}

#[test]
fn config_errors_name_file_key_and_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases = [
        ("server:\n  prot: 1\n", "server", "unknown field `prot`"),
        ("server:\n  port: banana\n", "server.port", "invalid"),
        (
            "network:\n  maxclients: 0\n",
            "network.maxclients",
            "at least 1",
        ),
        ("logging:\n  level: loud\n", "logging.level", "not one of"),
        (
            "kv_store:\n  maxmemory: 3 apples\n",
            "kv_store.maxmemory",
            "invalid size",
        ),
    ];
    for (i, (text, key, reason)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("bad{i}.yml"));
        std::fs::write(&p, text).expect("write");
        let (code, _, err) = run(&["--config", p.to_str().expect("utf8"), "--check-config"]);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(&format!("bad{i}.yml")) && err.contains(key) && err.contains(reason),
            "{err}"
        );
    }
    let (code, _, err) = run(&["--config", "/nonexistent/synap.yml"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("/nonexistent/synap.yml") && err.contains("cannot read"),
        "{err}"
    );
    let (code, _, err) = run(&["--shards", "0", "--check-config"]);
    assert_eq!(code, 2);
    assert!(err.contains("--shards"), "{err}");
    let out = Command::new(bin())
        .env("SYNAP_ROLE", "leader")
        .arg("--check-config")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SYNAP_ROLE"));
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_port_held_by_another_process_is_refused() {
    // A stale process holding the port with SO_REUSEPORT (as glommio listeners do) must not
    // silently share connections with us.
    // The kernel picks the port, so no parallel test can take it between choosing and binding.
    let holder =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    holder.set_reuse_port(true).expect("reuseport");
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
    holder.bind(&addr.into()).expect("bind");
    holder.listen(16).expect("listen");
    let port = holder
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .map(|a| a.port())
        .expect("bound port");
    let (code, _, err) = run(&[
        "--port",
        &port.to_string(),
        "--http-port",
        &free_port().to_string(),
        "--shards",
        "2",
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains(&port.to_string()) && err.contains("another process"),
        "{err}"
    );
}

#[test]
fn low_memlock_is_a_clear_error() {
    let port = free_port().to_string();
    let http = free_port().to_string();
    let out = Command::new("bash")
        .args([
            "-c",
            &format!(
                "ulimit -l 64 && exec {} --port {port} --http-port {http} --shards 1",
                bin()
            ),
        ])
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("RLIMIT_MEMLOCK") && err.contains("ulimit -l"),
        "{err}"
    );
}

#[test]
fn low_file_limit_reduces_maxclients_with_a_warning() {
    let port = free_port();
    let http = free_port();
    let mut child = Command::new("bash")
        .args([
            "-c",
            &format!(
                "ulimit -n 300 && exec {} --port {port} --http-port {http} --shards 2",
                bin()
            ),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut c = loop {
        if let Ok(c) = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .and_then(|c| c.get_connection())
        {
            break c;
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    let cfg: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut c)
        .expect("config");
    let allowed: u64 = cfg[1].parse().expect("number");
    assert_eq!(allowed, 300 - 32 - 16 * 2);
    let _ = child.kill();
    let _ = child.wait();
    let mut out = String::new();
    let _ = child.stdout.take().map(|mut s| s.read_to_string(&mut out));
    assert!(
        out.contains("maxclients has been reduced to 236") && out.contains("ulimit -n"),
        "{out}"
    );
}

/// `recv` that retries when a signal (another test's child exiting) interrupts it.
fn recv_retrying(
    sock: &std::os::unix::net::UnixDatagram,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    loop {
        match sock.recv(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[test]
fn notifies_systemd_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().expect("tmp");
    let sock_path = dir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let port = free_port();
    let http = free_port();
    let mut child = Command::new(bin())
        .args([
            "--port",
            &port.to_string(),
            "--http-port",
            &http.to_string(),
            "--shards",
            "2",
        ])
        .env("NOTIFY_SOCKET", &sock_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut buf = [0u8; 64];
    let n = recv_retrying(&sock, &mut buf).expect("READY=1 from the server");
    assert_eq!(&buf[..n], b"READY=1");
    // Ready means listening: connect at once, no sleep.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut pipeline = Vec::new();
    for i in 0..1000 {
        pipeline.extend_from_slice(format!("SET k{i} v\r\n").as_bytes());
    }
    s.write_all(&pipeline).expect("write");
    let mut got = vec![0u8; 5 * 1000];
    s.read_exact(&mut got).expect("all replies");
    let start = Instant::now();
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "did not exit within 5 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0));
    let n = recv_retrying(&sock, &mut buf).expect("STOPPING=1");
    assert_eq!(&buf[..n], b"STOPPING=1");
    // The port is free again (retrying briefly: a parallel test may hold it for a moment
    // after picking it as a "free" port).
    let deadline = Instant::now() + Duration::from_secs(3);
    while std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "port {port} still held after exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ten_thousand_concurrent_clients() {
    // Raise our own soft limit for the client side of the sockets.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    if lim.rlim_max < 10_500 {
        panic!(
            "this test needs a hard RLIMIT_NOFILE of at least 10500 (have {})",
            lim.rlim_max
        );
    }
    let srv = Server::start(2);
    let mut conns = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        conns.push(std::net::TcpStream::connect(("127.0.0.1", srv.port)).expect("connect"));
    }
    for s in conns.iter_mut() {
        s.write_all(b"PING\r\n").expect("write");
    }
    for s in conns.iter_mut() {
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut b = [0u8; 7];
        s.read_exact(&mut b).expect("pong");
        assert_eq!(&b, b"+PONG\r\n");
    }
    // maxclients is 10,000 by default: a 10,001st client is refused, as Redis does.
    let mut extra = srv.raw();
    assert_eq!(
        common::read_some(&mut extra),
        b"-ERR max number of clients reached\r\n"
    );
    let s = &mut conns[0];
    s.write_all(b"INFO clients\r\n").expect("write");
    let info = String::from_utf8_lossy(&common::read_some(s)).into_owned();
    assert!(info.contains("connected_clients:10000"), "{info}");
}

/// Starts a server without waiting for it (no retries: a server that never becomes ready must
/// fail the test, not be replaced).
fn spawn_server(shards: usize) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, http_port) = (free_port(), free_port());
    let child = Command::new(bin())
        .args(["--port", &port.to_string(), "--http-port"])
        .arg(http_port.to_string())
        .args(["--shards", &shards.to_string(), "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn synap-server");
    Server {
        child,
        port,
        http_port,
        dir,
    }
}

/// Whether the process has installed its SIGTERM handler (bit in /proc/PID/status SigCgt): the
/// server does that last, once every shard has reported running.
fn handles_sigterm(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0)
}

fn answers_ping(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// Several 4-shard servers starting at once oversubscribe the 2 CPUs (every shard busy-waits
/// for its peers while connecting). glommio used to park a shard whose task queue was runnable
/// when a preemption was already pending as it was about to run it, and that shard then slept
/// forever: about 1 server in 4 never became ready ("shards did not finish connecting to each
/// other within 30 s"), and a parked shard could miss its shutdown timer (vendor/SYNAP-PATCHES.md,
/// "Parking with runnable tasks"). All must start, answer and stop promptly.
#[test]
fn many_four_shard_servers_start_at_once_and_stop_promptly() {
    const SERVERS: usize = 8;
    let mut servers: Vec<Server> = (0..SERVERS).map(|_| spawn_server(4)).collect();
    let mut ready = [false; SERVERS];
    let deadline = Instant::now() + Duration::from_secs(20);
    while ready.contains(&false) && Instant::now() < deadline {
        for (i, s) in servers.iter_mut().enumerate() {
            if ready[i] {
                continue;
            }
            if let Ok(Some(_)) = s.child.try_wait() {
                // Exited: another process took a port between free_port() and bind. Retry.
                *s = spawn_server(4);
                continue;
            }
            ready[i] = answers_ping(s.port) && handles_sigterm(s.child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let stuck: Vec<usize> = (0..SERVERS).filter(|&i| !ready[i]).collect();
    assert!(
        stuck.is_empty(),
        "servers {stuck:?} of {SERVERS} (4 shards each, started at once) not ready within 20 s"
    );
    for s in &servers {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(s.child.id() as i32, libc::SIGTERM);
        }
    }
    let start = Instant::now();
    for (i, s) in servers.iter_mut().enumerate() {
        let status = loop {
            if let Some(st) = s.child.try_wait().expect("wait") {
                break st;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "server {i} did not exit within 10 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(0), "server {i} exit status");
    }
}
