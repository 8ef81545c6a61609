//! The replica side: one stream task per master shard (on replica shard `i % shards`), each
//! reconnecting with backoff, resuming from its offset (partial resync) or taking a full sync.
//!
//! Records are applied with [`crate::persist::load::apply`] (the normal handlers, expiry
//! suspended) on the replica shard that owns the key, so the shard counts may differ: DEL,
//! UNLINK, MSET and MSETNX spanning replica shards are split per key; any other command
//! spanning them runs through [`super::across`]. A FLUSHALL from master shard `i`, and the
//! start of a full sync of shard `i`, remove the keys master shard `i` owns (by the master's
//! slot map).
//!
//! Each read's records go to their replica shards as one batch per shard with the stream
//! offset after them ([`super::record`]): applied and journaled together, so the stream
//! resumes after a restart from the smallest offset the shards applied, each skipping what it
//! had. With the master's shard count, replica shard `i` also keeps master shard `i`'s stream
//! bytes in its backlog at the master's offsets, so once promoted it can continue the streams
//! of the old master's other replicas (PSYNC2).

use super::master::read_line;
use super::route::{entry_key, resume_point, route_command, Follow, Head, Router};
use super::{across, lock, record, with_timeout, Link, TAG_END, TAG_PING};
use crate::shard::Shard;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::net::TcpStream;
use rustls::pki_types::ServerName;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use synap_shard::codec;

fn current(shard: &Shard, gen: u64) -> bool {
    let g = &shard.global;
    g.repl.generation.load(Ordering::SeqCst) == gen
        && g.repl.is_replica()
        && !g.shutting_down.load(Ordering::Relaxed)
}

/// The key sent to the master (`replication.api_key` / `SYNAP_REPLICATION_KEY`), `-` for none.
fn api_key(shard: &Shard) -> String {
    match &shard.global.config.replication.api_key {
        Some(k) => k.0.clone(),
        None => "-".into(),
    }
}

/// A connection to the master: plain TCP or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}

/// The TLS client configuration for `replication.tls` (None when off).
fn tls_config(shard: &Shard) -> Result<Option<Arc<rustls::ClientConfig>>, String> {
    let c = &shard.global.config;
    let r = &c.replication;
    if !r.tls {
        return Ok(None);
    }
    let ca = r.tls_ca_path.as_deref().or(c.server.tls.ca_path.as_deref());
    let identity = match (&r.tls_cert_path, &r.tls_key_path) {
        (Some(cert), Some(key)) => Some((cert.as_path(), key.as_path())),
        _ => None,
    };
    crate::tls::client_config(ca, identity, r.tls_insecure).map(Some)
}

async fn connect(shard: &Shard, host: &str, port: u16) -> Result<Box<dyn Io>, String> {
    let addr = format!("{host}:{port}");
    let tcp = match with_timeout(Duration::from_secs(3), TcpStream::connect(addr.as_str())).await {
        Some(Ok(s)) => s,
        Some(Err(e)) => return Err(format!("{addr}: {e}")),
        None => return Err(format!("{addr}: connect timed out")),
    };
    let _ = tcp.set_nodelay(true);
    let Some(config) = tls_config(shard)? else {
        return Ok(Box::new(tcp));
    };
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host}: not a TLS server name: {e}"))?;
    let tls = futures_rustls::TlsConnector::from(config).connect(name, tcp);
    match with_timeout(Duration::from_secs(10), tls).await {
        Some(Ok(s)) => Ok(Box::new(s)),
        Some(Err(e)) => Err(format!("{addr}: TLS: {e}")),
        None => Err(format!("{addr}: TLS handshake timed out")),
    }
}

