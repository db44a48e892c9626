//! Running a kernel: the GIL released, Ctrl-C turned into `KeyboardInterrupt`, a panic into a
//! `RuntimeError`.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, PoisonError, mpsc};
use std::time::Duration;

use nocopy_core::{Cancel, Error, NEVER};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::error::CoreError;

/// Work below this many units (about one element read or written, or one multiply-add) runs on
/// the calling thread with the GIL held: releasing it costs more than the kernel.
const DETACH_FROM: usize = 1 << 15;
/// From this much work on (a few milliseconds), the kernel runs on a worker thread while this
/// one watches for Ctrl-C; below it, it runs here without the GIL, since spawning the watcher
/// would cost more than the wait for a signal saves.
const WATCH_FROM: usize = 1 << 22;
/// How often a waiting caller looks for a pending Ctrl-C.
const POLL: Duration = Duration::from_millis(20);

/// Runs `work`, which does about `units` of work (elements read and written, multiply-adds:
/// the caller's estimate, an upper bound rather than a guess low): inline for little work,
/// without the GIL for more, and for much on a worker thread while this thread, the GIL
/// released, polls for signals. A Ctrl-C sets the cancellation flag the kernel polls (every
/// loop that can run for more than a few milliseconds does), waits for the kernel to stop, and
/// raises `KeyboardInterrupt`.
///
/// A panic is a bug; it still reaches Python as a `RuntimeError` naming itself, never as an
/// abort or a `PanicException`.
pub(crate) fn run<T: Send>(
    py: Python<'_>,
    units: usize,
    work: impl FnOnce(&Cancel) -> Result<T, Error> + Send,
) -> PyResult<T> {
    if units < DETACH_FROM {
        return finish(catch_unwind(AssertUnwindSafe(|| work(&NEVER))));
    }
    if units < WATCH_FROM {
        return finish(py.detach(|| catch_unwind(AssertUnwindSafe(|| work(&NEVER)))));
    }
    let cancel = Cancel::new();
    let (tx, rx) = mpsc::channel();
    // The receiver is waited on without the GIL, so it must be shareable.
    let rx = Mutex::new(rx);
    let mut interrupt: Option<PyErr> = None;
    let outcome = std::thread::scope(|scope| {
        let cancel = &cancel;
        let job = move || {
            // A send only fails once the receiver is gone, and it outlives the scope.
            let _ = tx.send(catch_unwind(AssertUnwindSafe(|| work(cancel))));
        };
        // A thread the system refuses (a process limit): the work is done here, unwatched.
        let job = std::sync::Arc::new(Mutex::new(Some(job)));
        let spawned =
            std::thread::Builder::new().name("nocopy-watched".into()).spawn_scoped(scope, {
                let job = std::sync::Arc::clone(&job);
                move || {
                    if let Some(job) = job.lock().unwrap_or_else(PoisonError::into_inner).take() {
                        job();
                    }
                }
            });
        if spawned.is_err()
            && let Some(job) = job.lock().unwrap_or_else(PoisonError::into_inner).take()
        {
            py.detach(job);
        }
        loop {
            match py.detach(|| rx.lock().unwrap_or_else(PoisonError::into_inner).recv_timeout(POLL))
            {
                Ok(result) => break result,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if interrupt.is_none()
                        && let Err(e) = py.check_signals()
                    {
                        cancel.cancel();
                        interrupt = Some(e);
                    }
                }
                // The job dropped its sender unsent: it cannot, since it catches panics.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break Err(Box::new("the kernel's thread ended without a result"));
                }
            }
        }
    });
    match interrupt {
        Some(e) => Err(e),
        None => finish(outcome),
    }
}

/// The kernel's result as Python sees it.
fn finish<T>(outcome: Result<Result<T, Error>, Box<dyn Any + Send>>) -> PyResult<T> {
    match outcome {
        Ok(result) => result.map_err(|e| CoreError(e).into()),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(PyRuntimeError::new_err(format!("nocopy internal error (please report): {msg}")))
        }
    }
}
