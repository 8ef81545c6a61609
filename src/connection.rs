//! A RESP client connection: one task per connection on the shard that accepted it.
//!
//! The loop owns one read buffer and one output buffer. Each read frames every complete
//! command, runs local ones inline and batches the rest per owning shard ([`Pipeline`]), then
//! writes every reply of the read batch in one write, in request order.
//!
//! The loop is generic over the stream: a plain glommio `TcpStream`, or a rustls stream over
//! it when `server.tls` is on (the handshake happens here, before the loop). Once per read
//! batch the connection re-checks its API key if the key registry changed ([`Session::sync`]).

use crate::auth::Session;
use crate::blocking::{Outcome, Pending};
use crate::client::ClientInfo;
use crate::errors::ErrorCode;
use crate::protocol::{Limits, Parsed, Parser, Reply};
use crate::router::{Pipeline, Step};
use crate::shard::Shard;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::net::TcpStream;
use std::cell::RefCell;
use std::future::Future;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

/// A handler that runs on the connection, touching no shard data.
pub type ConnFn = fn(&mut ConnState, &[&[u8]], &mut Reply<'_>);

/// Read buffer size while idle; it grows for large commands and shrinks back after.
const READ_BUF: usize = 16 * 1024;

/// Replies buffered for one read batch before they are written out early (bounds a
/// connection's output memory to about this plus one reply).
const OUTPUT_FLUSH: usize = 4 * 1024 * 1024;

/// Forwarded commands queued in one batch before they are sent and their replies written (their
/// reply sizes are unknown until they return, so their number is bounded instead: a pipeline of
/// huge values owned by another shard can still hold up to this many replies at once).
const REMOTE_FLUSH: usize = 64;

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Per-connection state visible to handlers.
pub struct ConnState {
    /// The shard serving this connection.
    pub shard: Rc<Shard>,
    /// Descriptive state shared with CLIENT LIST.
    pub info: Rc<RefCell<ClientInfo>>,
    /// Replies in RESP3.
    pub resp3: bool,
    /// Close after writing the replies (QUIT).
    pub quit: bool,
    /// Authentication: which key, and what it may run.
    pub auth: Session,
}

/// Serves one client until it disconnects, sends something unframeable, or the server stops.
pub async fn serve(shard: Rc<Shard>, stream: TcpStream) {
    let global = shard.global.clone();
    let (Ok(addr), Ok(laddr)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let fd = stream.as_raw_fd();
    let timeout = match global.live().timeout {
        0 => None,
        t => Some(std::time::Duration::from_secs(t)),
    };
    let Some(tls) = &global.tls else {
        if timeout.is_some() {
            let _ = stream.set_read_timeout(timeout);
        }
        return session(shard, stream, addr, laddr, fd).await;
    };
    let _ = stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT));
    match tls.accept(stream).await {
        Ok(s) => {
            let _ = s.get_ref().0.set_read_timeout(timeout);
            session(shard, s, addr, laddr, fd).await
        }
        // A plaintext client, an untrusted client certificate, a timeout: only this
        // connection is affected.
        Err(e) => tracing::debug!(peer = %addr, "TLS handshake failed: {e}"),
    }
}

/// The connection after accept (and handshake): protected mode, then the command loop.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    shard: Rc<Shard>,
    mut stream: S,
    addr: std::net::SocketAddr,
    laddr: std::net::SocketAddr,
    fd: i32,
) {
    let global = shard.global.clone();
    if global.refuses(addr.ip()) {
        let _ = stream
            .write_all(format!("-{}\r\n", crate::auth::DENIED).as_bytes())
            .await;
        let _ = stream.flush().await;
        let _ = stream.close().await;
        return;
    }
    let id = global.next_client_id.fetch_add(1, Ordering::Relaxed);
    let info = Rc::new(RefCell::new(ClientInfo::new(id, addr, laddr, fd, shard.id)));
    shard.clients.borrow_mut().insert(id, info.clone());
    let mut conn = ConnState {
        shard: shard.clone(),
        info,
        resp3: false,
        quit: false,
        auth: Session::new(&global.auth),
    };
    let live = global.live();
    let limits = Limits {
        max_bulk_len: live.proto_max_bulk_len,
        max_multibulk_len: global.config.network.max_multibulk_len,
        max_inline_len: global.config.network.max_inline_len,
    };
    let qbuf_limit = live.client_query_buffer_limit;
    let _ = run(&mut conn, &mut stream, &limits, qbuf_limit).await;
    let _ = stream.close().await;
    shard.clients.borrow_mut().remove(&id);
}

