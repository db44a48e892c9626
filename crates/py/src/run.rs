//! Running a kernel: the GIL released, Ctrl-C turned into `KeyboardInterrupt`.

use std::sync::{Mutex, PoisonError, mpsc};
use std::time::Duration;

use nocopy_core::{Cancel, Error, NEVER};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::error::CoreError;

/// Inputs below this many elements run on the calling thread with the GIL held: releasing it
/// costs more than the kernel.
const DETACH_FROM: usize = 1 << 15;
/// From this many elements on (a few milliseconds of work), the kernel runs on a worker thread
/// while this one watches for Ctrl-C; below it, it runs here without the GIL, since spawning
/// the watcher would cost more than the wait for a signal saves.
const WATCH_FROM: usize = 1 << 22;
/// How often a waiting caller looks for a pending Ctrl-C.
const POLL: Duration = Duration::from_millis(20);

/// Runs `work` on `elements` elements: inline for small inputs, without the GIL for medium ones,
/// and for large ones on a worker thread while this thread, the GIL released, polls for signals.
/// A Ctrl-C sets the cancellation flag the kernel polls per block, waits for the kernel to stop,
/// and raises `KeyboardInterrupt`.
pub(crate) fn run<T: Send>(
    py: Python<'_>,
    elements: usize,
    work: impl FnOnce(&Cancel) -> Result<T, Error> + Send,
) -> PyResult<T> {
    if elements < DETACH_FROM {
        return work(&NEVER).map_err(|e| CoreError(e).into());
    }
    if elements < WATCH_FROM {
        return py.detach(|| work(&NEVER)).map_err(|e| CoreError(e).into());
    }
    let cancel = Cancel::new();
    let (tx, rx) = mpsc::channel();
    // The receiver is waited on without the GIL, so it must be shareable.
    let rx = Mutex::new(rx);
    let mut interrupt: Option<PyErr> = None;
    let outcome = std::thread::scope(|scope| {
        let cancel = &cancel;
        let worker = scope.spawn(move || {
            // A send only fails once the receiver is gone, and it outlives the scope.
            let _ = tx.send(work(cancel));
        });
        loop {
            match py.detach(|| rx.lock().unwrap_or_else(PoisonError::into_inner).recv_timeout(POLL))
            {
                Ok(result) => break Ok(result),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if interrupt.is_none()
                        && let Err(e) = py.check_signals()
                    {
                        cancel.cancel();
                        interrupt = Some(e);
                    }
                }
                // The worker dropped its sender without sending: it panicked.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break Err(worker.join().expect_err("a worker that sent nothing panicked"));
                }
            }
        }
    });
    match (outcome, interrupt) {
        (_, Some(e)) => Err(e),
        (Ok(result), None) => result.map_err(|e| CoreError(e).into()),
        (Err(panic), None) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(PyRuntimeError::new_err(format!("nocopy internal error (please report): {msg}")))
        }
    }
}
