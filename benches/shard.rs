//! Shard-local operations (keyspace GET/SET/expire) and slot hashing.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use synap_shard::strings::{ExpireAction, SetCond};
use synap_shard::{key_hash_slot, Keyspace, SlotMap};

fn keyspace(n: usize) -> (Keyspace, Vec<Vec<u8>>) {
    let mut ks = Keyspace::new();
    let keys: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("key:{i:012}").into_bytes())
        .collect();
    let v = [b'x'; 100];
    for k in &keys {
        let _ = ks.set_str(k, &v, SetCond::Always, ExpireAction::Clear, false, 0);
    }
    (ks, keys)
}

fn ops(c: &mut Criterion) {
    let (mut ks, keys) = keyspace(100_000);
    let v = [b'y'; 100];
    let mut i = 0usize;
    let mut g = c.benchmark_group("shard");
    g.bench_function("get_hit_100k", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            ks.get_str(&keys[i], 0).ok().flatten().map(|b| b.len())
        })
    });
    g.bench_function("set_overwrite_100k", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            ks.set_str(&keys[i], &v, SetCond::Always, ExpireAction::Clear, false, 0)
                .is_ok()
        })
    });
    g.bench_function("expire_and_ttl_100k", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            ks.set_expire(&keys[i], 1_000_000 + i as u64, 0);
            ks.ttl(&keys[i], 0)
        })
    });
    g.bench_function("insert_new_keys", |b| {
        b.iter_batched(
            || (Keyspace::new(), 0u32),
            |(mut ks, mut n)| {
                for _ in 0..1000 {
                    n += 1;
                    let _ = ks.set_str(
                        &n.to_le_bytes(),
                        &v,
                        SetCond::Always,
                        ExpireAction::Clear,
                        false,
                        0,
                    );
                }
                ks.len()
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("active_expire_step_512", |b| {
        let (mut ks, keys) = keyspace(10_000);
        for (j, k) in keys.iter().enumerate() {
            ks.set_expire(k, 10 + j as u64, 0);
        }
        b.iter(|| ks.active_expire_step(5, 512))
    });
    g.finish();
}

fn slots(c: &mut Criterion) {
    let map = SlotMap::even(8);
    let keys: Vec<Vec<u8>> = (0..1024)
        .map(|i| format!("key:{i:012}").into_bytes())
        .collect();
    let mut i = 0;
    c.bench_function("slot/key_hash_slot_16b", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            key_hash_slot(&keys[i])
        })
    });
    c.bench_function("slot/shard_of_key_tagged", |b| {
        b.iter(|| map.shard_of_key(criterion::black_box(b"{user:1000}:profile")))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(2)).warm_up_time(std::time::Duration::from_millis(500));
    targets = ops, slots
}
criterion_main!(benches);
