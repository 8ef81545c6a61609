//! Saving a shard's snapshot without fork: the keyspace marks the instant (see
//! [`synap_shard::snapshot`]), this task writes the entries a slice at a time between requests,
//! and a write that reaches an entry first writes its old value. With the AOF on, the same
//! instant starts a new AOF segment, so snapshot + new segment = the dataset (an AOF rewrite).

use super::aof::Segment;
use super::layout::{self, Header, Manifest, SNAP_MAGIC, VERSION};
use crate::shard::Shard;
use glommio::io::BufferedFile;
use std::rc::Rc;
use std::time::Instant;
use synap_shard::codec;

/// Payload tag of the record that ends a snapshot: `0xff, varint entries`.
pub const TAG_END: u8 = 0xff;

/// Entries walked per slice before giving the shard back to requests.
const SLICE_ENTRIES: usize = 2048;
/// Bytes serialized per slice before writing them out.
const SLICE_BYTES: usize = 1 << 20;

/// Clears the shard's "saving" flag however the save ends.
struct Saving<'a>(&'a Shard);

impl Drop for Saving<'_> {
    fn drop(&mut self) {
        self.0.saving.set(false);
        let mut ks = self.0.ks.borrow_mut();
        if ks.capturing() {
            ks.finish_capture();
        }
    }
}

/// Writes a snapshot of this shard (and, with the AOF on, starts a new AOF segment). Returns
/// the number of entries written.
pub async fn save(shard: &Rc<Shard>) -> Result<u64, String> {
    if shard.saving.get() {
        return Err("a save is already in progress".into());
    }
    let Some(dir) = shard.persist_dir.borrow().clone() else {
        return Err("persistence has no directory (still loading?)".into());
    };
    shard.saving.set(true);
    let _saving = Saving(shard);
    let started = Instant::now();
    let id = shard.id;
    let old = Manifest::read(&dir, id)?;
    let gen = old.generation() + 1;
    let aof_on = shard.journal.borrow().enabled;
    let new_seg = if aof_on {
        let p = dir.join(layout::aof_name(id, gen));
        let seg = Segment::create(&p, id, shard.global.nshards).await?;
        let mut during = old.clone();
        during.aofs.push(layout::aof_name(id, gen));
        during.write(&dir, id)?;
        Some(seg)
    } else {
        None
    };
    // The instant: the capture starts and, with the AOF on, later records go to the new
    // segment. Nothing else runs between these lines (one thread, no await).
    let (changes_at_start, positions) = {
        let mut ks = shard.ks.borrow_mut();
        ks.start_capture(synap_shard::time::now_ms());
        if let Some(seg) = new_seg {
            let mut j = shard.journal.borrow_mut();
            let end = j.end();
            j.breaks.push_back((end, seg));
        }
        (ks.changes(), shard.repl_pos.borrow().records())
    };
    let name = layout::snapshot_name(id, gen);
    let tmp = dir.join(format!("{name}.tmp"));
    let file = BufferedFile::create(&tmp)
        .await
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    let res = write_entries(shard, &file, &tmp, positions).await;
    let closed = file.close().await;
    let entries = match (res, closed) {
        (Ok(n), Ok(())) => n,
        (Err(e), _) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        (_, Err(e)) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("{}: {e}", tmp.display()));
        }
    };
    let path = dir.join(&name);
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    layout::sync_dir(&dir)?;
    let new = Manifest {
        snapshot: Some(name),
        aofs: if aof_on {
            vec![layout::aof_name(id, gen)]
        } else {
            Vec::new()
        },
    };
    new.write(&dir, id)?;
    for f in old.snapshot.iter().chain(old.aofs.iter()) {
        if !new.aofs.contains(f) && new.snapshot.as_ref() != Some(f) {
            let _ = std::fs::remove_file(dir.join(f));
        }
    }
    let secs = started.elapsed();
    shard.changes_at_save.set(changes_at_start);
    let now = synap_shard::time::now_ms();
    {
        let mut st = shard.stats.borrow_mut();
        st.saves += 1;
        st.last_save_ms = now;
        st.last_save_duration = secs.as_secs_f64();
        st.last_save_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    }
    shard
        .global
        .last_save_unix
        .fetch_max(now / 1000, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(
        shard = id,
        entries,
        ms = secs.as_millis() as u64,
        "snapshot saved to {}",
        path.display()
    );
    Ok(entries)
}

async fn write_entries(
    shard: &Rc<Shard>,
    file: &BufferedFile,
    path: &std::path::Path,
    positions: Vec<Vec<u8>>,
) -> Result<u64, String> {
    let io = |e: glommio::GlommioError<()>| format!("{}: {e}", path.display());
    let header = Header {
        version: VERSION,
        shard: shard.id as u16,
        shards: shard.global.nshards as u16,
        created: synap_shard::time::now_ms(),
    }
    .encode(SNAP_MAGIC);
    let mut pos = 0u64;
    pos += file.write_at(header, pos).await.map_err(io)? as u64;
    if !positions.is_empty() {
        // A replica's stream positions as of the capture instant (read before the entries).
        let mut out = Vec::new();
        for p in &positions {
            codec::frame(&mut out, |o| o.extend_from_slice(p));
        }
        pos = write_all(file, out, pos).await.map_err(io)?;
    }
    loop {
        let (done, out) = {
            let mut ks = shard.ks.borrow_mut();
            let done = ks.capture_step(SLICE_ENTRIES, SLICE_BYTES);
            (done, ks.take_capture_output())
        };
        if !out.is_empty() {
            pos = write_all(file, out, pos).await.map_err(io)?;
        }
        if done {
            break;
        }
        glommio::executor().yield_if_needed().await;
    }
    let (entries, tail) = {
        let mut ks = shard.ks.borrow_mut();
        let mut tail = ks.take_capture_output();
        let c = ks.finish_capture();
        let entries = c.map_or(0, |c| c.entries);
        codec::frame(&mut tail, |o| {
            o.push(TAG_END);
            codec::put_varint(o, entries);
        });
        (entries, tail)
    };
    write_all(file, tail, pos).await.map_err(io)?;
    file.fdatasync().await.map_err(io)?;
    Ok(entries)
}

async fn write_all(
    file: &BufferedFile,
    mut data: Vec<u8>,
    mut pos: u64,
) -> Result<u64, glommio::GlommioError<()>> {
    while !data.is_empty() {
        let n = file.write_at(data.clone(), pos).await?;
        if n == 0 {
            return Err(glommio::GlommioError::IoError(std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                "write returned 0",
            )));
        }
        pos += n as u64;
        data.drain(..n);
    }
    Ok(pos)
}
