//! Recovery: a shard reads its snapshot, then replays its AOF segments in order.
//!
//! Replay runs the commands through the same handlers as clients, with expiry suspended
//! (`now = 0`, as Redis does while loading): a key that expired between two logged writes
//! still takes both, and keys found expired once loading ends are removed then. A snapshot
//! skips entries already expired when it was taken.
//!
//! A torn last record (a crash during a write) is cut off with a warning when
//! `persistence.aof_load_truncated` is true (the default); a bad record with good data after
//! it stops start-up, naming the file and offset (`synap-admin check-aof --fix FILE` repairs).

use super::aof::{classify, Tail};
use super::layout::{Header, Manifest, AOF_MAGIC, HEADER, SNAP_MAGIC};
use super::snapshot::TAG_END;
use crate::commands::{self, Exec, Global};
use crate::protocol::Reply;
use crate::shard::{Shard, ShardCtx};
use glommio::io::BufferedFile;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use synap_shard::codec::{self, Limits};

/// What loading one old shard's files gave.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Entries read from the snapshot.
    pub snapshot_entries: u64,
    /// AOF records replayed.
    pub records: u64,
    /// The last AOF segment and the end of its last good record (to append after).
    pub append_at: Option<(PathBuf, u64)>,
}

/// Reads a whole file with io_uring, in 16 MB reads, counting progress.
pub async fn read_file(shard: &Shard, path: &Path) -> Result<Vec<u8>, String> {
    let err = |e: glommio::GlommioError<()>| format!("{}: {e}", path.display());
    let f = BufferedFile::open(path).await.map_err(err)?;
    let len = f.file_size().await.map_err(err)? as usize;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let want = (len - out.len()).min(16 << 20);
        let chunk = f.read_at(out.len() as u64, want).await.map_err(err)?;
        if chunk.is_empty() {
            break;
        }
        out.extend_from_slice(&chunk);
    }
    let _ = f.close().await;
    let _ = shard;
    Ok(out)
}

/// The encoding limits decoded values get on this shard.
pub fn limits(shard: &Shard) -> Limits {
    Limits {
        hash: shard.hash_limits.get(),
        set: shard.set_limits.get(),
        zset: shard.zset_limits.get(),
        list: shard.list_limits.get(),
    }
}

/// Applies one record (an entry or a command) to the shard.
pub fn apply(shard: &Shard, payload: &[u8]) -> Result<(), String> {
    match payload.first() {
        Some(&codec::TAG_COMMAND) => {
            let mut args: Vec<&[u8]> = Vec::with_capacity(4);
            codec::decode_command(payload, &mut args).map_err(|e| e.to_string())?;
            replay_command(shard, &args)
        }
        Some(&crate::repl::record::TAG_REPL) => crate::repl::record::apply(shard, payload),
        Some(_) => {
            let e = codec::decode_entry(payload, limits(shard)).map_err(|e| e.to_string())?;
            shard
                .ks
                .borrow_mut()
                .insert(&e.key, e.value, e.expire_at, 0);
            Ok(())
        }
        None => Err("empty record".into()),
    }
}

/// Runs a logged command with expiry suspended.
pub fn replay_command(shard: &Shard, argv: &[&[u8]]) -> Result<(), String> {
    let Some((_, spec)) = commands::lookup(argv[0]) else {
        return Err(format!(
            "unknown command '{}'",
            String::from_utf8_lossy(argv[0])
        ));
    };
    match spec.exec {
        Exec::Shard(f, _) => {
            let mut out = Vec::new();
            let mut r = Reply::new(&mut out, false);
            let mut ks = shard.ks.borrow_mut();
            let mut ctx = ShardCtx::new(&mut ks, 0, shard);
            f(&mut ctx, argv, &mut r);
            Ok(())
        }
        Exec::Global(Global::Flush) => {
            shard.ks.borrow_mut().clear();
            Ok(())
        }
        _ => Err(format!(
            "command '{}' cannot be replayed",
            String::from_utf8_lossy(argv[0])
        )),
    }
}

