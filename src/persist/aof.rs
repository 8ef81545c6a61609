//! The AOF writer of one shard: takes the journal's records and appends them to the current
//! segment with io_uring (glommio's buffered file), under the fsync policy:
//! - `always`: woken by the first record after idle; writes everything journaled, one
//!   fdatasync, then releases the replies that waited (group commit: whatever arrives during
//!   the write and the fdatasync goes in the next round);
//! - `everysec`: writes every 10 ms (or when 1 MB is waiting), fdatasync once a second;
//! - `no`: writes every 10 ms, never fsyncs (the kernel decides).
//!
//! A failed write or fsync is retried every second; meanwhile the shard refuses writes with
//! `-MISCONF` (see [`crate::shard::Shard::exec_local`]), as Redis does.

use super::layout::{Header, AOF_MAGIC, VERSION};
use crate::config::Fsync;
use crate::shard::Shard;
use glommio::channels::local_channel::LocalReceiver;
use glommio::io::{BufferedFile, OpenOptions};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use synap_shard::codec::{self, FrameError};

/// An AOF segment open for appending.
pub struct Segment {
    file: Rc<BufferedFile>,
    /// Zero-fill ahead of the records (`always` only: it makes each fdatasync cheaper, and
    /// the other policies must not wait for the zero-fill's own sync).
    pub preallocate: bool,
    /// Bytes of records in the file (header included); zeros follow up to `allocated`.
    pub size: u64,
    /// File length: records are written into space zero-filled ahead of them, so an
    /// fdatasync after an append does not also have to commit a new file size (measured here:
    /// 250 µs per append + fdatasync, 155 µs when overwriting preallocated zeros).
    allocated: u64,
    /// Its path.
    pub path: PathBuf,
}

/// Zero-filled space added ahead of the records at a time.
const PREALLOCATE: u64 = 1 << 20;

impl Segment {
    /// Creates a new segment with its header, durably (file and directory entry).
    pub async fn create(path: &Path, shard: usize, shards: usize) -> Result<Segment, String> {
        let file = BufferedFile::create(path)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let header = Header {
            version: VERSION,
            shard: shard as u16,
            shards: shards as u16,
            created: synap_shard::time::now_ms(),
        }
        .encode(AOF_MAGIC);
        let mut seg = Segment {
            file: Rc::new(file),
            preallocate: false,
            size: 0,
            allocated: 0,
            path: path.to_path_buf(),
        };
        seg.append(&header, &mut 0).await?;
        seg.sync().await?;
        if let Some(dir) = path.parent() {
            super::layout::sync_dir(dir)?;
        }
        Ok(seg)
    }

    /// Opens an existing segment to append at `size` (the end of its last good record; a torn
    /// tail beyond it is cut off).
    pub async fn open_at(path: &Path, size: u64) -> Result<Segment, String> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .buffered_open(path)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let len = file
            .file_size()
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if len > size {
            file.truncate(size)
                .await
                .map_err(|e| format!("{}: truncating: {e}", path.display()))?;
            file.fdatasync()
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(Segment {
            file: Rc::new(file),
            preallocate: false,
            size,
            allocated: size,
            path: path.to_path_buf(),
        })
    }

