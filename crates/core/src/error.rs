//! The one error type of nocopy-core.

use crate::gate::CopyReason;

/// Everything that can go wrong in nocopy-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The element type is not one nocopy computes on (object, string, complex, ...).
    #[error(
        "unsupported dtype {0}: nocopy computes on bool, int8-int64, uint8-uint64, float16-float64"
    )]
    UnsupportedDtype(String),
    /// The caller forbade a copy (`copy=False`) but the layout cannot be viewed in place.
    #[error("a copy is required: {0}")]
    CopyRequired(CopyReason),
    /// The layout reaches outside its buffer, or its extent overflows: corrupt input.
    #[error("corrupt array layout: {0}")]
    Layout(String),
    /// An axis is outside `-ndim..ndim`.
    #[error("axis {axis} is out of bounds for array of dimension {ndim}")]
    Axis {
        /// The axis as the caller gave it.
        axis: isize,
        /// The number of dimensions of the array.
        ndim: usize,
    },
    /// A reduction without identity (min, max, argmin, ...) over an empty slice.
    #[error("{0}")]
    EmptyReduction(String),
    /// `nanargmin`/`nanargmax` over a slice that holds only NaN.
    #[error("All-NaN slice encountered")]
    AllNan,
    /// A parameter has a value the function does not accept.
    #[error("{0}")]
    Invalid(String),
    /// A `.npy` or `.npz` file is malformed or truncated.
    #[error("{0}")]
    Format(String),
    /// Reading a file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The caller cancelled the computation (Ctrl-C).
    #[error("cancelled")]
    Cancelled,
    /// An allocation sized by the input could not be made (Python's `MemoryError`).
    #[error(
        "Unable to allocate {} for {count} values of {itemsize} bytes",
        crate::mem::human_bytes(*count as u128 * *itemsize as u128)
    )]
    Memory {
        /// The number of values asked for.
        count: usize,
        /// The size of each in bytes.
        itemsize: usize,
    },
    /// A shape whose bytes overflow the address space (NumPy's `ValueError`).
    #[error("array is too big: shape {shape:?} holds more bytes than can be addressed")]
    TooBig {
        /// The shape asked for.
        shape: Vec<usize>,
    },
}

impl Error {
    /// The error for a dtype outside the supported set.
    #[must_use]
    pub fn unsupported(dtype: impl Into<String>) -> Self {
        Error::UnsupportedDtype(dtype.into())
    }
}

/// Result with nocopy-core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
