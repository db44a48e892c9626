//! Cooperative cancellation: a flag kernels poll once per block.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// A flag that asks a running kernel to stop; kernels poll it once per block.
#[derive(Debug, Default)]
pub struct Cancel(AtomicBool);

/// A flag nobody ever sets, for callers that never cancel.
pub static NEVER: Cancel = Cancel::new();

impl Cancel {
    /// A flag that is not set.
    #[must_use]
    pub const fn new() -> Self {
        Cancel(AtomicBool::new(false))
    }

    /// Asks the kernel that polls this flag to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`Cancel::cancel`] was called.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(Error::Cancelled)` once the flag is set.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() { Err(Error::Cancelled) } else { Ok(()) }
    }
}
