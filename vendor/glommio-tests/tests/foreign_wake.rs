//! (iii) A waker woken from a plain std thread (not an executor) must wake a parked executor:
//! the waker is queued on the executor's foreign-wake queue and `SleepNotifier::notify` decides
//! whether to write its eventfd, the other path that upstream guarded with
//! `membarrier::heavy()` on the parking side.

use glommio::{LocalExecutorBuilder, Placement};
use glommio_synap_patch_tests::*;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

#[derive(Default)]
struct Signal {
    done: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

struct WaitSignal(Arc<Signal>);

impl Future for WaitSignal {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.0.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.0.done.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn foreign_thread_wakes_parked_executor() {
    let _serial = serial();
    let iterations = env_or("SYNAP_FOREIGN_WAKES", 20_000);
    let parks = with_watchdog(Duration::from_secs(120), "foreign wake", move || {
        // A plain thread on CPU 1 that sets the signal and wakes the task after a delay.
        let (cmd_tx, cmd_rx) = mpsc::channel::<(Arc<Signal>, u64)>();
        let helper = std::thread::spawn(move || {
            pin_current_thread(cpu(1));
            while let Ok((signal, delay_us)) = cmd_rx.recv() {
                if delay_us > 0 {
                    std::thread::sleep(Duration::from_micros(delay_us));
                }
                signal.done.store(true, Ordering::Release);
                let waker = signal.waker.lock().unwrap().take();
                if let Some(w) = waker {
                    w.wake();
                }
            }
        });
        let ex = LocalExecutorBuilder::new(Placement::Fixed(cpu(0)))
            .name("woken")
            .spawn(move || async move {
                let parks = voluntary_switches();
                for i in 0..iterations {
                    let signal = Arc::new(Signal::default());
                    // 0 races the wake against the park; the others wake a parked executor.
                    let delay_us = [0, 0, 20, 200][(i % 4) as usize];
                    cmd_tx.send((signal.clone(), delay_us)).unwrap();
                    WaitSignal(signal).await;
                }
                voluntary_switches() - parks
            })
            .expect("executor");
        let parks = ex.join().expect("executor failed");
        helper.join().expect("helper thread");
        parks
    });
    eprintln!("{iterations} foreign wakes, executor parked {parks} times");
    assert!(parks >= iterations / 4, "executor parked only {parks} times");
}