    /// Appends `data[*done..]`, advancing `done` past what the kernel accepted (so a failed
    /// append can be retried from where it stopped).
    pub async fn append(&mut self, data: &[u8], done: &mut usize) -> Result<(), String> {
        let need = self.size + (data.len() - *done) as u64;
        if self.preallocate && need > self.allocated {
            self.preallocate(need).await?;
        }
        while *done < data.len() {
            let n = if self.preallocate {
                // `always`: the segment is zero-filled ahead, so this write only copies into
                // pages already allocated and the fdatasync that follows will flush them right
                // away (no dirty-page throttling). Written here, synchronously: through the ring
                // a buffered ext4 write is punted to an io-wq worker, a thread hop per round.
                use std::os::fd::AsRawFd;
                let rest = &data[*done..];
                // SAFETY: `rest` is a live slice; the descriptor is open for the segment's life.
                let n = unsafe {
                    libc::pwrite(
                        self.file.as_raw_fd(),
                        rest.as_ptr().cast(),
                        rest.len(),
                        self.size as libc::off_t,
                    )
                };
                if n < 0 {
                    let e = std::io::Error::last_os_error();
                    if e.kind() == std::io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(format!("{}: write: {e}", self.path.display()));
                }
                n as usize
            } else {
                self.file
                    .write_at(data[*done..].to_vec(), self.size)
                    .await
                    .map_err(|e| format!("{}: write: {e}", self.path.display()))?
            };
            if n == 0 {
                return Err(format!(
                    "{}: write returned 0 (disk full?)",
                    self.path.display()
                ));
            }
            self.size += n as u64;
            *done += n;
        }
        Ok(())
    }

    /// Zero-fills the file up to past `need` (in [`PREALLOCATE`] steps) and makes the new
    /// length durable, so later fdatasyncs only flush data.
    async fn preallocate(&mut self, need: u64) -> Result<(), String> {
        let target = need.div_ceil(PREALLOCATE) * PREALLOCATE;
        let mut pos = self.allocated.max(self.size);
        while pos < target {
            let n = self
                .file
                .write_at(vec![0u8; (target - pos) as usize], pos)
                .await
                .map_err(|e| format!("{}: preallocating: {e}", self.path.display()))?;
            if n == 0 {
                return Err(format!(
                    "{}: preallocating: disk full?",
                    self.path.display()
                ));
            }
            pos += n as u64;
        }
        self.allocated = target;
        self.sync().await
    }

    /// fdatasync.
    pub async fn sync(&self) -> Result<(), String> {
        self.file
            .fdatasync()
            .await
            .map_err(|e| format!("{}: fdatasync: {e}", self.path.display()))
    }

    /// Starts an fdatasync in the background (everysec): writes go on while it runs.
    /// Returns false when the previous one has not finished yet.
    pub fn sync_in_background(&self, shard: &Rc<Shard>, busy: &Rc<std::cell::Cell<bool>>) -> bool {
        if busy.get() {
            return false;
        }
        busy.set(true);
        let (file, shard, busy, path) = (
            self.file.clone(),
            shard.clone(),
            busy.clone(),
            self.path.clone(),
        );
        glommio::spawn_local(async move {
            let t = Instant::now();
            match file.fdatasync().await {
                Ok(()) => shard.stats.borrow_mut().record_fsync(t.elapsed()),
                Err(e) => tracing::error!(shard = shard.id, "{}: fdatasync: {e}", path.display()),
            }
            busy.set(false);
        })
        .detach();
        true
    }

    /// Closes the file (once no background fdatasync holds it).
    pub async fn close(self) {
        if let Ok(f) = Rc::try_unwrap(self.file) {
            let _ = f.close().await;
        }
    }
}

/// The group-commit window of `always`: the first write after idle wakes the writer, but the
/// clients whose replies the previous fdatasync released send their next writes within tens
/// of microseconds; syncing at once would sync that first write alone and make the rest wait a
/// whole round. So wait while writes keep arriving, 50 µs at a time, at most 500 µs.
async fn gather(shard: &Shard) {
    let mut seen = shard.journal.borrow().buf.len();
    for _ in 0..10 {
        glommio::timer::sleep(Duration::from_micros(50)).await;
        let now = shard.journal.borrow().buf.len();
        if now == seen {
            return;
        }
        seen = now;
    }
}

/// A batch of records being written: bytes, how many are written, the journal offset after
/// them, and the segment to switch to once they are durable.
struct Pending {
    data: Vec<u8>,
    done: usize,
    upto: u64,
    switch: Option<Segment>,
}

