//! A persistent fork-join thread pool (feature `std`) and the batch entry point built on it.
//!
//! [`Pool::run`]`(n, f)` calls `f(0)`, ..., `f(n - 1)` once each, spread over the pool's workers
//! and the calling thread, and returns when all have finished. Workers persist between calls:
//! after a job they spin for a short while (a forward pass issues jobs back to back), then park
//! on a condition variable. A call allocates nothing and takes no lock unless a worker is parked.
//!
//! How it stays sound without allocation: the job (`f` and `n`) lives on the caller's stack and
//! is published through an atomic pointer. A worker announces itself in `active` *before* it
//! loads that pointer, and the caller, once every task is done, clears the pointer and then
//! waits until `active` is zero before returning, so no worker can still hold the job when
//! `run` returns and `f` goes out of scope.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::vec::Vec;

/// How long an idle worker spins before parking (iterations of a spin-loop hint, about 50 us).
const SPIN: usize = 20_000;

/// One job: the tasks `0..n` of `f`.
struct Job<'a> {
    f: &'a (dyn Fn(usize) + Sync),
    n: usize,
}

struct Shared {
    /// The current job, or null. Points to a `Job` on the stack of the thread in `run`.
    job: AtomicPtr<Job<'static>>,
    /// Next task index to claim.
    next: AtomicUsize,
    /// Tasks finished (or panicked) of the current job.
    done: AtomicUsize,
    /// Workers that may hold the job pointer.
    active: AtomicUsize,
    /// Bumped for every job; idle workers wait for it to change.
    epoch: AtomicUsize,
    /// Workers parked on `wake`.
    sleeping: AtomicUsize,
    /// Workers that have started (`Pool::new` waits for all: a thread's start-up, which may
    /// allocate inside std, then never overlaps a job).
    started: AtomicUsize,
    /// A task panicked.
    panicked: AtomicBool,
    stop: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Shared {
    /// Claim and run tasks of `job` until none is left.
    fn work(&self, job: &Job<'_>) {
        loop {
            let i = self.next.fetch_add(1, SeqCst);
            if i >= job.n {
                return;
            }
            let f = job.f;
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(i))).is_err() {
                self.panicked.store(true, SeqCst);
            }
            self.done.fetch_add(1, SeqCst);
        }
    }
}

/// A fixed set of worker threads plus the calling thread.
pub struct Pool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// A job is running: the pool runs one at a time, and a second caller (another thread, or
    /// a task calling `run`) runs its tasks inline instead of waiting.
    busy: AtomicBool,
}

