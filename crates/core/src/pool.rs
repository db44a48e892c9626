//! The thread pool nocopy's kernels run on, separate from rayon's global pool.

use std::sync::{Arc, PoisonError, RwLock};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{Error, Result};

/// Environment variable that sets the number of threads when the pool is first used.
pub const ENV_THREADS: &str = "NOCOPY_NUM_THREADS";

static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

fn default_threads() -> usize {
    std::env::var(ENV_THREADS)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
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
    if let Some(p) = POOL.read().unwrap_or_else(PoisonError::into_inner).as_ref() {
        return Arc::clone(p);
    }
    let mut slot = POOL.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(p) = slot.as_ref() {
        return Arc::clone(p);
    }
    let p = build(default_threads())
        .or_else(|_| build(1))
        .expect("a one-thread pool can always be built");
    *slot = Some(Arc::clone(&p));
    p
}

/// The number of threads kernels use.
#[must_use]
pub fn num_threads() -> usize {
    pool().current_num_threads()
}

/// Sets the number of threads kernels use from now on (at least 1).
pub fn set_num_threads(threads: usize) -> Result<()> {
    if threads == 0 {
        return Err(Error::Invalid("the number of threads must be at least 1".into()));
    }
    let p = build(threads)?;
    *POOL.write().unwrap_or_else(PoisonError::into_inner) = Some(p);
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
    fn zero_threads_is_refused() {
        assert!(set_num_threads(0).is_err());
        assert!(num_threads() >= 1);
    }
}