/// Runs the writer until shutdown, then writes and syncs what is left.
pub async fn writer(shard: Rc<Shard>, mut seg: Segment, kick: LocalReceiver<()>, policy: Fsync) {
    let mut last_sync = Instant::now();
    let mut unsynced = false;
    let mut pending: Option<Pending> = None;
    let syncing = Rc::new(std::cell::Cell::new(false));
    seg.preallocate = policy == Fsync::Always;
    loop {
        let stopping = shard.global.shutting_down.load(Ordering::Relaxed);
        if pending.is_none() {
            let waiting = shard.journal.borrow().buf.len();
            if waiting == 0 && !stopping {
                match policy {
                    Fsync::Always => {
                        let tick = glommio::timer::sleep(Duration::from_millis(100));
                        futures::future::select(Box::pin(kick.recv()), Box::pin(tick)).await;
                        gather(&shard).await;
                    }
                    _ => glommio::timer::sleep(Duration::from_millis(10)).await,
                }
            } else if policy != Fsync::Always && waiting < (1 << 20) && !stopping {
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
            let (data, upto, switch) = shard.journal.borrow_mut().take();
            pending = Some(Pending {
                data,
                done: 0,
                upto,
                switch,
            });
        }
        let Some(mut p) = pending.take() else {
            continue;
        };
        let before = p.done;
        let mut res = seg.append(&p.data, &mut p.done).await;
        let written = (p.done - before) as u64;
        if written > 0 {
            unsynced = true;
            shard.stats.borrow_mut().aof_bytes += written;
        }
        // everysec: the once-a-second fdatasync runs beside the writes (as Redis's background
        // fsync thread does), so a slow disk delays durability, not the page-cache writes
        // that survive a crash of the process.
        if res.is_ok()
            && unsynced
            && policy == Fsync::Everysec
            && p.switch.is_none()
            && !stopping
            && last_sync.elapsed() >= Duration::from_secs(1)
            && seg.sync_in_background(&shard, &syncing)
        {
            last_sync = Instant::now();
            unsynced = false;
        }
        let sync_now = unsynced && (policy == Fsync::Always || p.switch.is_some() || stopping);
        if res.is_ok() && sync_now {
            let t = Instant::now();
            res = seg.sync().await;
            if res.is_ok() {
                shard.stats.borrow_mut().record_fsync(t.elapsed());
                last_sync = Instant::now();
                unsynced = false;
            }
        }
        if let Err(e) = res {
            if shard.persist_error.borrow().is_none() {
                tracing::error!(
                    shard = shard.id,
                    "AOF write failed: {e}; refusing writes until it succeeds"
                );
            }
            *shard.persist_error.borrow_mut() = Some(e);
            pending = Some(p);
            if stopping {
                break;
            }
            glommio::timer::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if shard.persist_error.borrow().is_some() {
            tracing::info!(shard = shard.id, "AOF writes succeed again");
            *shard.persist_error.borrow_mut() = None;
        }
        if let Some(mut new) = p.switch {
            new.preallocate = policy == Fsync::Always;
            let old = std::mem::replace(&mut seg, new);
            old.close().await;
            shard.stats.borrow_mut().aof_rewrites += 1;
        }
        shard.aof_size.set(seg.size);
        shard.journal.borrow_mut().set_durable(p.upto);
        if stopping && shard.journal.borrow().buf.is_empty() && !unsynced {
            break;
        }
    }
    seg.close().await;
    shard.writer_done.set(true);
}

/// What reading a segment found after its last good record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// The file ends cleanly after a record (possibly followed by preallocated zeros).
    Clean,
    /// The file ends inside a record (or in zero bytes, or in a last record whose checksum
    /// fails): a write cut short by a crash. Cut off at load when `aof_load_truncated`.
    Torn { at: u64 },
    /// A bad record with good data after it: refuse (`synap-admin check-aof --fix` repairs).
    Corrupt { at: u64 },
}

/// Classifies a frame error at `pos` of `buf` (the whole file).
pub fn classify(buf: &[u8], pos: usize, err: FrameError) -> Tail {
    let at = pos as u64;
    if buf[pos..].iter().all(|&b| b == 0) {
        // Preallocated space (or a size extended by a crash before its data landed: never
        // acknowledged).
        return Tail::Clean;
    }
    match err {
        FrameError::Torn => Tail::Torn { at },
        FrameError::Corrupt => {
            // A last record whose length reaches exactly the end: its bytes were not all
            // written before the crash.
            if let Some(h) = buf.get(pos..pos + 4) {
                let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
                if pos + codec::FRAME_HEADER + len == buf.len() {
                    return Tail::Torn { at };
                }
            }
            Tail::Corrupt { at }
        }
    }
}

/// What a whole segment holds: the header, the good records, and what follows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Records that read correctly, in order.
    pub records: u64,
    /// Offset after the last good record.
    pub good_end: u64,
    /// What follows it.
    pub tail: Tail,
}

