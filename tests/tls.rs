//! TLS on the RESP (and HTTP) port with certificates made in the test: handshakes with the
//! redis crate, redis-cli and rustls; untrusted servers and clients refused; plaintext on the
//! TLS port refused without disturbing other clients; certificates reloaded on SIGHUP.

#[path = "common/certs.rs"]
mod certs;
mod common;

use certs::{Ca, Pair};
use common::*;
use rustls::pki_types::ServerName;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Writes a configuration enabling TLS with `server` (and client certificates from `ca`).
fn config(dir: &Path, server: &Pair, client_ca: Option<&Path>, http: bool) -> String {
    let mut yaml = format!(
        "server:\n  tls:\n    enabled: true\n    cert_path: {}\n    key_path: {}\n    http: {http}\n",
        server.cert.display(),
        server.key.display()
    );
    if let Some(ca) = client_ca {
        yaml.push_str(&format!("    ca_path: {}\n", ca.display()));
    }
    let path = dir.join("tls.yml");
    std::fs::write(&path, yaml).unwrap();
    path.display().to_string()
}

fn client_config(ca: Option<&Path>, identity: Option<&Pair>) -> Arc<rustls::ClientConfig> {
    synap::tls::client_config(
        ca,
        identity.map(|p| (p.cert.as_path(), p.key.as_path())),
        ca.is_none(),
    )
    .expect("client config")
}

/// Connects and completes the handshake.
fn connect(port: u16, config: Arc<rustls::ClientConfig>) -> std::io::Result<Tls> {
    let mut sock = TcpStream::connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)?;
    }
    // TLS 1.3: the server's verdict on our certificate arrives after our Finished; a round trip
    // surfaces it.
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(b"PING\r\n")?;
    let mut buf = [0u8; 7];
    tls.read_exact(&mut buf)?;
    if &buf != b"+PONG\r\n" {
        return Err(std::io::Error::other(format!("unexpected {buf:?}")));
    }
    Ok(tls)
}

fn call(s: &mut impl ReadWrite, cmd: &str) -> String {
    s.write_all(cmd.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if synap::protocol::read::skip(&out, 0).is_some() {
            return String::from_utf8_lossy(&out).into_owned();
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed");
        out.extend_from_slice(&buf[..n]);
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Starts a TLS server; ready once a TLS PING answers.
fn start(shards: usize, cfg: &str, identity: Option<&Pair>) -> Server {
    let probe_cfg = client_config(None, identity);
    Server::spawn(shards, &["--config", cfg], None, &move |port| {
        connect(port, probe_cfg.clone()).is_ok()
    })
}

#[test]
fn tls_serves_the_redis_crate_and_rustls_clients() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "main");
    let server = ca.server(dir.path(), "server");
    let srv = start(4, &config(dir.path(), &server, None, false), None);
    let client = redis::Client::build_with_tls(
        format!("rediss://localhost:{}/", srv.port),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(std::fs::read(&ca.pem).unwrap()),
        },
    )
    .unwrap();
    let mut c = client.get_connection().expect("TLS connection");
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut c)
            .unwrap();
    }
    let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 200);
    // A pipeline with a reply larger than one TLS record (16 KB) comes back whole.
    let big = "x".repeat(300_000);
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut c)
        .unwrap();
    let back: Vec<String> = redis::pipe()
        .cmd("GET")
        .arg("big")
        .cmd("GET")
        .arg("big")
        .query(&mut c)
        .unwrap();
    assert!(back.iter().all(|b| b == &big));
    // TLS 1.3 by default, TLS 1.2 when the client offers only that.
    let tls = connect(srv.port, client_config(Some(&ca.pem), None)).unwrap();
    assert_eq!(
        tls.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    let tls12 = rustls::ClientConfig::builder_with_provider(synap::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates({
            let mut roots = rustls::RootCertStore::empty();
            let pem = std::fs::read(&ca.pem).unwrap();
            for c in rustls_pemfile_certs(&pem) {
                roots.add(c).unwrap();
            }
            roots
        })
        .with_no_client_auth();
    let tls = connect(srv.port, Arc::new(tls12)).unwrap();
    assert_eq!(
        tls.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn wrong_ca_is_refused_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "main");
    let other = Ca::new(dir.path(), "other");
    let server = ca.server(dir.path(), "server");
    let good = ca.client(dir.path(), "good-client");
    let bad = other.client(dir.path(), "bad-client");
    // Mutual TLS: clients need a certificate signed by the CA in ca_path.
    let srv = start(
        2,
        &config(dir.path(), &server, Some(&ca.pem), false),
        Some(&good),
    );
    // A client that trusts another CA refuses the server.
    let e = connect(srv.port, client_config(Some(&other.pem), Some(&good))).unwrap_err();
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
    // The server refuses clients without a certificate, or with one from another CA.
    assert!(connect(srv.port, client_config(Some(&ca.pem), None)).is_err());
    assert!(connect(srv.port, client_config(Some(&ca.pem), Some(&bad))).is_err());
    let mut ok = connect(srv.port, client_config(Some(&ca.pem), Some(&good))).unwrap();
    assert_eq!(call(&mut ok, "SET a 1\r\n"), "+OK\r\n");
    // The redis crate with a client certificate.
    let client = redis::Client::build_with_tls(
        format!("rediss://localhost:{}/", srv.port),
        redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: std::fs::read(&good.cert).unwrap(),
                client_key: std::fs::read(&good.key).unwrap(),
            }),
            root_cert: Some(std::fs::read(&ca.pem).unwrap()),
        },
    )
    .unwrap();
    let mut c = client.get_connection().expect("mTLS connection");
    let v: String = redis::cmd("GET").arg("a").query(&mut c).unwrap();
    assert_eq!(v, "1");
}

