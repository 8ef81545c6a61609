//! API keys with roles, and what each connection is allowed to do.
//!
//! The [`Registry`] is shared by every shard (one per process, in [`crate::shard::Global`]):
//! keys live in an `Arc` snapshot behind a `RwLock` and every change bumps an epoch counter.
//! A connection keeps a [`Session`]: the hash of the key it authenticated with, the epoch it
//! last checked, and the resulting [`Gate`]. Once per read batch it compares the epoch (one
//! relaxed atomic load) and only when it moved does it look its key up again, so a revoked
//! key stops working at once on every shard and connection, and the per-command check is a
//! match on the connection's own gate: nothing at all while no key exists.
//!
//! Authentication is required as soon as one key exists. Roles: `admin` runs everything,
//! `readwrite` everything but ADMIN-flagged commands, `readonly` only commands that neither
//! write nor administer. A key may be limited to key patterns (globs): every key argument must
//! match one, and commands that reach the whole keyspace (KEYS, SCAN, RANDOMKEY, FLUSHDB,
//! FLUSHALL) are refused to it.

pub mod store;

use crate::commands::{flags, CommandSpec, Exec, Global};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including CONFIG, CLIENT KILL and managing keys.
    Admin,
    /// Reads and writes; no administrative commands.
    ReadWrite,
    /// Reads only.
    ReadOnly,
}

impl Role {
    /// `admin`, `readwrite` or `readonly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::ReadWrite => "readwrite",
            Role::ReadOnly => "readonly",
        }
    }

    /// Parses a role name (case-insensitive).
    pub fn parse(s: &[u8]) -> Option<Role> {
        match s.to_ascii_lowercase().as_slice() {
            b"admin" => Some(Role::Admin),
            b"readwrite" => Some(Role::ReadWrite),
            b"readonly" => Some(Role::ReadOnly),
            _ => None,
        }
    }
}

/// One API key as the server knows it (the key itself is never kept).
#[derive(Clone, Debug)]
pub struct KeyEntry {
    /// Unique name (also the user name for `AUTH name key`).
    pub name: String,
    /// Role.
    pub role: Role,
    /// SHA-256 of the key.
    pub hash: [u8; 32],
    /// Key patterns (globs); empty = every key.
    pub patterns: Vec<Vec<u8>>,
    /// Unix seconds at creation.
    pub created: u64,
}

/// An authenticated identity (cheap to clone).
pub type Grant = Arc<KeyEntry>;

/// Checks a key name: 1 to 64 of `A-Z a-z 0-9 . _ -` and not `default`.
pub fn valid_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err("a key name is 1 to 64 letters, digits, '.', '_' or '-'".into());
    }
    if name.eq_ignore_ascii_case("default") {
        return Err("'default' is reserved (AUTH default <key> accepts any key)".into());
    }
    Ok(())
}

#[derive(Default)]
struct KeySet {
    /// In creation order.
    keys: Vec<Grant>,
    by_hash: HashMap<[u8; 32], Grant>,
}

impl KeySet {
    fn new(keys: Vec<Grant>) -> KeySet {
        let by_hash = keys.iter().map(|k| (k.hash, k.clone())).collect();
        KeySet { keys, by_hash }
    }
}

/// Every API key of the server, shared by all shards.
pub struct Registry {
    path: PathBuf,
    keys: RwLock<Arc<KeySet>>,
    /// Bumped by every change (create, revoke, reload).
    epoch: AtomicU64,
    count: AtomicUsize,
    /// Serialises changes (file write, then swap).
    change: Mutex<()>,
}

/// The key file in a data directory.
pub fn keys_path(data_dir: &Path) -> PathBuf {
    data_dir.join("apikeys.json")
}

impl Registry {
    /// Loads the keys stored at `path` (none if the file does not exist).
    pub fn open(path: PathBuf) -> Result<Registry, String> {
        let keys: Vec<Grant> = store::load(&path)?.into_iter().map(Arc::new).collect();
        let n = keys.len();
        Ok(Registry {
            path,
            keys: RwLock::new(Arc::new(KeySet::new(keys))),
            epoch: AtomicU64::new(1),
            count: AtomicUsize::new(n),
            change: Mutex::new(()),
        })
    }