async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut ConnState,
    stream: &mut S,
    limits: &Limits,
    qbuf_limit: usize,
) -> std::io::Result<()> {
    let shard = conn.shard.clone();
    let mut rbuf = vec![0u8; READ_BUF];
    let mut filled = 0usize;
    let mut start = 0usize;
    let mut parser = Parser::default();
    let mut pipeline = Pipeline::new(shard.global.nshards);
    let mut argv_store: Vec<&'static [u8]> = Vec::with_capacity(16);
    loop {
        if filled == rbuf.len() {
            // No room: move the partial command to the front, or grow.
            if start > 0 {
                rbuf.copy_within(start..filled, 0);
                filled -= start;
                start = 0;
            } else {
                let want = rbuf.len() * 2;
                if want > qbuf_limit.saturating_add(READ_BUF) {
                    tracing::warn!(
                        client = conn.info.borrow().id,
                        "closing client that exceeded the query buffer limit"
                    );
                    return Ok(());
                }
                rbuf.resize(want, 0);
            }
        }
        let n = stream.read(&mut rbuf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let journal_start = shard.journal.borrow().end();
        conn.auth.sync(&shard.global.auth);
        let started = Instant::now();
        let mut blocked_for = Duration::ZERO;
        let now = synap_shard::time::now_ms();
        let mut commands = 0u64;
        let mut need: Option<usize> = None;
        let mut fatal: Option<String> = None;
        loop {
            match parser.parse(&rbuf[start..filled], limits) {
                Ok(Parsed::Command(len)) => {
                    let cmd = &rbuf[start..start + len];
                    let mut argv: Vec<&[u8]> = std::mem::take(&mut argv_store);
                    parser.args(cmd, &mut argv);
                    commands += 1;
                    let mut blocked = None;
                    match pipeline.dispatch(conn, &argv, now) {
                        Step::Done => {}
                        Step::Async(id, spec) => {
                            pipeline.flush_remote(&shard, conn.resp3).await;
                            pipeline.run_async(conn, id, spec, &argv).await;
                        }
                        Step::Block(id, prepare) => {
                            pipeline.flush_remote(&shard, conn.resp3).await;
                            blocked = pipeline
                                .run_block(conn, id, prepare, &argv, true)
                                .await
                                .map(|p| (id, p));
                        }
                    }
                    argv_store = recycle(argv);
                    start += len;
                    if let Some((id, mut pending)) = blocked {
                        // The replies before it leave now (once durable); the commands after
                        // it wait in the read buffer until it is served (Redis's order).
                        if shard.journal.borrow().end() != journal_start {
                            shard.durable().await;
                        }
                        let out = pipeline.take_output();
                        if !out.is_empty() {
                            if let Err(e) = stream.write_all(out).await {
                                crate::blocking::abandon(&shard, pending).await;
                                return Err(e);
                            }
                            shard.stats.borrow_mut().net_output_bytes += out.len() as u64;
                            conn.info.borrow_mut().tot_net_out += out.len() as u64;
                            pipeline.clear_output();
                        }
                        conn.info.borrow_mut().blocked = true;
                        let t0 = Instant::now();
                        let mut rb = ReadBuf {
                            buf: &mut rbuf,
                            start: &mut start,
                            filled: &mut filled,
                        };
                        let res =
                            wait_blocked(conn, stream, &mut rb, &mut pending, qbuf_limit).await;
                        blocked_for += t0.elapsed();
                        conn.info.borrow_mut().blocked = false;
                        match res {
                            Ok(Some(Outcome::Shutdown)) => {
                                pending.cleanup();
                                return Ok(());
                            }
                            Ok(Some(outcome)) => {
                                pipeline.finish_block(conn, id, &pending, outcome).await;
                                pending.cleanup();
                            }
                            Ok(None) => {
                                crate::blocking::abandon(&shard, pending).await;
                                return Ok(());
                            }
                            Err(e) => {
                                crate::blocking::abandon(&shard, pending).await;
                                return Err(e);
                            }
                        }
                    }
                    if conn.quit {
                        break;
                    }
                    // A pipeline of large replies (say, many GETs of a big value) must not pile
                    // up in memory: past a few MB, send what is ready before framing more.
                    if pipeline.pending_output() > OUTPUT_FLUSH
                        || pipeline.pending_remote() >= REMOTE_FLUSH
                    {
                        pipeline.flush_remote(&shard, conn.resp3).await;
                        if shard.journal.borrow().end() != journal_start {
                            shard.durable().await;
                        }
                        let out = pipeline.take_output();
                        stream.write_all(out).await?;
                        stream.flush().await?;
                        shard.stats.borrow_mut().net_output_bytes += out.len() as u64;
                        conn.info.borrow_mut().tot_net_out += out.len() as u64;
                        pipeline.clear_output();
                    }
                }
                Ok(Parsed::Skip(len)) => start += len,
                Ok(Parsed::Incomplete(hint)) => {
                    need = hint;
                    break;
                }
                Err(e) => {
                    fatal = Some(e.0);
                    break;
                }
            }
        }
        pipeline.flush_remote(&shard, conn.resp3).await;
        if let Some(msg) = fatal {
            let mut r = Reply::new(pipeline.out_mut(), conn.resp3);
            r.error(ErrorCode::Err, &msg);
            shard.stats.borrow_mut().errors[ErrorCode::Err.index()] += 1;
            conn.quit = true;
        }
        // `appendfsync always`: replies to writes leave once the writes are on disk.
        if shard.journal.borrow().end() != journal_start {
            shard.durable().await;
        }
        let out = pipeline.take_output();
        if !out.is_empty() {
            stream.write_all(out).await?;
            // A no-op on plain TCP; TLS may hold back part of the last record otherwise.
            stream.flush().await?;
        }
        let written = out.len();
        pipeline.clear_output();
        let per_cmd_us = if commands > 0 {
            started.elapsed().saturating_sub(blocked_for).as_nanos() as f64
                / 1000.0
                / commands as f64
        } else {
            0.0
        };
        pipeline.account_time(&shard, per_cmd_us);
        {
            let mut st = shard.stats.borrow_mut();
            st.net_input_bytes += n as u64;
            st.net_output_bytes += written as u64;
            if commands > 0 {
                st.record_latency(per_cmd_us, commands);
            }
        }
        {
            let mut info = conn.info.borrow_mut();
            info.tot_net_in += n as u64;
            info.tot_net_out += written as u64;
            info.tot_cmds += commands;
            info.qbuf = filled - start;
        }
        if conn.quit || shard.global.shutting_down.load(Ordering::Relaxed) {
            return Ok(());
        }
        // Everything consumed: start over at the front, shrinking a buffer a big command grew.
        if start == filled {
            start = 0;
            filled = 0;
            if rbuf.len() > READ_BUF * 4 {
                rbuf = vec![0u8; READ_BUF];
            }
        }
        // A big bulk is coming: make room for all of it at once (no repeated doubling).
        if let Some(total) = need {
            let pending = filled - start;
            if total > qbuf_limit {
                tracing::warn!("closing client whose command exceeds the query buffer limit");
                return Ok(());
            }
            if start + total > rbuf.len() {
                if start > 0 {
                    rbuf.copy_within(start..filled, 0);
                    filled = pending;
                    start = 0;
                }
                if total > rbuf.len() {
                    rbuf.resize(total, 0);
                }
            }
        }
    }
}

/// The read buffer and the positions in it, lent to a blocked wait.
struct ReadBuf<'a> {
    buf: &'a mut Vec<u8>,
    start: &'a mut usize,
    filled: &'a mut usize,
}