#[test]
fn plaintext_on_the_tls_port_is_refused_without_affecting_others() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "main");
    let server = ca.server(dir.path(), "server");
    let srv = start(2, &config(dir.path(), &server, None, false), None);
    let mut tls = connect(srv.port, client_config(Some(&ca.pem), None)).unwrap();
    assert_eq!(call(&mut tls, "SET a 1\r\n"), "+OK\r\n");
    for _ in 0..5 {
        let mut plain = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
        let reply = send_raw(&mut plain, b"PING\r\n*1\r\n$4\r\nPING\r\n");
        assert!(!String::from_utf8_lossy(&reply).contains("PONG"));
        assert!(is_closed(&mut plain));
    }
    // A client that connects and says nothing does not hold anyone up either.
    let _silent = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    assert_eq!(call(&mut tls, "GET a\r\n"), "$1\r\n1\r\n");
    let mut again = connect(srv.port, client_config(Some(&ca.pem), None)).unwrap();
    assert_eq!(call(&mut again, "GET a\r\n"), "$1\r\n1\r\n");
}

#[test]
fn redis_cli_speaks_tls() {
    let help = Command::new("redis-cli").arg("--help").output();
    if !help.is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout).contains("--tls")
            || String::from_utf8_lossy(&o.stderr).contains("--tls")
    }) {
        eprintln!("redis-cli with TLS is not installed: skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "main");
    let server = ca.server(dir.path(), "server");
    let good = ca.client(dir.path(), "client");
    let srv = start(
        2,
        &config(dir.path(), &server, Some(&ca.pem), false),
        Some(&good),
    );
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["--tls", "--cacert"])
            .arg(&ca.pem)
            .arg("--cert")
            .arg(&good.cert)
            .arg("--key")
            .arg(&good.key)
            .args(["-h", "localhost", "-p", &srv.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cli(&["SET", "greeting", "hello"]), "OK");
    assert_eq!(cli(&["GET", "greeting"]), "hello");
    // Without the client certificate, the server refuses.
    let out = Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(&ca.pem)
        .args(["-h", "localhost", "-p", &srv.port.to_string(), "PING"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("PONG"));
}

#[test]
fn certificates_reload_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let first = Ca::new(dir.path(), "first");
    let second = Ca::new(dir.path(), "second");
    let live = first.server(dir.path(), "server");
    let renewed = second.server(dir.path(), "renewed");
    let srv = start(2, &config(dir.path(), &live, None, false), None);
    let mut old = connect(srv.port, client_config(Some(&first.pem), None)).unwrap();
    assert!(connect(srv.port, client_config(Some(&second.pem), None)).is_err());
    let hup = || {
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(srv.child.id() as i32, libc::SIGHUP) };
    };
    // A broken file is refused and the certificate in force stays.
    std::fs::write(&live.cert, "not a certificate").unwrap();
    hup();
    std::thread::sleep(Duration::from_millis(300));
    assert!(connect(srv.port, client_config(Some(&first.pem), None)).is_ok());
    // Renewed files take effect for new connections; open ones carry on.
    std::fs::copy(&renewed.cert, &live.cert).unwrap();
    std::fs::copy(&renewed.key, &live.key).unwrap();
    hup();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while connect(srv.port, client_config(Some(&second.pem), None)).is_err() {
        assert!(std::time::Instant::now() < deadline, "not reloaded");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(connect(srv.port, client_config(Some(&first.pem), None)).is_err());
    assert_eq!(call(&mut old, "PING\r\n"), "+PONG\r\n");
    let log = srv.log();
    assert!(log.contains("TLS certificate not reloaded"), "{log}");
    assert!(log.contains("TLS certificate reloaded"), "{log}");
}

#[test]
fn https_when_tls_http_is_on() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "main");
    let server = ca.server(dir.path(), "server");
    let srv = start(1, &config(dir.path(), &server, None, true), None);
    let sock = TcpStream::connect(("127.0.0.1", srv.http_port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let conn = rustls::ClientConnection::new(
        client_config(Some(&ca.pem), None),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"status\":\"healthy\""), "{text}");
    // Plain HTTP on the HTTPS port gets no answer.
    let mut plain = TcpStream::connect(("127.0.0.1", srv.http_port)).unwrap();
    let reply = send_raw(&mut plain, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(!String::from_utf8_lossy(&reply).contains("200 OK"));
}

#[test]
fn api_keys_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "main");
    let server = ca.server(dir.path(), "server");
    let srv = start(2, &config(dir.path(), &server, None, false), None);
    let mut admin_conn = connect(srv.port, client_config(Some(&ca.pem), None)).unwrap();
    let created = call(&mut admin_conn, "APIKEY CREATE root admin\r\n");
    let key = created.lines().nth(1).unwrap().to_string();
    // synap-admin over TLS.
    let out = Command::new(env!("CARGO_BIN_EXE_synap-admin"))
        .args([
            "--port",
            &srv.port.to_string(),
            "--tls",
            "--sni",
            "localhost",
            "--cacert",
        ])
        .arg(&ca.pem)
        .env("SYNAP_API_KEY", &key)
        .arg("list-api-keys")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("root"),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client = redis::Client::build_with_tls(
        format!("rediss://:{key}@localhost:{}/", srv.port),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(std::fs::read(&ca.pem).unwrap()),
        },
    )
    .unwrap();
    let mut c = client.get_connection().unwrap();
    let _: () = redis::cmd("SET").arg("a").arg("b").query(&mut c).unwrap();
    let mut anon = connect_raw(srv.port, client_config(Some(&ca.pem), None));
    assert_eq!(
        call(&mut anon, "GET a\r\n"),
        "-NOAUTH Authentication required.\r\n"
    );
}