    /// A registry with no keys and no file (tests, tools).
    pub fn empty() -> Registry {
        Registry {
            path: PathBuf::new(),
            keys: RwLock::new(Arc::new(KeySet::default())),
            epoch: AtomicU64::new(1),
            count: AtomicUsize::new(0),
            change: Mutex::new(()),
        }
    }

    /// Where the keys are stored.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The change counter: a connection re-checks its key when it moved.
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Whether no key exists (authentication off).
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Relaxed) == 0
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    fn snapshot(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn install(&self, set: KeySet) {
        let n = set.keys.len();
        match self.keys.write() {
            Ok(mut k) => *k = Arc::new(set),
            Err(p) => *p.into_inner() = Arc::new(set),
        }
        self.count.store(n, Ordering::SeqCst);
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// The role of `key`, if it is a current key (the replication port's check).
    pub fn check(&self, key: &[u8]) -> Option<Role> {
        self.authenticate(None, key).map(|g| g.role)
    }

    /// The grant for `key`; `name`, when given and not `default`, must be the key's name.
    pub fn authenticate(&self, name: Option<&[u8]>, key: &[u8]) -> Option<Grant> {
        let g = self.snapshot().by_hash.get(&store::hash(key))?.clone();
        match name {
            Some(n) if n != b"default" && n != g.name.as_bytes() => None,
            _ => Some(g),
        }
    }

    /// The current grant of the key with this hash (None once revoked).
    pub fn current(&self, hash: &[u8; 32]) -> Option<Grant> {
        self.snapshot().by_hash.get(hash).cloned()
    }

    /// Every key, in creation order.
    pub fn list(&self) -> Vec<Grant> {
        self.snapshot().keys.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        match self.change.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn persist_and_install(&self, keys: Vec<Grant>) -> Result<(), String> {
        let refs: Vec<&KeyEntry> = keys.iter().map(|k| k.as_ref()).collect();
        store::save(&self.path, &refs)?;
        self.install(KeySet::new(keys));
        Ok(())
    }

    /// Creates a key and returns it (the only time it is ever seen). The first key must be an
    /// admin key, so that someone can always manage the others.
    pub fn create(&self, name: &str, role: Role, patterns: Vec<Vec<u8>>) -> Result<String, String> {
        valid_name(name)?;
        let _g = self.lock();
        let mut keys = self.snapshot().keys.clone();
        if keys.iter().any(|k| k.name == name) {
            return Err(format!("an API key named '{name}' already exists"));
        }
        if keys.is_empty() && role != Role::Admin {
            return Err("the first API key must have the admin role".into());
        }
        let key = store::new_key();
        keys.push(Arc::new(KeyEntry {
            name: name.to_string(),
            role,
            hash: store::hash(key.as_bytes()),
            patterns,
            created: synap_shard::time::now_ms() / 1000,
        }));
        self.persist_and_install(keys)?;
        Ok(key)
    }

    /// Revokes a key, given the key itself or its name. The last admin key cannot be revoked
    /// (create another one first).
    pub fn revoke(&self, key_or_name: &[u8]) -> Result<Grant, String> {
        let _g = self.lock();
        let mut keys = self.snapshot().keys.clone();
        let h = store::hash(key_or_name);
        let Some(i) = keys
            .iter()
            .position(|k| k.hash == h)
            .or_else(|| keys.iter().position(|k| k.name.as_bytes() == key_or_name))
        else {
            return Err("no such API key".into());
        };
        if keys[i].role == Role::Admin && keys.iter().filter(|k| k.role == Role::Admin).count() == 1
        {
            return Err("cannot revoke the last admin key: create another admin key first".into());
        }
        let gone = keys.remove(i);
        self.persist_and_install(keys)?;
        Ok(gone)
    }

    /// Re-reads the key file (SIGHUP); on error the keys in force stay.
    pub fn reload(&self) -> Result<usize, String> {
        if self.path.as_os_str().is_empty() {
            return Ok(self.len());
        }
        let _g = self.lock();
        let keys: Vec<Grant> = store::load(&self.path)?.into_iter().map(Arc::new).collect();
        let n = keys.len();
        self.install(KeySet::new(keys));
        Ok(n)
    }
}

/// What a connection may run now.
#[derive(Clone, Debug)]
pub enum Gate {
    /// No key exists: everything is allowed.
    Open,
    /// Keys exist and the connection has not authenticated (or its key was revoked).
    Locked,
    /// Authenticated with this key.
    Granted(Grant),
}

/// A connection's authentication state.
#[derive(Clone, Debug)]
pub struct Session {
    /// The registry epoch the gate was computed at.
    pub epoch: u64,
    /// Hash of the key the connection authenticated with.
    pub user: Option<[u8; 32]>,
    /// What the connection may run.
    pub gate: Gate,
}

impl Session {
    /// The state of a new connection.
    pub fn new(reg: &Registry) -> Session {
        let mut s = Session {
            epoch: 0,
            user: None,
            gate: Gate::Open,
        };
        s.refresh(reg);
        s
    }

    /// Re-checks the gate if the registry changed since the last look (once per read batch).
    #[inline]
    pub fn sync(&mut self, reg: &Registry) {
        if reg.epoch() != self.epoch {
            self.refresh(reg);
        }
    }

    /// Recomputes the gate from the registry.
    pub fn refresh(&mut self, reg: &Registry) {
        self.epoch = reg.epoch();
        self.gate = if reg.is_empty() {
            Gate::Open
        } else {
            match self.user.as_ref().and_then(|h| reg.current(h)) {
                Some(g) => Gate::Granted(g),
                None => Gate::Locked,
            }
        };
    }

    /// Authenticated as `g` from now on.
    pub fn login(&mut self, g: Grant, reg: &Registry) {
        self.user = Some(g.hash);
        self.refresh(reg);
    }

    /// Back to unauthenticated (RESET).
    pub fn logout(&mut self, reg: &Registry) {
        self.user = None;
        self.refresh(reg);
    }

    /// The name CLIENT LIST shows.
    pub fn user_name(&self) -> &str {
        match &self.gate {
            Gate::Granted(g) => &g.name,
            _ => "default",
        }
    }
}

/// Why a command was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// Not authenticated.
    NoAuth,
    /// The role does not allow the command (its full name, e.g. `config|get`).
    Command(String),
    /// A key argument is outside the key's patterns.
    Key,
}

/// Commands whose subcommand is part of their name in NOPERM replies (`config|get`).
const CONTAINERS: &[&str] = &[
    "client", "config", "command", "cluster", "object", "memory", "apikey",
];

fn full_name(spec: &CommandSpec, argv: &[&[u8]]) -> String {
    match argv.get(1) {
        Some(sub) if CONTAINERS.contains(&spec.name) => format!(
            "{}|{}",
            spec.name,
            String::from_utf8_lossy(sub).to_ascii_lowercase()
        ),
        _ => spec.name.to_string(),
    }
}

/// Whether the command is administrative: ADMIN-flagged, or CLIENT KILL / CLIENT LIST.
fn is_admin(spec: &CommandSpec, argv: &[&[u8]]) -> bool {
    spec.has(flags::ADMIN)
        || (spec.name == "client"
            && argv.get(1).is_some_and(|s| {
                s.eq_ignore_ascii_case(b"kill") || s.eq_ignore_ascii_case(b"list")
            }))
}

/// Whether `gate` may run `spec` with `argv` (the arity is already checked).
pub fn permit(gate: &Gate, spec: &CommandSpec, argv: &[&[u8]]) -> Result<(), Denied> {
    let g = match gate {
        Gate::Open => return Ok(()),
        Gate::Locked if spec.has(flags::NO_AUTH) => return Ok(()),
        Gate::Locked => return Err(Denied::NoAuth),
        Gate::Granted(g) => g,
    };
    let allowed = match g.role {
        Role::Admin => true,
        Role::ReadWrite => !is_admin(spec, argv),
        Role::ReadOnly => !is_admin(spec, argv) && !spec.has(flags::WRITE),
    };
    if !allowed {
        return Err(Denied::Command(full_name(spec, argv)));
    }
    if g.patterns.is_empty() {
        return Ok(());
    }
    match spec.exec {
        Exec::Global(Global::Keys | Global::Scan | Global::RandomKey | Global::Flush) => {
            Err(Denied::Key)
        }
        Exec::Shard(..) => {
            let all = spec.key_args(argv).all(|i| {
                g.patterns
                    .iter()
                    .any(|p| synap_shard::glob::matches(p, argv[i]))
            });
            if all {
                Ok(())
            } else {
                Err(Denied::Key)
            }
        }
        _ => Ok(()),
    }
}

/// Whether a peer counts as local for protected mode (as Redis: exactly 127.0.0.1 or ::1).
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => {
            v6 == std::net::Ipv6Addr::LOCALHOST
                || v6.to_ipv4_mapped() == Some(std::net::Ipv4Addr::LOCALHOST)
        }
    }
}

