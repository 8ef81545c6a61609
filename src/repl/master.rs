//! The master side: the listener on `replication.listen_port` and one sender per replica stream.
//!
//! Every shard listens (SO_REUSEPORT); the shard that accepts a `SYNC` for another shard hands
//! the socket (a duplicated descriptor) to that shard, which serves the stream from its own
//! journal and backlog. A full sync takes a snapshot capture (one at a time per shard: it waits
//! for a running SAVE) and sends the entries, then the records journaled since the capture
//! instant, straight from the backlog; a replica further behind than `max_replica_buffer` (or
//! than the backlog) is dropped and resyncs.

use super::{lock, with_timeout, Peer};
use crate::shard::Shard;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream, UnixStream};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use synap_shard::codec;

/// Longest handshake line.
const MAX_LINE: usize = 1024;
/// Bytes sent per write from the capture or the backlog.
const CHUNK: usize = 256 * 1024;
/// Longest a stream holds new records back to send them together.
const COALESCE: Duration = Duration::from_micros(1000);
/// Pending bytes that are sent at once.
const COALESCE_BYTES: u64 = 64 * 1024;

/// A replica's request for one shard's stream.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    shard: usize,
    replica: String,
    replid: String,
    offset: u64,
    /// The furthest offset the replica applied on any of its shards (it resumes from
    /// `offset`, the smallest): a promoted master continues it only if it got that far.
    reached: u64,
    port: u16,
    /// Hash of the API key it authenticated with (None while no key exists).
    key: Option<[u8; 32]>,
}

/// Reads one `\n`-terminated line (byte by byte: nothing after it is consumed).
pub async fn read_line<R: futures::AsyncRead + Unpin>(r: &mut R) -> Result<String, String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        let n = r.read(&mut b).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        if b[0] == b'\n' {
            break;
        }
        line.push(b[0]);
        if line.len() > MAX_LINE {
            return Err("line too long".into());
        }
    }
    String::from_utf8(line)
        .map(|s| s.trim_end_matches('\r').to_string())
        .map_err(|_| "not UTF-8".into())
}

/// Accepts replica connections on this shard's listener.
pub async fn accept(shard: Rc<Shard>, listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(shard = shard.id, "replication accept failed: {e}");
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        glommio::spawn_local(start(shard.clone(), stream)).detach();
    }
}

fn parse_sync(words: &[&str]) -> Option<SyncRequest> {
    if words.len() < 6 {
        return None;
    }
    let offset = words[4].parse().ok()?;
    let reached = match words.get(7) {
        Some(w) => w.parse().ok()?,
        None => offset,
    };
    Some(SyncRequest {
        shard: words[1].parse().ok()?,
        replica: words[2].chars().take(64).collect(),
        replid: words[3].to_string(),
        offset,
        reached: reached.max(offset),
        port: words[5].parse().ok()?,
        key: None,
    })
}

/// A new connection: protected mode, the TLS handshake when `server.tls.enabled`, then the
/// request line.
async fn start(shard: Rc<Shard>, stream: TcpStream) {
    let g = shard.global.clone();
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    let ip = peer.ip().to_string();
    let _ = stream.set_nodelay(true);
    match &g.tls {
        None => {
            let fd = stream.as_raw_fd();
            handshake(shard, stream, ip, peer.ip(), Some(fd)).await
        }
        Some(tls) => match with_timeout(Duration::from_secs(10), tls.accept(stream)).await {
            Some(Ok(s)) => handshake(shard, s, ip, peer.ip(), None).await,
            Some(Err(e)) => {
                tracing::debug!(peer = %peer, "replication TLS handshake failed: {e}")
            }
            None => tracing::debug!(peer = %peer, "replication TLS handshake timed out"),
        },
    }
}

async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, line: &str) {
    let _ = stream.write_all(format!("{line}\n").as_bytes()).await;
    let _ = stream.flush().await;
    let _ = stream.close().await;
}

