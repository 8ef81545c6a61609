//! The cross-shard hop: a batch of forwarded commands sent from one executor to another over
//! glommio's shared channels and a reply sent back through a oneshot, as the router does.
//! Two executors on two CPUs; measured as round trips per second, while both are busy (the
//! receiver spins on its inbox, as a loaded shard does) and when the receiver parks between
//! messages (the wake-up cost). Both use the 1 ms preemption timer the server uses: a busy
//! executor drains its inbox when its run queue empties or the timer fires.

use criterion::{criterion_group, criterion_main, Criterion};
use futures::channel::oneshot;
use glommio::channels::shared_channel;
use glommio::{LocalExecutorBuilder, Placement};
use std::time::{Duration, Instant};

type Msg = (Vec<u8>, oneshot::Sender<Vec<u8>>);

fn round_trips(n: u64, busy_receiver: bool) -> Duration {
    let (tx, rx) = shared_channel::new_bounded::<Msg>(1024);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let server = LocalExecutorBuilder::new(Placement::Fixed(1 % cpus))
        .preempt_timer(Duration::from_millis(1))
        .spawn(move || async move {
            let rx = rx.connect().await;
            if busy_receiver {
                // Keep the executor runnable so it never parks.
                glommio::spawn_local(async {
                    loop {
                        glommio::yield_if_needed().await;
                        futures::future::ready(()).await;
                        glommio::executor().yield_now().await;
                    }
                })
                .detach();
            }
            while let Some((batch, reply)) = rx.recv().await {
                let _ = reply.send(batch);
            }
        })
        .expect("server");
    let client = LocalExecutorBuilder::new(Placement::Fixed(0))
        .preempt_timer(Duration::from_millis(1))
        .spawn(move || async move {
            let tx = tx.connect().await;
            let start = Instant::now();
            for i in 0..n {
                let (rtx, rrx) = oneshot::channel();
                let batch = vec![i as u8; 64];
                let _ = tx.send((batch, rtx)).await;
                let _ = rrx.await;
            }
            start.elapsed()
        })
        .expect("client");
    let elapsed = client.join().expect("client");
    server.join().expect("server");
    elapsed
}

fn hop(c: &mut Criterion) {
    let mut g = c.benchmark_group("cross_shard_hop");
    g.sample_size(10);
    g.bench_function("round_trip_receiver_busy", |b| {
        b.iter_custom(|iters| round_trips(iters, true))
    });
    g.bench_function("round_trip_receiver_parked", |b| {
        b.iter_custom(|iters| round_trips(iters, false))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_millis(500));
    targets = hop
}
criterion_main!(benches);
