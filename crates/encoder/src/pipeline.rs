//! Ordered parallel pipeline: produce items in parallel on the rayon pool, consume them in
//! index order on the calling thread, with a bounded number of items in flight.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

type Slot<T> = Option<std::thread::Result<T>>;

struct Shared<T> {
    slots: Mutex<Vec<Slot<T>>>,
    ready: Condvar,
    cancelled: AtomicBool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Vec<Slot<T>>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs `produce(i)` for `i in 0..n` on the current rayon pool (at most `window` items produced
/// but not yet consumed at any time) and calls `consume(i, item)` on the calling thread in
/// increasing `i`. Stops at the first error from `consume`. The result never depends on the
/// number of threads: only the scheduling does.
///
/// Works from outside any pool (the caller blocks while workers produce) and from inside a pool
/// worker, including a one-thread pool (the caller then runs pending items itself).
pub(crate) fn ordered<T, E, P, C>(
    n: usize,
    window: usize,
    produce: P,
    mut consume: C,
) -> Result<(), E>
where
    T: Send,
    P: Fn(usize) -> T + Sync,
    C: FnMut(usize, T) -> Result<(), E>,
{
    if n == 0 {
        return Ok(());
    }
    let window = window.max(1);
    let shared = Shared {
        slots: Mutex::new((0..n).map(|_| None).collect()),
        ready: Condvar::new(),
        cancelled: AtomicBool::new(false),
    };
    let shared = &shared;
    let produce = &produce;

    rayon::in_place_scope_fifo(|scope| {
        let mut spawned = 0;
        let mut result = Ok(());
        for k in 0..n {
            while spawned < n && spawned < k + window {
                let i = spawned;
                scope.spawn_fifo(move |_| {
                    if shared.cancelled.load(Ordering::Relaxed) {
                        return;
                    }
                    let item = catch_unwind(AssertUnwindSafe(|| produce(i)));
                    shared.lock()[i] = Some(item);
                    shared.ready.notify_all();
                });
                spawned += 1;
            }
            let item = wait_for(shared, k);
            let item = match item {
                Ok(item) => item,
                Err(panic) => {
                    shared.cancelled.store(true, Ordering::Relaxed);
                    resume_unwind(panic);
                }
            };
            if let Err(e) = consume(k, item) {
                shared.cancelled.store(true, Ordering::Relaxed);
                result = Err(e);
                break;
            }
        }
        result
    })
}

fn wait_for<T>(shared: &Shared<T>, k: usize) -> std::thread::Result<T> {
    loop {
        {
            let mut slots = shared.lock();
            if let Some(item) = slots[k].take() {
                return item;
            }
            if rayon::current_thread_index().is_none() {
                // Not a pool worker: the pool's threads make progress without us.
                drop(
                    shared
                        .ready
                        .wait(slots)
                        .unwrap_or_else(PoisonError::into_inner),
                );
                continue;
            }
        }
        // A pool worker: run pending work ourselves (this is what makes a one-thread pool work).
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => {}
            _ => {
                // Nothing queued: everything unfinished is running on other workers.
                let slots = shared.lock();
                if slots[k].is_none() {
                    let timeout = Duration::from_millis(1);
                    drop(
                        shared
                            .ready
                            .wait_timeout(slots, timeout)
                            .unwrap_or_else(PoisonError::into_inner),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ordered;

    fn run(threads: usize) -> Vec<usize> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut seen = Vec::new();
        pool.install(|| {
            ordered::<_, (), _, _>(
                50,
                3,
                |i| i * i,
                |i, v| {
                    assert_eq!(v, i * i);
                    seen.push(i);
                    Ok(())
                },
            )
        })
        .unwrap();
        seen
    }

    #[test]
    fn in_order_any_thread_count() {
        let want: Vec<usize> = (0..50).collect();
        assert_eq!(run(1), want);
        assert_eq!(run(3), want);
        // From outside any pool (global pool).
        let mut seen = Vec::new();
        ordered::<_, (), _, _>(
            7,
            2,
            |i| i,
            |_, v| {
                seen.push(v);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..7).collect::<Vec<_>>());
    }

    #[test]
    fn stops_at_first_error() {
        let mut seen = 0;
        let r = ordered(
            10,
            4,
            |i| i,
            |i, _| {
                seen += 1;
                if i == 3 { Err(i) } else { Ok(()) }
            },
        );
        assert_eq!(r, Err(3));
        assert_eq!(seen, 4);
    }
}