/// Serves the request line. `fd` is the plain TCP socket (handed to another shard by
/// descriptor); over TLS (`None`) a stream for another shard is relayed through a socket pair.
async fn handshake<S>(
    shard: Rc<Shard>,
    mut stream: S,
    ip: String,
    peer: std::net::IpAddr,
    fd: Option<RawFd>,
) where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let g = shard.global.clone();
    if g.refuses(peer) {
        refuse(&mut stream, &format!("-{}", crate::auth::DENIED)).await;
        return;
    }
    let line = match with_timeout(Duration::from_secs(5), read_line(&mut stream)).await {
        Some(Ok(l)) => l,
        _ => return,
    };
    let words: Vec<&str> = line.split(' ').collect();
    let key_word = match words.first().copied() {
        Some("INFO") => words.get(1).copied().unwrap_or("-"),
        Some("SYNC") => words.get(6).copied().unwrap_or("-"),
        _ => "-",
    };
    let hash = match words.first().copied() {
        Some("INFO" | "SYNC") => match super::authorize(&g.auth, key_word) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(peer = %ip, "replication request refused: {}", e.trim_start_matches('-'));
                refuse(&mut stream, &e).await;
                return;
            }
        },
        _ => None,
    };
    let reply_err = |msg: &str| format!("-ERR {msg}");
    match words.first().copied() {
        Some("INFO") => {
            let _ = stream
                .write_all(format!("+{} {}\n", g.repl.replid(), g.nshards).as_bytes())
                .await;
            let _ = stream.flush().await;
            let _ = stream.close().await;
        }
        Some("SYNC") => {
            let Some(mut req) = parse_sync(&words) else {
                refuse(&mut stream, &reply_err("bad SYNC")).await;
                return;
            };
            req.key = hash;
            if req.shard >= g.nshards {
                refuse(&mut stream, &reply_err("no such shard")).await;
                return;
            }
            if g.repl.is_replica() {
                refuse(&mut stream, &reply_err("this server is a replica")).await;
                return;
            }
            if req.shard == shard.id {
                serve(shard, stream, ip, req).await;
                return;
            }
            let target = req.shard;
            match fd {
                Some(fd) => {
                    // SAFETY: dup of a descriptor we own; the copy is handed to exactly one owner.
                    let fd = unsafe { libc::dup(fd) };
                    drop(stream);
                    if fd < 0 {
                        return;
                    }
                    let sent = shard
                        .run_on(target, move |s| {
                            // SAFETY: `fd` is a connected TCP socket owned by nobody else.
                            let stream = unsafe { TcpStream::from_raw_fd(fd) };
                            glommio::spawn_local(serve(s.clone(), stream, ip, req)).detach();
                        })
                        .await;
                    if sent.is_none() {
                        // SAFETY: the job did not run; the descriptor is still ours.
                        unsafe { libc::close(fd) };
                    }
                }
                None => relay(&shard, stream, ip, req).await,
            }
        }
        _ => refuse(&mut stream, &reply_err("unknown replication request")).await,
    }
}

/// A TLS stream for another shard: that shard serves one end of a socket pair, this one
/// copies between the other end and the TLS stream.
async fn relay<S>(shard: &Rc<Shard>, stream: S, ip: String, req: SyncRequest)
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors socketpair writes.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        tracing::warn!("socketpair failed: {}", std::io::Error::last_os_error());
        return;
    }
    let (mine, theirs) = (fds[0], fds[1]);
    let target = req.shard;
    let sent = shard
        .run_on(target, move |s| {
            // SAFETY: `theirs` is one end of a fresh socket pair owned by nobody else.
            let stream = unsafe { UnixStream::from_raw_fd(theirs) };
            glommio::spawn_local(serve(s.clone(), stream, ip, req)).detach();
        })
        .await;
    if sent.is_none() {
        // SAFETY: the job did not run; both descriptors are still ours.
        unsafe {
            libc::close(theirs);
            libc::close(mine);
        }
        return;
    }
    // SAFETY: `mine` is the other end, owned by nobody else.
    let local = unsafe { UnixStream::from_raw_fd(mine) };
    let (lr, mut lw) = local.split();
    let (tr, mut tw) = stream.split();
    let up = async move {
        let _ = futures::io::copy(tr, &mut lw).await;
        let _ = lw.close().await;
    };
    let down = async move {
        let _ = copy_flushing(lr, &mut tw).await;
        let _ = tw.close().await;
    };
    futures::future::select(Box::pin(up), Box::pin(down)).await;
}

