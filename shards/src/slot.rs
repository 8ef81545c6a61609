//! Hash slots: `slot = CRC16(key) mod 16384` with Redis Cluster hash tags, and the map from slot
//! to the shard that owns it.

/// Number of hash slots.
pub const SLOTS: usize = 16384;

/// CRC16-CCITT (XMODEM) table, the variant Redis Cluster uses (poly 0x1021, init 0).
const CRC16_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// CRC16 (XMODEM) of `data`.
#[inline]
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc = (crc << 8) ^ CRC16_TABLE[(((crc >> 8) as u8) ^ b) as usize];
    }
    crc
}

/// The hash slot of `key`. When the key contains `{...}` with at least one byte between the
/// first `{` and the next `}`, only that part is hashed (a hash tag), exactly as Redis does.
#[inline]
pub fn key_hash_slot(key: &[u8]) -> u16 {
    let hashed = match memchr(b'{', key) {
        Some(open) => match memchr(b'}', &key[open + 1..]) {
            Some(0) | None => key,
            Some(len) => &key[open + 1..open + 1 + len],
        },
        None => key,
    };
    crc16(hashed) & (SLOTS as u16 - 1)
}

#[inline]
fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Which shard owns each slot. Shards own contiguous, near-equal slot ranges.
#[derive(Clone, Debug)]
pub struct SlotMap {
    owner: Box<[u16; SLOTS]>,
    shards: usize,
}

impl SlotMap {
    /// Splits the slots evenly over `shards` shards (1..=65535).
    pub fn even(shards: usize) -> SlotMap {
        let shards = shards.clamp(1, u16::MAX as usize);
        let mut owner = Box::new([0u16; SLOTS]);
        for (slot, o) in owner.iter_mut().enumerate() {
            *o = (slot * shards / SLOTS) as u16;
        }
        SlotMap { owner, shards }
    }

    /// The shard owning `slot`.
    #[inline]
    pub fn shard_of_slot(&self, slot: u16) -> usize {
        self.owner[slot as usize & (SLOTS - 1)] as usize
    }

    /// The shard owning `key`.
    #[inline]
    pub fn shard_of_key(&self, key: &[u8]) -> usize {
        if self.shards == 1 {
            return 0;
        }
        self.shard_of_slot(key_hash_slot(key))
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.shards
    }

    /// The slot ranges (inclusive) owned by `shard`.
    pub fn ranges_of(&self, shard: usize) -> Vec<(u16, u16)> {
        let mut out = Vec::new();
        let mut start: Option<usize> = None;
        for slot in 0..=SLOTS {
            let owned = slot < SLOTS && self.owner[slot] as usize == shard;
            match (owned, start) {
                (true, None) => start = Some(slot),
                (false, Some(s)) => {
                    out.push((s as u16, (slot - 1) as u16));
                    start = None;
                }
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_reference_vector() {
        // The check value of CRC-16/XMODEM.
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn slots_match_redis() {
        // Values from `CLUSTER KEYSLOT` on redis-server.
        assert_eq!(key_hash_slot(b"foo"), 12182);
        assert_eq!(key_hash_slot(b"bar"), 5061);
        assert_eq!(key_hash_slot(b"somekey"), 11058);
        assert_eq!(
            key_hash_slot(b"{user1000}.following"),
            key_hash_slot(b"user1000")
        );
        assert_eq!(key_hash_slot(b"foo{}{bar}"), key_hash_slot(b"foo{}{bar}"));
        assert_eq!(key_hash_slot(b"foo{{bar}}zap"), key_hash_slot(b"{bar"));
        assert_eq!(key_hash_slot(b"foo{bar}{zap}"), key_hash_slot(b"bar"));
        assert_eq!(key_hash_slot(b""), 0);
    }

    #[test]
    fn even_map_covers_all_shards() {
        for n in 1..9 {
            let m = SlotMap::even(n);
            let mut seen = vec![0usize; n];
            for s in 0..SLOTS as u16 {
                seen[m.shard_of_slot(s)] += 1;
            }
            assert!(seen.iter().all(|&c| c >= SLOTS / n - 1), "{seen:?}");
            let total: usize = (0..n)
                .flat_map(|i| m.ranges_of(i))
                .map(|(a, b)| (b - a) as usize + 1)
                .sum();
            assert_eq!(total, SLOTS);
        }
    }
}