/// Reads a segment's frames without applying them (`synap-admin check-aof`, tests).
pub fn scan(buf: &[u8]) -> Result<Scan, String> {
    Header::decode(buf, AOF_MAGIC)?;
    let mut pos = super::layout::HEADER;
    let mut records = 0;
    loop {
        if pos == buf.len() {
            return Ok(Scan {
                records,
                good_end: pos as u64,
                tail: Tail::Clean,
            });
        }
        match codec::read_frame(buf, pos) {
            Ok((r, next)) => {
                let payload = &buf[r];
                let valid = match payload.first() {
                    Some(&codec::TAG_COMMAND) => {
                        codec::decode_command(payload, &mut Vec::new()).is_ok()
                    }
                    Some(&crate::repl::record::TAG_REPL) => {
                        crate::repl::record::decode(payload).is_ok()
                    }
                    Some(_) => codec::decode_entry(payload, Default::default()).is_ok(),
                    None => false,
                };
                if !valid {
                    return Ok(Scan {
                        records,
                        good_end: pos as u64,
                        tail: Tail::Corrupt { at: pos as u64 },
                    });
                }
                records += 1;
                pos = next;
            }
            Err(e) => {
                return Ok(Scan {
                    records,
                    good_end: pos as u64,
                    tail: classify(buf, pos, e),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut buf = Header {
            version: VERSION,
            shard: 0,
            shards: 1,
            created: 1,
        }
        .encode(AOF_MAGIC);
        for i in 0..6 {
            codec::frame(&mut buf, |o| {
                codec::encode_command(o, &[&b"SET"[..], format!("k{i}").as_bytes(), b"v"])
            });
        }
        buf
    }

    #[test]
    fn every_cut_is_a_clean_end_or_a_torn_tail() {
        let buf = sample();
        let full = scan(&buf).expect("scan");
        assert_eq!(full.tail, Tail::Clean);
        assert_eq!(full.records, 6);
        for cut in super::super::layout::HEADER..buf.len() {
            let s = scan(&buf[..cut]).expect("scan");
            match s.tail {
                Tail::Clean => assert_eq!(s.good_end as usize, cut),
                Tail::Torn { at } => assert_eq!(at, s.good_end),
                Tail::Corrupt { .. } => panic!("cut at {cut} read as corrupt"),
            }
            assert!(s.records <= 6);
        }
        for cut in 0..super::super::layout::HEADER {
            assert!(scan(&buf[..cut]).is_err(), "header cut at {cut}");
        }
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let buf = sample();
        let last_start = {
            let mut pos = super::super::layout::HEADER;
            let mut last = pos;
            while pos < buf.len() {
                last = pos;
                pos = codec::read_frame(&buf, pos).expect("frame").1;
            }
            last
        };
        for i in 0..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x5a;
            match scan(&bad) {
                Err(_) => assert!(i < super::super::layout::HEADER),
                Ok(s) => {
                    assert!(s.records < 6, "flip at {i} went unnoticed");
                    if i < last_start {
                        assert!(
                            matches!(s.tail, Tail::Corrupt { .. }) || s.records < 5,
                            "flip at {i}: {s:?}"
                        );
                    }
                }
            }
        }
    }
}
