//! Where a shard's files live and how they are named, and the manifests that say which files
//! make up the current dataset.
//!
//! ```text
//! <data_dir>/CURRENT                 "n4": the layout in use (a directory per shard count)
//! <data_dir>/n4/shard-0.manifest     which snapshot and AOF segments shard 0 loads, in order
//! <data_dir>/n4/shard-0.000003.snap  a snapshot (entries as of its start)
//! <data_dir>/n4/shard-0.000003.aof   the writes after that snapshot started
//! ```
//!
//! A manifest is replaced atomically (write a temporary file, fsync, rename, fsync the
//! directory), so a crash leaves either the old or the new one. An AOF rewrite first lists the
//! new segment after the old ones (writes go to it from the snapshot's start), then, once the
//! new snapshot is durable, lists only the new snapshot and segment, then removes the old files.
//! Changing the shard count writes a new layout directory and switches `CURRENT` last.
//!
//! Small metadata files use `std::fs` (a few hundred bytes, rare); the AOF and snapshots go
//! through glommio's io_uring files.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Magic at the start of an AOF segment.
pub const AOF_MAGIC: &[u8; 8] = b"SYNAPAOF";
/// Magic at the start of a snapshot.
pub const SNAP_MAGIC: &[u8; 8] = b"SYNAPSNP";
/// File format version.
pub const VERSION: u16 = 1;
/// Bytes of a file header: magic, version, shard, shards, reserved, creation time (Unix ms),
/// CRC32C of the 24 bytes before it.
pub const HEADER: usize = 28;

/// A file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format version.
    pub version: u16,
    /// Shard that wrote it.
    pub shard: u16,
    /// Shard count when written.
    pub shards: u16,
    /// Creation time, Unix ms.
    pub created: u64,
}

impl Header {
    /// Encodes with `magic`.
    pub fn encode(&self, magic: &[u8; 8]) -> Vec<u8> {
        let mut h = Vec::with_capacity(HEADER);
        h.extend_from_slice(magic);
        h.extend_from_slice(&self.version.to_le_bytes());
        h.extend_from_slice(&self.shard.to_le_bytes());
        h.extend_from_slice(&self.shards.to_le_bytes());
        h.extend_from_slice(&[0, 0]);
        h.extend_from_slice(&self.created.to_le_bytes());
        let crc = crc32c::crc32c(&h);
        h.extend_from_slice(&crc.to_le_bytes());
        h
    }

    /// Decodes a header that must carry `magic`.
    pub fn decode(buf: &[u8], magic: &[u8; 8]) -> Result<Header, String> {
        if buf.len() < HEADER {
            return Err("file shorter than its header".into());
        }
        if &buf[..8] != magic {
            return Err(format!(
                "not a Synap {} file (bad magic)",
                if magic == AOF_MAGIC {
                    "AOF"
                } else {
                    "snapshot"
                }
            ));
        }
        let crc = u32::from_le_bytes([buf[24], buf[25], buf[26], buf[27]]);
        if crc32c::crc32c(&buf[..24]) != crc {
            return Err("bad header checksum".into());
        }
        let u16_at = |i: usize| u16::from_le_bytes([buf[i], buf[i + 1]]);
        let version = u16_at(8);
        if version != VERSION {
            return Err(format!("unsupported format version {version}"));
        }
        let mut t = [0u8; 8];
        t.copy_from_slice(&buf[16..24]);
        Ok(Header {
            version,
            shard: u16_at(10),
            shards: u16_at(12),
            created: u64::from_le_bytes(t),
        })
    }
}

/// The directory of the layout for `shards` shards.
pub fn layout_dir(data_dir: &Path, shards: usize) -> PathBuf {
    data_dir.join(format!("n{shards}"))
}

/// The shard count of the layout in use, if any.
pub fn current_layout(data_dir: &Path) -> Result<Option<usize>, String> {
    let p = data_dir.join("CURRENT");
    match std::fs::read_to_string(&p) {
        Ok(s) => {
            let n = s
                .trim()
                .strip_prefix('n')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{}: unreadable content {:?}", p.display(), s.trim()))?;
            Ok(Some(n))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", p.display())),
    }
}

/// Makes the layout for `shards` shards the one in use.
pub fn set_current_layout(data_dir: &Path, shards: usize) -> Result<(), String> {
    write_atomic(&data_dir.join("CURRENT"), format!("n{shards}\n").as_bytes())
}

/// A shard's manifest: its snapshot (if any) and AOF segments, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Snapshot file name.
    pub snapshot: Option<String>,
    /// AOF segment file names, in order.
    pub aofs: Vec<String>,
}