/// A TLS connection without the PING round trip (for servers that require a key).
fn connect_raw(port: u16, config: Arc<rustls::ClientConfig>) -> Tls {
    let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let conn =
        rustls::ClientConnection::new(config, ServerName::try_from("localhost").unwrap()).unwrap();
    rustls::StreamOwned::new(conn, sock)
}

#[test]
fn a_bad_certificate_stops_start_up_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path(), "main");
    let server = ca.server(dir.path(), "server");
    let other = ca.server(dir.path(), "other");
    // A key that does not belong to the certificate; then a file that is no certificate.
    std::fs::copy(&other.key, &server.key).unwrap();
    let cfg = config(dir.path(), &server, None, false);
    for check in [true, false] {
        let mut cmd = Command::new(bin());
        let (port, http) = (free_port().to_string(), free_port().to_string());
        cmd.args(["--config", &cfg, "--port", &port, "--http-port", &http]);
        cmd.arg("--data-dir").arg(dir.path());
        if check {
            cmd.arg("--check-config");
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(
            err.contains("server.pem") && err.contains("server-key.pem"),
            "{err}"
        );
    }
    std::fs::write(&server.cert, "garbage").unwrap();
    let out = Command::new(bin())
        .args(["--config", &cfg, "--check-config"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no certificate"),
        "{err}"
    );
}