/// Loads old shard `old_id`'s files from `dir` into this shard.
pub async fn load(
    shard: &Rc<Shard>,
    dir: &Path,
    old_id: usize,
    truncate_ok: bool,
) -> Result<Loaded, String> {
    let m = Manifest::read(dir, old_id)?;
    let mut loaded = Loaded::default();
    let total: u64 = m
        .snapshot
        .iter()
        .chain(m.aofs.iter())
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|md| md.len())
        .sum();
    shard.global.load.total.fetch_add(total, Ordering::Relaxed);
    if let Some(snap) = &m.snapshot {
        let path = dir.join(snap);
        loaded.snapshot_entries = load_snapshot(shard, &path).await?;
    }
    for (i, name) in m.aofs.iter().enumerate() {
        let path = dir.join(name);
        let buf = read_file(shard, &path).await?;
        let here = |at: u64, why: &str| format!("{} at offset {at}: {why}", path.display());
        Header::decode(&buf, AOF_MAGIC).map_err(|e| here(0, &e))?;
        let mut pos = HEADER;
        let mut since_yield = 0usize;
        let end = loop {
            if pos == buf.len() {
                break pos as u64;
            }
            match codec::read_frame(&buf, pos) {
                Ok((r, next)) => {
                    apply(shard, &buf[r]).map_err(|e| here(pos as u64, &e))?;
                    loaded.records += 1;
                    shard
                        .global
                        .load
                        .done
                        .fetch_add((next - pos) as u64, Ordering::Relaxed);
                    pos = next;
                    since_yield += 1;
                    if since_yield >= 4096 {
                        since_yield = 0;
                        glommio::executor().yield_if_needed().await;
                    }
                }
                Err(e) => match classify(&buf, pos, e) {
                    Tail::Torn { at } if truncate_ok => {
                        tracing::warn!(
                            "{}: the last record is incomplete (a write cut short by a crash): \
                             loading up to offset {at} of {} and truncating the rest",
                            path.display(),
                            buf.len()
                        );
                        break at;
                    }
                    Tail::Torn { at } => {
                        return Err(here(
                            at,
                            "incomplete last record; set persistence.aof_load_truncated: true \
                             to load up to it, or run synap-admin check-aof --fix",
                        ))
                    }
                    Tail::Corrupt { at } => {
                        return Err(here(
                            at,
                            "bad record (checksum or length) with data after it; \
                             refusing to start. Repair with: synap-admin check-aof --fix FILE",
                        ));
                    }
                    Tail::Clean => break pos as u64,
                },
            }
        };
        if i + 1 == m.aofs.len() {
            loaded.append_at = Some((path, end));
        } else if end < buf.len() as u64 {
            // An older segment with a torn tail (the crash came before the switch): cut it
            // too, so the next load agrees.
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_len(end).and_then(|_| f.sync_all()));
        }
    }
    Ok(loaded)
}

async fn load_snapshot(shard: &Rc<Shard>, path: &Path) -> Result<u64, String> {
    let buf = read_file(shard, path).await?;
    let here = |at: usize, why: &str| format!("{} at offset {at}: {why}", path.display());
    Header::decode(&buf, SNAP_MAGIC).map_err(|e| here(0, &e))?;
    let lim = limits(shard);
    let now = synap_shard::time::now_ms();
    let mut pos = HEADER;
    let mut n = 0u64;
    loop {
        let (r, next) = codec::read_frame(&buf, pos).map_err(|e| {
            here(
                pos,
                match e {
                    codec::FrameError::Torn => "snapshot ends early (incomplete file)",
                    codec::FrameError::Corrupt => "bad record (checksum or length)",
                },
            )
        })?;
        let payload = &buf[r];
        if payload.first() == Some(&crate::repl::record::TAG_REPL) {
            // A replica's position at the snapshot's instant.
            crate::repl::record::apply(shard, payload).map_err(|e| here(pos, &e))?;
            pos = next;
            continue;
        }
        if payload.first() == Some(&TAG_END) {
            let mut rd = codec::Reader::new(&payload[1..]);
            let count = rd.varint().map_err(|e| here(pos, &e.to_string()))?;
            if count != n {
                return Err(here(
                    pos,
                    &format!("end record counts {count} entries, read {n}"),
                ));
            }
            shard
                .global
                .load
                .done
                .fetch_add((next - HEADER) as u64, Ordering::Relaxed);
            return Ok(n);
        }
        let e = codec::decode_entry(payload, lim).map_err(|e| here(pos, &e.to_string()))?;
        n += 1;
        if e.expire_at == 0 || e.expire_at > now {
            shard
                .ks
                .borrow_mut()
                .insert(&e.key, e.value, e.expire_at, 0);
        }
        pos = next;
        if n.is_multiple_of(4096) {
            glommio::executor().yield_if_needed().await;
        }
    }
}