impl Pool {
    /// A pool running jobs on `threads` threads in all: the caller and `threads - 1` workers
    /// (0 is taken as 1). More threads than cores is allowed (and slower). On WebAssembly the
    /// pool has no workers: jobs run on the caller.
    pub fn new(threads: usize) -> Pool {
        let shared = Arc::new(Shared {
            job: AtomicPtr::new(core::ptr::null_mut()),
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            epoch: AtomicUsize::new(0),
            sleeping: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let workers = spawn_workers(&shared, threads.max(1) - 1);
        let mut spins = 0usize;
        while shared.started.load(SeqCst) < workers.len() {
            backoff(&mut spins);
        }
        Pool {
            shared,
            workers,
            busy: AtomicBool::new(false),
        }
    }

    /// A pool with one thread per available core.
    pub fn with_available_cores() -> Pool {
        Pool::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Threads a job runs on (workers plus the caller).
    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Call `f(i)` for every `i` in `0..n`, each exactly once, on the pool's threads and the
    /// caller's; return when all calls have returned. Panics (after every task has finished) if
    /// a task panicked. While another job runs (a concurrent caller, or a task calling `run`),
    /// the tasks run inline on the calling thread instead.
    pub fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        if n == 0 {
            return;
        }
        if self.workers.is_empty() || n == 1 || self.busy.swap(true, SeqCst) {
            (0..n).for_each(f);
            return;
        }
        self.run_on_workers(n, f);
        self.busy.store(false, SeqCst);
        if self.shared.panicked.load(SeqCst) {
            panic!("a task of a pool job panicked");
        }
    }

    fn run_on_workers(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        let s = &*self.shared;
        let job = Job { f, n };
        s.next.store(0, SeqCst);
        s.done.store(0, SeqCst);
        s.panicked.store(false, SeqCst);
        // SAFETY: only the lifetime is erased. The pointer is cleared below, and `run` does not
        // return until no worker holds it (`active` is 0), so `job` (and `f`) outlive every use.
        let ptr = unsafe { core::mem::transmute::<*const Job<'_>, *mut Job<'static>>(&job) };
        s.job.store(ptr, SeqCst);
        s.epoch.fetch_add(1, SeqCst);
        if s.sleeping.load(SeqCst) > 0 {
            let _g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        s.work(&job);
        let mut spins = 0usize;
        while s.done.load(SeqCst) < n {
            backoff(&mut spins);
        }
        s.job.store(core::ptr::null_mut(), SeqCst);
        while s.active.load(SeqCst) > 0 {
            backoff(&mut spins);
        }
    }
}

/// `n` worker threads. WebAssembly targets have no threads (wasi's libc lacks pthreads): there
/// a pool has no workers and runs every job on the caller.
#[cfg(not(target_family = "wasm"))]
fn spawn_workers(shared: &Arc<Shared>, n: usize) -> Vec<JoinHandle<()>> {
    (1..=n)
        .map(|i| {
            let s = Arc::clone(shared);
            std::thread::Builder::new()
                .name(std::format!("mobilenet-{i}"))
                .spawn(move || worker(&s))
                .expect("spawning a pool thread")
        })
        .collect()
}

#[cfg(target_family = "wasm")]
fn spawn_workers(_shared: &Arc<Shared>, _n: usize) -> Vec<JoinHandle<()>> {
    Vec::new()
}

fn backoff(spins: &mut usize) {
    *spins += 1;
    if *spins < SPIN {
        core::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

#[cfg_attr(target_family = "wasm", allow(dead_code))]
fn worker(s: &Shared) {
    let mut seen = s.epoch.load(SeqCst);
    s.started.fetch_add(1, SeqCst);
    loop {
        // Wait for a new job: spin, then park.
        let mut spins = 0;
        loop {
            if s.stop.load(SeqCst) {
                return;
            }
            let e = s.epoch.load(SeqCst);
            if e != seen {
                seen = e;
                break;
            }
            if spins < SPIN {
                spins += 1;
                core::hint::spin_loop();
                continue;
            }
            let guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.sleeping.fetch_add(1, SeqCst);
            let mut guard = guard;
            while s.epoch.load(SeqCst) == seen && !s.stop.load(SeqCst) {
                guard = s.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
            s.sleeping.fetch_sub(1, SeqCst);
            drop(guard);
            spins = 0;
        }
        s.active.fetch_add(1, SeqCst);
        let ptr = s.job.load(SeqCst);
        if !ptr.is_null() {
            // SAFETY: `ptr` was published by `run`, which keeps the job alive until `active` is
            // back to 0; this worker counted itself in `active` before loading it.
            let job = unsafe { &*ptr };
            s.work(job);
        }
        s.active.fetch_sub(1, SeqCst);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        {
            let _g = self.shared.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl core::fmt::Debug for Pool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Pool({} threads)", self.threads())
    }
}

/// A pointer that may cross threads: used where each task touches its own elements only.
struct SendPtr<T>(*mut T);
// SAFETY: the pointer is only dereferenced at indices that one task owns exclusively (see the
// callers), so sharing it is sharing disjoint `&mut T`s, which is sound for `T: Send`.
unsafe impl<T: Send> Sync for SendPtr<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for SendPtr<T> {}

/// Run `f(input, output, scratch)` for every image of a batch on the pool: task `t` of
/// `min(threads, scratch.len(), images)` takes images `t`, `t + tasks`, ... with `scratch[t]`.
/// Results do not depend on the thread count. Allocates nothing.
///
/// # Panics
///
/// If `inputs` and `outputs` differ in length, or `scratch` is empty for a non-empty batch.
pub fn batch<I: Sync, O: Send, S: Send>(
    pool: &Pool,
    inputs: &[I],
    outputs: &mut [O],
    scratch: &mut [S],
    f: impl Fn(&I, &mut O, &mut S) + Sync,
) {
    assert_eq!(
        inputs.len(),
        outputs.len(),
        "a batch has as many outputs as inputs"
    );
    if inputs.is_empty() {
        return;
    }
    assert!(
        !scratch.is_empty(),
        "a batch needs at least one scratch arena"
    );
    let tasks = pool.threads().min(scratch.len()).min(inputs.len());
    let (out, scr) = (SendPtr(outputs.as_mut_ptr()), SendPtr(scratch.as_mut_ptr()));
    let n = inputs.len();
    pool.run(tasks, &|t| {
        let (out, scr) = (&out, &scr);
        // SAFETY: `pool.run` calls each `t` once, so `scratch[t]` (t < tasks <= scratch.len())
        // is used by this task only.
        let s = unsafe { &mut *scr.0.add(t) };
        for i in (t..n).step_by(tasks) {
            // SAFETY: image `i` belongs to task `i % tasks` only, and `i < n == outputs.len()`.
            let o = unsafe { &mut *out.0.add(i) };
            f(&inputs[i], o, s);
        }
    });
}

/// A pool shared by everything in the process that does not bring its own: one thread per
/// available core, started on first use.
pub fn global() -> &'static Pool {
    static POOL: std::sync::OnceLock<Pool> = std::sync::OnceLock::new();
    POOL.get_or_init(Pool::with_available_cores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn every_task_runs_exactly_once_for_any_thread_count() {
        for threads in [1, 2, 3, 5] {
            let pool = Pool::new(threads);
            assert_eq!(
                pool.threads(),
                if cfg!(target_family = "wasm") {
                    1
                } else {
                    threads
                }
            );
            for n in [0usize, 1, 2, 3, 7, 64, 1000] {
                let hits: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
                for _ in 0..20 {
                    pool.run(n, &|i| {
                        hits[i].fetch_add(1, SeqCst);
                    });
                }
                assert!(
                    hits.iter().all(|h| h.load(SeqCst) == 20),
                    "{threads} threads, {n} tasks"
                );
            }
        }
    }

    #[test]
    fn back_to_back_jobs_and_parked_workers() {
        let pool = Pool::new(3);
        let sum = AtomicUsize::new(0);
        for round in 0..2000 {
            pool.run(4, &|i| {
                sum.fetch_add(i + round, SeqCst);
            });
            if round % 500 == 0 {
                // Long enough for the workers to park.
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        let expect: usize = (0..2000).map(|r| 6 + 4 * r).sum();
        assert_eq!(sum.load(SeqCst), expect);
    }

    #[test]
    #[cfg(panic = "unwind")] // catches the task's panic
    fn a_panicking_task_is_reported_after_the_others_finish() {
        let pool = Pool::new(2);
        let ran = AtomicUsize::new(0);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.run(8, &|i| {
                ran.fetch_add(1, SeqCst);
                assert!(i != 3, "task 3 fails");
            })
        }));
        assert!(r.is_err());
        assert_eq!(ran.load(SeqCst), 8);
        // The pool still works.
        let again = AtomicUsize::new(0);
        pool.run(5, &|_| {
            again.fetch_add(1, SeqCst);
        });
        assert_eq!(again.load(SeqCst), 5);
    }

    #[test]
    #[cfg(not(target_family = "wasm"))] // spawns threads
    fn a_nested_or_concurrent_job_runs_inline() {
        let pool = Pool::new(2);
        let inner = AtomicUsize::new(0);
        pool.run(2, &|_| {
            pool.run(3, &|_| {
                inner.fetch_add(1, SeqCst);
            });
        });
        assert_eq!(inner.load(SeqCst), 6);
        let total = AtomicUsize::new(0);
        std::thread::scope(|sc| {
            for _ in 0..3 {
                sc.spawn(|| {
                    for _ in 0..200 {
                        pool.run(4, &|_| {
                            total.fetch_add(1, SeqCst);
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(SeqCst), 3 * 200 * 4);
    }

    #[test]
    fn batch_gives_every_image_its_output() {
        for threads in [1, 2, 3] {
            let pool = Pool::new(threads);
            let inputs: Vec<u32> = (0..11).collect();
            let mut outputs = std::vec![0u32; 11];
            let mut scratch = std::vec![0u32; 4];
            batch(&pool, &inputs, &mut outputs, &mut scratch, |x, y, s| {
                *s += 1;
                *y = x * 10;
            });
            assert_eq!(outputs, (0..11).map(|x| x * 10).collect::<Vec<_>>());
            assert_eq!(scratch.iter().sum::<u32>(), 11);
        }
    }
}