/// Copies `r` to `w`, flushing after every read (a TLS writer buffers records).
async fn copy_flushing<R, W>(mut r: R, w: &mut W) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        w.write_all(&buf[..n]).await?;
        w.flush().await?;
    }
}

/// Writes `data` to a replica; while the write is blocked (the replica stopped reading), asks
/// `stuck` every second whether to give up (too far behind, no acknowledgements).
async fn send<W: AsyncWrite + Unpin>(
    wr: &mut W,
    data: &[u8],
    stuck: &dyn Fn() -> Option<&'static str>,
) -> Result<(), String> {
    let mut write = Box::pin(wr.write_all(data));
    loop {
        let tick = glommio::timer::sleep(Duration::from_secs(1));
        match futures::future::select(write, Box::pin(tick)).await {
            futures::future::Either::Left((res, _)) => return res.map_err(|e| e.to_string()),
            futures::future::Either::Right((_, w)) => {
                if let Some(why) = stuck() {
                    return Err(why.into());
                }
                write = w;
            }
        }
    }
}

/// Why a replica stream sent up to `pos` should be dropped: more than `max` bytes behind the
/// shard's journal (it stopped reading), or no acknowledgement for 60 s.
fn stuck(shard: &Shard, key: &(String, usize), pos: u64, max: u64) -> Option<&'static str> {
    let behind = shard.journal.borrow().offset.saturating_sub(pos);
    let stale = lock(&shard.global.repl.peers)
        .get(key)
        .is_none_or(|p| p.last_ack.elapsed() > Duration::from_secs(60));
    if behind > max {
        Some("replica over max_replica_buffer (stopped reading): dropped")
    } else if stale {
        Some("replica timed out (no acknowledgement for 60 s): dropped")
    } else {
        None
    }
}

/// Clears the shard's "saving" flag and the capture however a full sync ends.
struct Capturing<'a>(&'a Shard);

impl Drop for Capturing<'_> {
    fn drop(&mut self) {
        self.0.saving.set(false);
        let mut ks = self.0.ks.borrow_mut();
        if ks.capturing() {
            ks.finish_capture();
        }
    }
}

/// A stream's pin in its shard's backlog: what it has not sent yet stays there (up to
/// `max_replica_buffer`) until it is sent or the stream ends.
struct Unsent<'a> {
    shard: &'a Shard,
    id: u64,
}

impl<'a> Unsent<'a> {
    fn new(shard: &'a Shard) -> Unsent<'a> {
        let id = shard.journal.borrow_mut().backlog.new_stream();
        Unsent { shard, id }
    }

    fn pin(&self, offset: u64) {
        self.shard.journal.borrow_mut().backlog.pin(self.id, offset);
    }
}

impl Drop for Unsent<'_> {
    fn drop(&mut self) {
        self.shard.journal.borrow_mut().backlog.unpin(self.id);
    }
}

/// Whether a replica's stream can continue from the backlog: it asks for this server's
/// replid, or for the replid this server had as a replica before its promotion (PSYNC2), and
/// has applied nothing past where that stream is (or was, at the promotion) here, and the
/// backlog still holds the offset it resumes from.
fn continues(shard: &Shard, req: &SyncRequest) -> bool {
    let g = &shard.global;
    let j = shard.journal.borrow();
    let ours = (req.replid == g.repl.replid() && req.reached <= j.offset)
        || lock(&g.repl.replid2).as_ref().is_some_and(|(id, upto)| {
            *id == req.replid && upto.get(shard.id).is_some_and(|&o| req.reached <= o)
        });
    ours && j.backlog.has(req.offset)
}