/// What woke a blocked client.
enum Wake {
    Outcome(Outcome),
    Timer,
    Read(std::io::Result<usize>),
}

/// Waits for a blocked command's outcome, its timeout, or its client going away (None), with
/// no CPU spent meanwhile. Bytes the client sends are read into the buffer (to run after the
/// blocked command, as Redis does), which also notices a disconnect or CLIENT KILL at once.
async fn wait_blocked<S: AsyncRead + Unpin>(
    conn: &ConnState,
    stream: &mut S,
    rb: &mut ReadBuf<'_>,
    pending: &mut Pending,
    qbuf_limit: usize,
) -> std::io::Result<Option<Outcome>> {
    let shard = &conn.shard;
    if shard.global.shutting_down.load(Ordering::Relaxed) && pending.waiter.claim() {
        return Ok(Some(Outcome::Shutdown));
    }
    let mut timer = pending
        .deadline
        .map(|d| glommio::timer::Timer::new(d.saturating_duration_since(Instant::now())));
    loop {
        if *rb.filled == rb.buf.len() {
            if *rb.start > 0 {
                rb.buf.copy_within(*rb.start..*rb.filled, 0);
                *rb.filled -= *rb.start;
                *rb.start = 0;
            } else {
                let want = rb.buf.len() * 2;
                if want > qbuf_limit.saturating_add(READ_BUF) {
                    tracing::warn!(
                        client = conn.info.borrow().id,
                        "closing blocked client that exceeded the query buffer limit"
                    );
                    return Ok(None);
                }
                rb.buf.resize(want, 0);
            }
        }
        let wake = {
            let filled = *rb.filled;
            let mut read = std::pin::pin!(stream.read(&mut rb.buf[filled..]));
            let rx = &mut pending.rx;
            futures::future::poll_fn(|cx| {
                if let Poll::Ready(o) = Pin::new(&mut *rx).poll(cx) {
                    // The sender is never dropped undelivered while we hold the waiter.
                    return Poll::Ready(Wake::Outcome(o.unwrap_or(Outcome::Timeout)));
                }
                if let Some(t) = timer.as_mut() {
                    if Pin::new(t).poll(cx).is_ready() {
                        return Poll::Ready(Wake::Timer);
                    }
                }
                if let Poll::Ready(r) = read.as_mut().poll(cx) {
                    return Poll::Ready(Wake::Read(r));
                }
                Poll::Pending
            })
            .await
        };
        match wake {
            Wake::Outcome(o) => return Ok(Some(o)),
            Wake::Timer => {
                timer = None;
                if pending.waiter.claim() {
                    return Ok(Some(Outcome::Timeout));
                }
                // A shard is serving it right now: its outcome is on the way.
            }
            Wake::Read(Ok(0)) => return Ok(None),
            Wake::Read(Ok(n)) => {
                *rb.filled += n;
                shard.stats.borrow_mut().net_input_bytes += n as u64;
                conn.info.borrow_mut().tot_net_in += n as u64;
            }
            // The idle timeout does not apply to blocked clients.
            Wake::Read(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Wake::Read(Err(e)) => return Err(e),
        }
    }
}

/// Empties an argument vector and gives back its allocation for the next command.
fn recycle(mut v: Vec<&[u8]>) -> Vec<&'static [u8]> {
    v.clear();
    // An in-place collect of an empty vector of same-layout items keeps the allocation.
    v.into_iter().map(|_| -> &'static [u8] { &[] }).collect()
}