impl Manifest {
    /// Path of shard `id`'s manifest in `dir`.
    pub fn path(dir: &Path, id: usize) -> PathBuf {
        dir.join(format!("shard-{id}.manifest"))
    }

    /// Reads a manifest (an empty one when missing).
    pub fn read(dir: &Path, id: usize) -> Result<Manifest, String> {
        let p = Manifest::path(dir, id);
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
            Err(e) => return Err(format!("{}: {e}", p.display())),
        };
        let mut lines = text.lines();
        if lines.next() != Some("synap-manifest 1") {
            return Err(format!("{}: not a Synap manifest", p.display()));
        }
        let mut m = Manifest::default();
        for (n, line) in lines.enumerate() {
            let bad = || format!("{}: line {}: {line:?}", p.display(), n + 2);
            let (kind, name) = line.split_once(' ').ok_or_else(bad)?;
            if name.contains('/') || name.is_empty() {
                return Err(bad());
            }
            match kind {
                "snapshot" if m.snapshot.is_none() => m.snapshot = Some(name.to_string()),
                "aof" => m.aofs.push(name.to_string()),
                _ => return Err(bad()),
            }
        }
        Ok(m)
    }

    /// Replaces shard `id`'s manifest atomically.
    pub fn write(&self, dir: &Path, id: usize) -> Result<(), String> {
        let mut s = String::from("synap-manifest 1\n");
        if let Some(snap) = &self.snapshot {
            s.push_str(&format!("snapshot {snap}\n"));
        }
        for a in &self.aofs {
            s.push_str(&format!("aof {a}\n"));
        }
        write_atomic(&Manifest::path(dir, id), s.as_bytes())
    }

    /// The highest generation any listed file has.
    pub fn generation(&self) -> u64 {
        self.snapshot
            .iter()
            .chain(self.aofs.iter())
            .filter_map(|n| generation_of(n))
            .max()
            .unwrap_or(0)
    }
}

/// The file name of shard `id`'s snapshot of generation `gen`.
pub fn snapshot_name(id: usize, gen: u64) -> String {
    format!("shard-{id}.{gen:06}.snap")
}

/// The file name of shard `id`'s AOF segment of generation `gen`.
pub fn aof_name(id: usize, gen: u64) -> String {
    format!("shard-{id}.{gen:06}.aof")
}

fn generation_of(name: &str) -> Option<u64> {
    name.split('.').nth(1)?.parse().ok()
}

/// Writes `data` to `path` atomically and durably.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), String> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.{seq}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok::<(), std::io::Error>(())
    })();
    res.map_err(|e| format!("{}: {e}", path.display()))
}

/// Fsyncs a directory (after creating, renaming or removing files in it).
pub fn sync_dir(dir: &Path) -> Result<(), String> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("{}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip_and_refusals() {
        let dir = tempfile::tempdir().expect("tmp");
        let m = Manifest {
            snapshot: Some(snapshot_name(1, 3)),
            aofs: vec![aof_name(1, 3), aof_name(1, 4)],
        };
        m.write(dir.path(), 1).expect("write");
        assert_eq!(Manifest::read(dir.path(), 1).expect("read"), m);
        assert_eq!(m.generation(), 4);
        assert_eq!(
            Manifest::read(dir.path(), 2).expect("missing"),
            Manifest::default()
        );
        std::fs::write(
            Manifest::path(dir.path(), 3),
            "synap-manifest 1\naof ../x\n",
        )
        .expect("w");
        assert!(Manifest::read(dir.path(), 3).is_err());
    }

    #[test]
    fn header_round_trip() {
        let h = Header {
            version: VERSION,
            shard: 2,
            shards: 4,
            created: 1234,
        };
        let b = h.encode(AOF_MAGIC);
        assert_eq!(b.len(), HEADER);
        assert_eq!(Header::decode(&b, AOF_MAGIC), Ok(h));
        assert!(Header::decode(&b, SNAP_MAGIC).is_err());
        assert!(Header::decode(&b[..10], AOF_MAGIC).is_err());
    }
}