/// Serves one replica stream of this shard until it fails or the replica goes away.
async fn serve<S>(shard: Rc<Shard>, stream: S, ip: String, req: SyncRequest)
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let g = shard.global.clone();
    let (mut rd, mut wr) = stream.split();
    let replid = g.repl.replid();
    let max_behind = g.config.replication.max_replica_buffer.0;
    let (tx, rx) = glommio::channels::local_channel::new_bounded::<()>(1);
    let cont = continues(&shard, &req);
    let counter = match (cont, req.replid.as_str()) {
        (true, _) => &g.repl.sync_partial_ok,
        (false, "?") => &g.repl.sync_full,
        (false, _) => {
            g.repl.sync_full.fetch_add(1, Ordering::Relaxed);
            &g.repl.sync_partial_err
        }
    };
    counter.fetch_add(1, Ordering::Relaxed);
    {
        let mut st = shard.stats.borrow_mut();
        if cont {
            st.repl_partial_syncs += 1;
        } else {
            st.repl_full_syncs += 1;
        }
    }
    let key = (req.replica.clone(), shard.id);
    let unsent = Unsent::new(&shard);
    let mut pos;
    if cont {
        pos = req.offset;
        let hello = format!("+CONTINUE {replid} {pos} {}\n", g.nshards);
        if wr.write_all(hello.as_bytes()).await.is_err() || wr.flush().await.is_err() {
            return;
        }
        shard.journal.borrow_mut().watchers.push(tx);
        unsent.pin(pos);
        tracing::info!(shard = shard.id, replica = %req.replica, offset = pos, "partial resync");
    } else {
        // One capture at a time per shard: wait for a running SAVE (or another full sync).
        while shard.saving.get() {
            glommio::timer::sleep(Duration::from_millis(5)).await;
        }
        shard.saving.set(true);
        let _capturing = Capturing(&shard);
        {
            let mut ks = shard.ks.borrow_mut();
            ks.start_capture(synap_shard::time::now_ms());
            pos = shard.journal.borrow().offset;
        }
        shard.journal.borrow_mut().watchers.push(tx);
        // The records written while the capture is sent stay in the backlog for this stream.
        unsent.pin(pos);
        tracing::info!(shard = shard.id, replica = %req.replica, offset = pos, "full resync");
        let hello = format!("+FULLRESYNC {replid} {pos} {}\n", g.nshards);
        if wr.write_all(hello.as_bytes()).await.is_err() {
            return;
        }
        let too_slow = || {
            (shard.journal.borrow().offset - pos > max_behind)
                .then_some("replica too slow during full sync (max_replica_buffer): dropped")
        };
        loop {
            let (done, out) = {
                let mut ks = shard.ks.borrow_mut();
                let done = ks.capture_step(2048, CHUNK);
                (done, ks.take_capture_output())
            };
            if let Err(e) = send(&mut wr, &out, &too_slow).await {
                tracing::warn!(shard = shard.id, replica = %req.replica, "{e}");
                return;
            }
            if done {
                break;
            }
            if let Some(e) = too_slow() {
                tracing::warn!(shard = shard.id, replica = %req.replica, "{e}");
                return;
            }
            glommio::executor().yield_if_needed().await;
        }
        let tail = {
            let mut ks = shard.ks.borrow_mut();
            let mut tail = ks.take_capture_output();
            let n = ks.finish_capture().map_or(0, |c| c.entries);
            codec::frame(&mut tail, |o| {
                o.push(super::TAG_END);
                codec::put_varint(o, n);
            });
            tail
        };
        if let Err(e) = send(&mut wr, &tail, &too_slow).await {
            tracing::warn!(shard = shard.id, replica = %req.replica, "{e}");
            return;
        }
        if wr.flush().await.is_err() {
            return;
        }
    }
    lock(&g.repl.peers).insert(
        key.clone(),
        Peer {
            ip,
            port: req.port,
            ack: pos,
            last_ack: Instant::now(),
            sent: pos,
        },
    );
    let g2 = g.clone();
    let key2 = key.clone();
    let acks = async move {
        loop {
            match read_line(&mut rd).await {
                Ok(l) => {
                    if let Some(off) = l.strip_prefix("ACK ").and_then(|o| o.parse::<u64>().ok()) {
                        if let Some(p) = lock(&g2.repl.peers).get_mut(&key2) {
                            p.ack = off;
                            p.last_ack = Instant::now();
                        }
                    }
                }
                Err(_) => return,
            }
        }
    };
    let shard2 = shard.clone();
    let g3 = g.clone();
    let key3 = key.clone();
    let key_hash = req.key;
    let send = async move {
        let mut epoch = g3.auth.epoch();
        let mut pinged = Instant::now();
        loop {
            if g3.shutting_down.load(Ordering::Relaxed) {
                return;
            }
            if g3.auth.epoch() != epoch {
                epoch = g3.auth.epoch();
                if !super::still_authorized(&g3.auth, key_hash.as_ref()) {
                    tracing::warn!(shard = shard2.id, replica = %key3.0, "replica's API key revoked (or keys now required): stream closed");
                    let _ = wr.close().await;
                    return;
                }
            }
            let (data, end) = {
                let j = shard2.journal.borrow();
                (j.backlog.read(pos, CHUNK), j.offset)
            };
            let Some(data) = data else {
                tracing::warn!(shard = shard2.id, replica = %key3.0, "replica fell out of the backlog: dropped");
                return;
            };
            if end - pos > max_behind {
                tracing::warn!(shard = shard2.id, replica = %key3.0, "replica over max_replica_buffer: dropped");
                return;
            }
            let at = pos;
            let stuck = || stuck(&shard2, &key3, at, max_behind);
            if !data.is_empty() {
                if let Err(e) = send(&mut wr, &data, &stuck).await {
                    tracing::warn!(shard = shard2.id, replica = %key3.0, "{e}");
                    return;
                }
                pos += data.len() as u64;
                unsent.pin(pos);
                if pinged.elapsed() >= Duration::from_secs(1) {
                    // A busy stream still tells the replica how far the shard is.
                    pinged = Instant::now();
                    if let Err(e) = send(&mut wr, &super::ping_frame(end), &stuck).await {
                        tracing::warn!(shard = shard2.id, replica = %key3.0, "{e}");
                        return;
                    }
                }
                if let Some(p) = lock(&g3.repl.peers).get_mut(&key3) {
                    p.sent = pos;
                }
                continue;
            }
            let _ = wr.flush().await;
            shard2.journal.borrow_mut().watch_armed = true;
            let woken = with_timeout(Duration::from_secs(1), rx.recv()).await;
            if woken.is_some() {
                // Coalesce: a write batch of a few commands is a few hundred bytes; sending each
                // costs a syscall per replica per batch (measured: +0.6 µs of master CPU per
                // SET with two replicas at -P 16). Let up to COALESCE pass, or COALESCE_BYTES
                // accumulate, so one send carries many batches.
                // One timer, not a polling loop: on an otherwise idle shard every wake-up is a
                // context switch (measured at -P 1: 250 µs steps cost more than they saved).
                if shard2.journal.borrow().offset.saturating_sub(pos) < COALESCE_BYTES
                    && !g3.shutting_down.load(Ordering::Relaxed)
                {
                    glommio::timer::sleep(COALESCE).await;
                }
            }
            if woken.is_none() {
                pinged = Instant::now();
                let ping = super::ping_frame(shard2.journal.borrow().offset);
                if let Err(e) = send(&mut wr, &ping, &stuck).await {
                    tracing::warn!(shard = shard2.id, replica = %key3.0, "{e}");
                    return;
                }
                if wr.flush().await.is_err() {
                    return;
                }
                if let Some(e) = stuck() {
                    tracing::warn!(shard = shard2.id, replica = %key3.0, "{e}");
                    return;
                }
            }
        }
    };
    futures::future::select(Box::pin(acks), Box::pin(send)).await;
    lock(&g.repl.peers).remove(&key);
    tracing::info!(shard = shard.id, replica = %key.0, "replica stream closed");
}
