//! The API key file, `<data_dir>/apikeys.json`: one JSON document with every key's name, role,
//! key patterns, creation time and the SHA-256 of the key (never the key itself). Written
//! atomically: a temporary file (mode 0600) is written and fsynced, renamed over the old one,
//! and the directory fsynced.
//!
//! Keys are 192 random bits from the operating system (`synap_` + 48 hex digits), so an
//! unsalted SHA-256 is enough to make the stored hash useless to whoever reads the file, and
//! it lets a key be found by its hash in O(1).

use super::{KeyEntry, Role};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// What every key starts with (easy to spot in a leaked config or a secret scanner).
pub const KEY_PREFIX: &str = "synap_";

/// SHA-256 of a key.
pub fn hash(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

/// A fresh key: `synap_` + 24 random bytes in hex.
pub fn new_key() -> String {
    let mut b = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let mut s = String::from(KEY_PREFIX);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    keys: Vec<Record>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    name: String,
    role: Role,
    sha256: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    patterns: Vec<String>,
    created: u64,
}

/// Reads the key file; a missing file means no keys.
pub fn load(path: &Path) -> Result<Vec<KeyEntry>, String> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: cannot read API keys: {e}", path.display())),
    };
    let file: File = serde_json::from_slice(&text)
        .map_err(|e| format!("{}: invalid API key file: {e}", path.display()))?;
    if file.version != 1 {
        return Err(format!(
            "{}: API key file version {} is not supported (expected 1)",
            path.display(),
            file.version
        ));
    }
    let mut out = Vec::with_capacity(file.keys.len());
    for r in file.keys {
        let hash = unhex(&r.sha256).ok_or_else(|| {
            format!(
                "{}: key {:?}: sha256 must be 64 hex digits",
                path.display(),
                r.name
            )
        })?;
        super::valid_name(&r.name)
            .map_err(|e| format!("{}: key {:?}: {e}", path.display(), r.name))?;
        if out.iter().any(|k: &KeyEntry| k.name == r.name) {
            return Err(format!(
                "{}: two keys are named {:?}",
                path.display(),
                r.name
            ));
        }
        out.push(KeyEntry {
            name: r.name,
            role: r.role,
            hash,
            patterns: r.patterns.into_iter().map(String::into_bytes).collect(),
            created: r.created,
        });
    }
    Ok(out)
}

/// Writes the key file atomically (tmp + fsync + rename + fsync of the directory).
pub fn save(path: &Path, keys: &[&KeyEntry]) -> Result<(), String> {
    let file = File {
        version: 1,
        keys: keys
            .iter()
            .map(|k| Record {
                name: k.name.clone(),
                role: k.role,
                sha256: hex(&k.hash),
                patterns: k
                    .patterns
                    .iter()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect(),
                created: k.created,
            })
            .collect(),
    };
    let mut text = serde_json::to_vec_pretty(&file).map_err(|e| e.to_string())?;
    text.push(b'\n');
    let dir = path.parent().unwrap_or(Path::new("."));
    let err = |what: &str, e: std::io::Error| format!("{}: cannot {what}: {e}", path.display());
    std::fs::create_dir_all(dir).map_err(|e| err("create its directory", e))?;
    let tmp = path.with_extension("json.tmp");
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| err("write", e))?;
        f.write_all(&text).map_err(|e| err("write", e))?;
        f.sync_all().map_err(|e| err("fsync", e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| err("replace", e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hash_round_trips_through_the_file() {
        let a = new_key();
        assert!(a.starts_with(KEY_PREFIX) && a.len() == KEY_PREFIX.len() + 48);
        assert_ne!(a, new_key());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/apikeys.json");
        let k = KeyEntry {
            name: "app".into(),
            role: Role::ReadOnly,
            hash: hash(a.as_bytes()),
            patterns: vec![b"app:*".to_vec()],
            created: 7,
        };
        save(&path, &[&k]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&a), "the key itself is never stored");
        let back = load(&path).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].hash, k.hash);
        assert_eq!(back[0].patterns, k.patterns);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(load(&dir.path().join("none.json")).unwrap().is_empty());
        std::fs::write(&path, "{").unwrap();
        assert!(load(&path).unwrap_err().contains("invalid API key file"));
    }
}