/// Protected mode's refusal (Redis's DENIED text, adapted).
pub const DENIED: &str = "DENIED Synap is running in protected mode because protected mode is enabled, it is bound to a non-loopback address and no API key exists. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Synap you may adopt one of the following solutions: 1) Create an API key from this host with 'synap-admin create-api-key --name admin --role admin' and authenticate with it (AUTH <key>); clients then need a key. 2) Bind Synap to 127.0.0.1 (server.host) if only local clients should reach it. 3) Set 'network.protected_mode: false' in the configuration file and restart, but MAKE SURE Synap is not publicly accessible from the internet if you do so. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_patterns() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(keys_path(dir.path())).unwrap();
        assert!(reg.is_empty());
        assert!(
            reg.create("ro", Role::ReadOnly, vec![]).is_err(),
            "first key must be admin"
        );
        let admin = reg.create("root", Role::Admin, vec![]).unwrap();
        let ro = reg.create("ro", Role::ReadOnly, vec![]).unwrap();
        let app = reg
            .create("app", Role::ReadWrite, vec![b"app:*".to_vec()])
            .unwrap();
        assert!(reg.create("app", Role::ReadWrite, vec![]).is_err());
        assert_eq!(reg.check(admin.as_bytes()), Some(Role::Admin));
        assert_eq!(reg.check(b"synap_nope"), None);
        assert!(reg.authenticate(Some(b"ro"), admin.as_bytes()).is_none());
        assert!(reg
            .authenticate(Some(b"default"), admin.as_bytes())
            .is_some());

        let get = crate::commands::lookup(b"get").unwrap().1;
        let set = crate::commands::lookup(b"set").unwrap().1;
        let config = crate::commands::lookup(b"config").unwrap().1;
        let keys = crate::commands::lookup(b"keys").unwrap().1;
        let g = |k: &str| Gate::Granted(reg.authenticate(None, k.as_bytes()).unwrap());
        assert_eq!(permit(&Gate::Open, set, &[b"set", b"a", b"b"]), Ok(()));
        assert_eq!(
            permit(&Gate::Locked, get, &[b"get", b"a"]),
            Err(Denied::NoAuth)
        );
        assert_eq!(permit(&g(&ro), get, &[b"get", b"a"]), Ok(()));
        assert_eq!(
            permit(&g(&ro), set, &[b"set", b"a", b"b"]),
            Err(Denied::Command("set".into()))
        );
        assert_eq!(
            permit(&g(&app), config, &[b"config", b"GET", b"x"]),
            Err(Denied::Command("config|get".into()))
        );
        assert_eq!(permit(&g(&app), set, &[b"set", b"app:1", b"b"]), Ok(()));
        assert_eq!(
            permit(&g(&app), set, &[b"set", b"x", b"b"]),
            Err(Denied::Key)
        );
        assert_eq!(permit(&g(&app), keys, &[b"keys", b"*"]), Err(Denied::Key));
        assert_eq!(
            permit(&g(&admin), config, &[b"config", b"get", b"x"]),
            Ok(())
        );

        // Revocation is seen by sessions at their next sync; the last admin stays.
        let mut s = Session::new(&reg);
        s.login(reg.authenticate(None, ro.as_bytes()).unwrap(), &reg);
        assert!(matches!(s.gate, Gate::Granted(_)));
        reg.revoke(ro.as_bytes()).unwrap();
        s.sync(&reg);
        assert!(matches!(s.gate, Gate::Locked));
        assert!(reg.revoke(b"root").is_err());
        // Reload from the file gives the same keys.
        let again = Registry::open(keys_path(dir.path())).unwrap();
        assert_eq!(again.len(), 2);
        assert_eq!(again.check(app.as_bytes()), Some(Role::ReadWrite));
    }

    #[test]
    fn local_peers() {
        assert!(is_local("127.0.0.1".parse().unwrap()));
        assert!(is_local("::1".parse().unwrap()));
        assert!(is_local("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_local("127.0.0.2".parse().unwrap()));
        assert!(!is_local("10.0.0.1".parse().unwrap()));
    }
}
