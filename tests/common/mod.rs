//! Test harness: starts the real `synap-server` binary on free ports and stops it on drop.
#![allow(dead_code)]

pub mod dataset;
pub mod repl;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub http_port: u16,
    pub dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A free port for a server's configuration file (a replication port), below the kernel's
/// ephemeral range: `free_port()` (bind to port 0) never hands it to another server of the
/// tests, nor to the same server's RESP or HTTP port when it restarts.
pub fn free_config_port() -> u16 {
    loop {
        let port = 20000 + rand::random::<u16>() % 12000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_synap-server")
}

impl Server {
    /// Starts a server with `shards` shards and extra arguments.
    pub fn start(shards: usize) -> Server {
        Server::start_with(shards, &[])
    }

    pub fn start_with(shards: usize, extra: &[&str]) -> Server {
        Server::spawn(shards, extra, None, &ping_probe)
    }

    /// Starts a server with `extra` arguments, in `dir` (a fresh temporary directory if None;
    /// it is the data directory and holds the server's stdout in `stdout.log`), and waits
    /// until `probe(port)` says it serves.
    pub fn spawn(
        shards: usize,
        extra: &[&str],
        dir: Option<tempfile::TempDir>,
        probe: &dyn Fn(u16) -> bool,
    ) -> Server {
        // Every attempt runs on the same directory: it may hold a dataset (a restart).
        let mut dir = Some(dir.unwrap_or_else(|| tempfile::tempdir().expect("tempdir")));
        for _attempt in 0..3 {
            let path = dir.as_ref().expect("dir").path().to_path_buf();
            let log_path = path.join("stdout.log");
            // This attempt's log starts here (a restart appends to the previous run's).
            let log_from = std::fs::metadata(&log_path).map_or(0, |m| m.len() as usize);
            let (port, http_port) = (free_port(), free_port());
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .expect("log file");
            let mut child = Command::new(bin())
                .args([
                    "--port",
                    &port.to_string(),
                    "--http-port",
                    &http_port.to_string(),
                ])
                .args(["--shards", &shards.to_string(), "--data-dir"])
                .arg(&path)
                .args(extra)
                .stdout(Stdio::from(log))
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn synap-server");
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited (port race?): retry with new ports
                }
                // Every shard is serving once the server logs that it is ready (a shard that
                // is still starting would leave the connections the kernel gives it waiting).
                let ready = std::fs::read(&log_path).is_ok_and(|l| {
                    String::from_utf8_lossy(l.get(log_from..).unwrap_or_default())
                        .contains("ready to accept connections")
                });
                if ready && probe(port) {
                    return Server {
                        child,
                        port,
                        http_port,
                        dir: dir.take().expect("dir"),
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            eprintln!("synap-server did not start, retrying: {err}");
            // A fixed port of the configuration may be held a moment longer.
            std::thread::sleep(Duration::from_millis(300));
        }
        panic!("synap-server did not start");
    }

    /// Stops the server (SIGTERM) and starts it again with `extra` arguments on the same data
    /// directory (new ports).
    pub fn restart(mut self, shards: usize, extra: &[&str]) -> Server {
        self.terminate();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        drop(self);
        Server::spawn(shards, extra, Some(dir), &ping_probe)
    }

    /// What the server printed on stdout (its log) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    pub fn client(&self) -> redis::Connection {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).expect("client");
        // A connect can time out transiently right after the 10,000-client test (thousands of
        // sockets in TIME_WAIT): retry before failing.
        let mut last = None;
        for _ in 0..3 {
            match c.get_connection_with_timeout(Duration::from_secs(5)) {
                Ok(conn) => return conn,
                Err(e) => last = Some(e),
            }
        }
        panic!("connect to synap-server on {}: {last:?}", self.port)
    }

    pub fn client_resp3(&self) -> redis::Connection {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/?protocol=resp3", self.port))
            .expect("client");
        c.get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect")
    }

    /// A raw TCP connection.
    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> (Option<i32>, Duration) {
        let start = Instant::now();
        // SAFETY: sending a signal to our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return (st.code(), start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        (None, start.elapsed())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a plaintext RESP server answers PING on `port` (+PONG, or -NOAUTH once API keys
/// exist).
pub fn ping_probe(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && (&buf == b"+PONG\r\n" || &buf == b"-NOAUTH")
}

/// Sends raw bytes and reads until `want` bytes arrived or the peer closed.
pub fn send_raw(s: &mut TcpStream, data: &[u8]) -> Vec<u8> {
    s.write_all(data).expect("write");
    read_some(s)
}

/// Reads what arrives within a short quiet period.
pub fn read_some(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    out
}

/// Reads exactly the reply bytes expected.
pub fn read_exact_reply(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.read_exact(&mut v).expect("read reply");
    v
}

/// Whether the peer has closed the connection.
pub fn is_closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0))
        || matches!(s.read(&mut b), Err(ref e) if e.kind() == std::io::ErrorKind::ConnectionReset)
}

/// Runs a command and returns the raw redis::Value.
pub fn cmd(c: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<redis::Value> {
    let mut k = redis::cmd(args[0]);
    for a in &args[1..] {
        k.arg(*a);
    }
    k.query(c)
}
