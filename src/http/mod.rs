//! The HTTP/1.1 front end: health checks, Prometheus metrics and the REST KV API.
//!
//! Requests are framed with `httparse`, bodies need a Content-Length and are bounded by
//! `network.http_max_body`, connections are kept alive unless the client says otherwise. KV
//! requests run through the same router as RESP commands ([`crate::router::Pipeline`]), so both
//! front ends share one dispatch, and the same API key checks: once a key exists, the KV routes
//! need `Authorization: Bearer <key>` (401 without a valid one, 403 for what its role may not
//! do); `/health*` never does, `/metrics` only with `auth.metrics_requires_key`. With
//! `server.tls.http` the port speaks HTTPS.

mod metrics;
mod routes;

use crate::client::ClientInfo;
use crate::connection::ConnState;
use crate::router::Pipeline;
use crate::shard::Shard;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Largest request head (request line and headers).
const MAX_HEAD: usize = 64 * 1024;

/// A response to send.
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Content-Type.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, v: &serde_json::Value) -> Response {
        Response {
            status,
            content_type: "application/json",
            body: serde_json::to_vec(v).unwrap_or_default(),
        }
    }

    /// A JSON error `{"error": msg, "status": code}`.
    pub fn error(status: u16, msg: &str) -> Response {
        Response::json(
            status,
            &serde_json::json!({ "error": msg, "status": status }),
        )
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Accepts HTTP connections on this shard until the task is dropped.
pub async fn accept(shard: Rc<Shard>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok(stream) => {
                let s = shard.clone();
                s.connections.set(s.connections.get() + 1);
                glommio::spawn_local(async move {
                    start(s.clone(), stream).await;
                    s.connections.set(s.connections.get() - 1);
                })
                .detach();
            }
            Err(e) => {
                tracing::warn!(shard = shard.id, "HTTP accept failed: {e}");
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// A parsed request.
pub struct Request {
    /// Method.
    pub method: String,
    /// Path (without query string).
    pub path: String,
    /// Body.
    pub body: Vec<u8>,
    /// The key of `Authorization: Bearer <key>`, if sent.
    pub bearer: Option<Vec<u8>>,
}

/// Runs the TLS handshake when the HTTP port speaks HTTPS, then serves.
async fn start(shard: Rc<Shard>, stream: TcpStream) {
    let (Ok(addr), Ok(laddr)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let global = shard.global.clone();
    match &global.tls {
        Some(tls) if global.config.server.tls.http => match tls.accept(stream).await {
            Ok(s) => serve(shard, s, addr, laddr).await,
            Err(e) => tracing::debug!(peer = %addr, "HTTPS handshake failed: {e}"),
        },
        _ => serve(shard, stream, addr, laddr).await,
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    shard: Rc<Shard>,
    mut stream: S,
    addr: std::net::SocketAddr,
    laddr: std::net::SocketAddr,
) {
    let id = shard.global.next_client_id.fetch_add(1, Ordering::Relaxed);
    let mut conn = ConnState {
        shard: shard.clone(),
        info: Rc::new(RefCell::new(ClientInfo::new(id, addr, laddr, -1, shard.id))),
        resp3: true,
        quit: false,
        auth: crate::auth::Session::new(&shard.global.auth),
    };
    let mut pipeline = Pipeline::new(shard.global.nshards);
    let max_body = shard.global.config.network.http_max_body.0 as usize;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        // Read until a whole head is here.
        let (head_len, method, path, content_length, keep_alive, bearer) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let mut cl: Option<usize> = None;
                    let mut chunked = false;
                    let mut close = req.version == Some(0);
                    let mut bearer = None;
                    for h in req.headers.iter() {
                        if h.name.eq_ignore_ascii_case("authorization") {
                            bearer = bearer_token(h.value);
                            continue;
                        }
                        if h.name.eq_ignore_ascii_case("content-length") {
                            match std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse().ok())
                            {
                                Some(v) => cl = Some(v),
                                None => {
                                    let _ = write(
                                        &mut stream,
                                        Response::error(400, "invalid Content-Length"),
                                        false,
                                    )
                                    .await;
                                    return;
                                }
                            }
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            chunked = true;
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            let v = String::from_utf8_lossy(h.value).to_ascii_lowercase();
                            if v.contains("close") {
                                close = true;
                            } else if v.contains("keep-alive") {
                                close = false;
                            }
                        }
                    }
                    if chunked {
                        let _ = write(
                            &mut stream,
                            Response::error(
                                411,
                                "chunked bodies are not supported: send Content-Length",
                            ),
                            false,
                        )
                        .await;
                        return;
                    }
                    let path = req.path.unwrap_or("/");
                    let path = path.split('?').next().unwrap_or("/").to_string();
                    break (
                        n,
                        req.method.unwrap_or("GET").to_string(),
                        path,
                        cl.unwrap_or(0),
                        !close,
                        bearer,
                    );
                }
                Ok(httparse::Status::Partial) => {
                    if buf.len() > MAX_HEAD {
                        let _ = write(
                            &mut stream,
                            Response::error(431, "request head too large"),
                            false,
                        )
                        .await;
                        return;
                    }
                }
                Err(e) => {
                    let _ = write(
                        &mut stream,
                        Response::error(400, &format!("malformed request: {e}")),
                        false,
                    )
                    .await;
                    return;
                }
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        if content_length > max_body {
            let _ = write(
                &mut stream,
                Response::error(413, &format!("body larger than {max_body} bytes")),
                false,
            )
            .await;
            return;
        }
        while buf.len() < head_len + content_length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buf[head_len..head_len + content_length].to_vec();
        buf.drain(..head_len + content_length);
        let req = Request {
            method,
            path,
            body,
            bearer,
        };
        let resp = routes::route(&mut conn, &mut pipeline, &req).await;
        let shutting = shard.global.shutting_down.load(Ordering::Relaxed);
        if write(&mut stream, resp, keep_alive && !shutting)
            .await
            .is_err()
            || !keep_alive
            || shutting
        {
            let _ = stream.close().await;
            return;
        }
    }
}

/// The key in an `Authorization: Bearer <key>` value.
fn bearer_token(v: &[u8]) -> Option<Vec<u8>> {
    let v = v.trim_ascii();
    if v.len() > 7 && v[..7].eq_ignore_ascii_case(b"bearer ") {
        Some(v[7..].trim_ascii().to_vec())
    } else {
        None
    }
}

async fn write<S: AsyncWrite + Unpin>(
    stream: &mut S,
    resp: Response,
    keep_alive: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\n{}Content-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\nServer: synap/{}\r\n\r\n",
        resp.status,
        reason(resp.status),
        if resp.status == 401 {
            "WWW-Authenticate: Bearer realm=\"synap\"\r\n"
        } else {
            ""
        },
        resp.content_type,
        resp.body.len(),
        if keep_alive { "keep-alive" } else { "close" },
        env!("CARGO_PKG_VERSION")
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(&resp.body);
    stream.write_all(&out).await?;
    stream.flush().await
}