async fn send_line(s: &mut Box<dyn Io>, line: &str) -> Result<(), String> {
    s.write_all(line.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    s.flush().await.map_err(|e| e.to_string())
}

/// Follows the master of generation `gen`: learns its shard count, then starts one stream
/// task per master shard. Runs on any shard.
pub async fn follow(shard: Rc<Shard>, gen: u64) {
    let g = shard.global.clone();
    let mut backoff = Duration::from_millis(100);
    while current(&shard, gen) {
        let Some((host, port)) = lock(&g.repl.master).clone() else {
            return;
        };
        let res = async {
            let mut s = connect(&shard, &host, port).await?;
            send_line(&mut s, &format!("INFO {}\n", api_key(&shard))).await?;
            let line = with_timeout(Duration::from_secs(5), read_line(&mut s))
                .await
                .ok_or("no answer")??;
            let rest = line.strip_prefix('+').ok_or(line.clone())?;
            let mut w = rest.split(' ');
            let _replid = w.next().ok_or("bad answer")?;
            let n: usize = w.next().and_then(|x| x.parse().ok()).ok_or("bad answer")?;
            Ok::<usize, String>(n)
        }
        .await;
        match res {
            Ok(m) if m > 0 && m <= 1024 => {
                {
                    let mut links = lock(&g.repl.links);
                    if links.len() != m {
                        *links = vec![Link::default(); m];
                    }
                }
                let n = g.nshards;
                for i in 0..m {
                    shard
                        .run_on(i % n, move |s| {
                            glommio::spawn_local(stream(s.clone(), i, m, gen)).detach();
                        })
                        .await;
                }
                tracing::info!(master = %format!("{host}:{port}"), shards = m, "following the master");
                return;
            }
            Ok(m) => tracing::warn!("master reports {m} shards: not followed"),
            Err(e) => tracing::warn!("cannot reach the master {host}:{port}: {e}"),
        }
        glommio::timer::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Follows master shard `i` (of `m`) until the generation changes, reconnecting with backoff.
async fn stream(shard: Rc<Shard>, i: usize, m: usize, gen: u64) {
    let g = shard.global.clone();
    let mut backoff = Duration::from_millis(50);
    while current(&shard, gen) {
        match sync_once(&shard, i, m, gen).await {
            Ok(()) => backoff = Duration::from_millis(50),
            Err(e) => tracing::info!(master_shard = i, "replication stream: {e}"),
        }
        if !current(&shard, gen) {
            return;
        }
        if let Some(l) = lock(&g.repl.links).get_mut(i) {
            l.up = false;
        }
        glommio::timer::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// One connection to master shard `i`: handshake, (full sync,) stream until an error.
async fn sync_once(shard: &Rc<Shard>, i: usize, m: usize, gen: u64) -> Result<(), String> {
    let g = shard.global.clone();
    let Some((host, port)) = lock(&g.repl.master).clone() else {
        return Ok(());
    };
    let n = g.nshards;
    let resume = resume_point(shard, i, m).await;
    let (known, offset, reached) = match &resume {
        Some((id, off, floors)) => (
            id.clone(),
            *off,
            floors.iter().copied().max().unwrap_or(*off),
        ),
        None => ("?".to_string(), 0, 0),
    };
    let mut s = connect(shard, &host, port).await?;
    let req = format!(
        "SYNC {i} {} {known} {offset} {} {} {reached}\n",
        g.run_id,
        g.resp_port,
        api_key(shard)
    );
    send_line(&mut s, &req).await?;
    let line = with_timeout(Duration::from_secs(10), read_line(&mut s))
        .await
        .ok_or("no answer to SYNC")??;
    let w: Vec<&str> = line.split(' ').collect();
    let (full, replid, start, ms) = match (w.first().copied(), w.len()) {
        (Some("+FULLRESYNC"), 4) => (true, w[1], w[2], w[3]),
        (Some("+CONTINUE"), 4) => (false, w[1], w[2], w[3]),
        _ => return Err(format!("master refused: {line}")),
    };
    let start: u64 = start.parse().map_err(|_| "bad offset")?;
    if ms.parse::<usize>().ok() != Some(m) {
        return Err("the master's shard count changed; restart the replica".into());
    }
    if !full && start != offset {
        return Err(format!("master continues at {start}, asked {offset}"));
    }
    *lock(&g.repl.master_replid) = replid.to_string();
    let mut f = Follow {
        i,
        m,
        gen,
        floors: match (&resume, full) {
            (Some((_, _, floors)), false) => floors.clone(),
            _ => vec![0; n],
        },
        marked: vec![std::time::Instant::now(); n],
        feeds: m == n,
    };
    let (mut rd, mut wr) = s.split();
    let applied = Rc::new(Cell::new(start));
    let mut in_snapshot = full;
    let mut r = Router::new(n);
    if full {
        // Every replica shard drops master shard `i`'s keys and forgets its offset.
        r.batches
            .iter_mut()
            .for_each(|b| b.push(record::drop_record(i, m)));
        let head = Head {
            flags: record::RESET | record::REPLID,
            replid,
            end: 0,
            all: true,
        };
        f.flush(shard, &mut r, head, None).await;
        if let Some(l) = lock(&g.repl.links).get_mut(i) {
            l.full_syncs += 1;
            l.offset = start;
        }
    } else {
        // A continuation, possibly from a promoted replica of the old master (new replid).
        let head = Head {
            flags: if replid == known { 0 } else { record::REPLID },
            replid,
            end: 0,
            all: replid != known,
        };
        f.flush(shard, &mut r, head, Some((start, Vec::new())))
            .await;
        tracing::info!(
            master_shard = i,
            offset = start,
            "continuing the master's stream (partial resync)"
        );
        if let Some(l) = lock(&g.repl.links).get_mut(i) {
            l.partial_syncs += 1;
            l.offset = start;
            l.up = true;
        }
    }
    let applied2 = applied.clone();
    let sh = shard.clone();
    let acker = async move {
        loop {
            glommio::timer::sleep(Duration::from_secs(1)).await;
            if !current(&sh, gen) {
                return Err("replication stopped".to_string());
            }
            let line = format!("ACK {}\n", applied2.get());
            if wr.write_all(line.as_bytes()).await.is_err() || wr.flush().await.is_err() {
                return Err("master went away".to_string());
            }
        }
    };
    let sh = shard.clone();
    let reader = async move {
        let mut buf: Vec<u8> = Vec::with_capacity(256 * 1024);
        let mut tmp = vec![0u8; 256 * 1024];
        let mut offset = start;
        let mut master_offset = start;
        loop {
            let got = with_timeout(Duration::from_secs(10), rd.read(&mut tmp))
                .await
                .ok_or("master silent for 10 s")?
                .map_err(|e| e.to_string())?;
            if got == 0 {
                return Err("master closed the stream".to_string());
            }
            if !current(&sh, gen) {
                return Err("replication stopped".to_string());
            }
            buf.extend_from_slice(&tmp[..got]);
            let mut pos = 0;
            let chunk_start = offset;
            let mut feed: Vec<u8> = Vec::new();
            let mut synced = false;
            loop {
                let (range, next) = match codec::read_frame(&buf, pos) {
                    Ok(x) => x,
                    Err(codec::FrameError::Torn) => break,
                    Err(codec::FrameError::Corrupt) => return Err("corrupt record".into()),
                };
                let payload = &buf[range];
                let frame = &buf[pos..next];
                let len = (next - pos) as u64;
                pos = next;
                match payload.first().copied() {
                    Some(TAG_PING) => {
                        let mut rd = codec::Reader::new(&payload[1..]);
                        if let Ok(o) = rd.varint() {
                            master_offset = master_offset.max(o);
                        }
                        continue;
                    }
                    Some(TAG_END) if in_snapshot => {
                        let head = Head {
                            flags: 0,
                            replid: "",
                            end: 0,
                            all: false,
                        };
                        f.flush(&sh, &mut r, head, None).await;
                        in_snapshot = false;
                        synced = true;
                        tracing::info!(master_shard = i, offset, "full sync done");
                        continue;
                    }
                    Some(codec::TAG_COMMAND) => {
                        let end = offset + len;
                        if let Some((keys, first)) = route_command(&sh, &f, &mut r, payload, end)? {
                            // What came before it first, then the command across shards
                            // (never with the master's shard count: no stream bytes to keep).
                            let head = Head {
                                flags: record::END,
                                replid: "",
                                end: offset,
                                all: false,
                            };
                            f.flush(&sh, &mut r, head, None).await;
                            if keys
                                .iter()
                                .any(|(t, _)| f.floors.get(*t).is_none_or(|&fl| end > fl))
                            {
                                across::apply(&sh, (i, m), payload.to_vec(), keys, first, end)
                                    .await;
                            }
                        }
                    }
                    Some(_) => {
                        let t = entry_key(&sh, payload)?;
                        r.push(t, payload.to_vec(), offset + len, &f.floors);
                    }
                    None => return Err("empty record".into()),
                }
                if !in_snapshot {
                    offset += len;
                    if f.feeds {
                        feed.extend_from_slice(frame);
                    }
                }
            }
            if offset == chunk_start && !synced && r.batches.iter().all(|b| b.is_empty()) {
                // Heartbeats only: nothing to apply or journal.
            } else if in_snapshot {
                let head = Head {
                    flags: 0,
                    replid: "",
                    end: 0,
                    all: false,
                };
                f.flush(&sh, &mut r, head, None).await;
            } else {
                let head = Head {
                    flags: record::END,
                    replid: "",
                    end: offset,
                    all: synced,
                };
                f.flush(&sh, &mut r, head, Some((chunk_start, feed))).await;
            }
            buf.drain(..pos);
            applied.set(offset);
            if let Some(l) = lock(&sh.global.repl.links).get_mut(i) {
                l.offset = offset;
                l.up |= synced;
                l.master_offset = master_offset.max(offset);
                l.last_io = Some(std::time::Instant::now());
            }
        }
    };
    match futures::future::select(Box::pin(reader), Box::pin(acker)).await {
        futures::future::Either::Left((r, _)) => r,
        futures::future::Either::Right((r, _)) => r,
    }
}
