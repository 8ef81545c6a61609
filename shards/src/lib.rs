//! `synap-shard`: the shard-local engine of Synap.
//!
//! Everything here is plain data structures: no sockets, no executor, no channels. A shard's
//! event loop (in the `synap` crate) owns exactly one [`Keyspace`] and calls into it
//! synchronously; operations return statuses ([`OpError`]) that the connection layer renders as
//! RESP or HTTP.
//!
//! # Layout
//! - [`blob`]: `Blob`, the compact byte string used for keys and string values (inline up to 22
//!   bytes, one exact-size heap allocation above).
//! - [`slot`]: CRC16 hash slots with Redis Cluster hash tags, and the slot → shard map.
//! - [`value`]: the value types stored under a key.
//! - [`keyspace`]: the map from key to entry, lazy and active expiry, SCAN cursors, random
//!   sampling, memory accounting, counters.
//! - [`hash`]: hashes, packed when small (like a listpack), a hash table when large.
//! - [`set`]: sets: intset, packed list or hash set by size and contents.
//! - [`list`]: lists, a deque of packed chunks (one chunk while small).
//! - [`zset`]: sorted sets: packed when small, a slab + hash index + order-statistic B+tree
//!   when large.
//! - [`lazyfree`]: freeing large values and flushed keyspaces in slices.
//! - [`strings`]: string operations (SET with options, INCR family, APPEND, ranges).
//! - [`longdouble`]: exact emulation of the x87 long double arithmetic INCRBYFLOAT uses.
//! - [`codec`]: the record encoding of entries and commands (snapshots, AOF, replication)
//!   and the length + CRC32C frame around each record.
//! - [`snapshot`]: fork-less point-in-time snapshots, written between requests.
//! - [`glob`]: Redis-compatible glob matching for KEYS / SCAN MATCH.
//! - [`status`]: [`OpError`], the statuses operations return.
//! - [`time`]: wall-clock milliseconds.

pub mod blob;
pub mod codec;
pub mod glob;
pub mod hash;
pub mod intset;
pub mod keyspace;
pub mod lazyfree;
pub mod list;
pub mod longdouble;
pub mod packed;
pub mod set;
pub mod slot;
pub mod snapshot;
pub mod status;
pub mod strings;
pub mod thin;
pub mod time;
pub mod value;
pub mod zset;

pub use blob::Blob;
pub use keyspace::{Entry, Keyspace, ScanFilter, Ttl};
pub use slot::{key_hash_slot, SlotMap, SLOTS};
pub use status::OpError;
pub use value::{Value, ValueType};
