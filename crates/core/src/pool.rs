//! The thread pool nocopy's kernels run on, separate from rayon's global pool.
//!
//! A process that forks (Python's `multiprocessing` with the `fork` start method, data loaders)
//! copies the pool's bookkeeping into the child but none of its threads: a kernel handing work
//! to them would wait for ever. An at-fork handler counts forks, and a pool made before the
//! last fork is left behind (never dropped: its threads do not exist to be stopped) for a new
//! one of the same size. The pool's lock is held across `fork()` itself, so that the child
//! never inherits it locked by a thread it does not have.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockWriteGuard};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{Error, Result};

/// Environment variable that sets the number of threads when the pool is first used.
pub const ENV_THREADS: &str = "NOCOPY_NUM_THREADS";
/// The most threads a pool may have. Each thread reserves a stack, and the kernels gain nothing
/// from more threads than cores; a bound keeps a mistyped count (10⁶) from spawning threads
/// until the system gives out.
pub const MAX_THREADS: usize = 1024;

/// The pool, and the fork generation it was made in.
struct Slot {
    pool: Arc<ThreadPool>,
    generation: u64,
}

static POOL: RwLock<Option<Slot>> = RwLock::new(None);
/// Forks so far (in this process's line of descent).
static FORKS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The pool's lock, held by the forking thread from just before `fork()` to just after.
    static HELD: RefCell<Option<RwLockWriteGuard<'static, Option<Slot>>>> =
        const { RefCell::new(None) };
}

#[cfg(unix)]
fn watch_forks() {
    extern "C" fn prepare() {
        let guard = POOL.write().unwrap_or_else(PoisonError::into_inner);
        HELD.with(|h| *h.borrow_mut() = Some(guard));
    }
    extern "C" fn parent() {
        HELD.with(|h| drop(h.borrow_mut().take()));
    }
    extern "C" fn child() {
        FORKS.fetch_add(1, Ordering::SeqCst);
        HELD.with(|h| drop(h.borrow_mut().take()));
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: the handlers only lock, unlock and count; they are registered once.
        #[allow(unsafe_code)]
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
        }
    });
}

#[cfg(not(unix))]
fn watch_forks() {}

fn default_threads() -> usize {
    std::env::var(ENV_THREADS)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
        .min(MAX_THREADS)
}

fn build(threads: usize) -> Result<Arc<ThreadPool>> {
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("nocopy-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| Error::Invalid(format!("cannot start {threads} threads: {e}")))
}

fn pool() -> Arc<ThreadPool> {
    let generation = FORKS.load(Ordering::SeqCst);
    if let Some(slot) = POOL.read().unwrap_or_else(PoisonError::into_inner).as_ref()
        && slot.generation == generation
    {
        return Arc::clone(&slot.pool);
    }
    watch_forks();
    let mut slot = POOL.write().unwrap_or_else(PoisonError::into_inner);
    let threads = match slot.take() {
        Some(s) if s.generation == generation => {
            let pool = Arc::clone(&s.pool);
            *slot = Some(s);
            return pool;
        }
        Some(stale) => {
            // Made before a fork: its threads are in the parent. Left behind, never dropped
            // (dropping would signal threads this process does not have).
            let threads = stale.pool.current_num_threads();
            std::mem::forget(stale);
            threads
        }
        None => default_threads(),
    };
    let p = build(threads)
        .or_else(|_| build(1))
        .expect("the system refused to start even one thread for nocopy's pool");
    *slot = Some(Slot { pool: Arc::clone(&p), generation });
    p
}

/// The number of threads kernels use.
#[must_use]
pub fn num_threads() -> usize {
    pool().current_num_threads()
}

/// Sets the number of threads kernels use from now on (1 to [`MAX_THREADS`]).
pub fn set_num_threads(threads: usize) -> Result<()> {
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(Error::Invalid(format!(
            "the number of threads must be at least 1 and at most {MAX_THREADS}, not {threads}"
        )));
    }
    watch_forks();
    let p = build(threads)?;
    let generation = FORKS.load(Ordering::SeqCst);
    let mut slot = POOL.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(stale) = slot.take().filter(|s| s.generation != generation) {
        std::mem::forget(stale);
    }
    *slot = Some(Slot { pool: p, generation });
    Ok(())
}

/// The number of threads a kernel started here would use: those of the rayon pool this thread
/// belongs to, else nocopy's.
#[must_use]
pub fn threads_here() -> usize {
    if rayon::current_thread_index().is_some() {
        rayon::current_num_threads()
    } else {
        num_threads()
    }
}

/// Runs `f` inside the pool, so that rayon's parallel iterators in it use the pool's threads.
///
/// Called from inside any rayon pool (a Rust user's own, say), `f` runs there instead.
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() { f() } else { pool().install(f) }
}

/// Reads every word once on all the pool's threads and folds them (wrapping add): a probe of
/// the machine's read bandwidth that does almost no arithmetic.
#[must_use]
pub fn read_probe(words: &[u64]) -> u64 {
    use rayon::prelude::*;
    install(|| {
        words
            .par_chunks(1 << 16)
            .map(|c| {
                let mut acc = [0u64; 8];
                for w in c.chunks_exact(8) {
                    for k in 0..8 {
                        acc[k] = acc[k].wrapping_add(w[k]);
                    }
                }
                acc.iter().fold(0u64, |a, &b| a.wrapping_add(b))
            })
            .reduce(|| 0, u64::wrapping_add)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_reads_whole_words() {
        let words: Vec<u64> = (0..(1 << 17)).collect();
        let n = words.len() as u64;
        assert_eq!(read_probe(&words), n * (n - 1) / 2);
    }

    #[test]
    fn thread_counts_out_of_bounds_are_refused_at_once() {
        assert!(set_num_threads(0).is_err());
        let start = std::time::Instant::now();
        assert!(set_num_threads(1_000_000).is_err());
        assert!(set_num_threads(usize::MAX).is_err());
        assert!(start.elapsed() < std::time::Duration::from_millis(100));
        assert!(num_threads() >= 1);
    }
}
