//! The one place core errors become Python exceptions.

use nocopy_core::Error;
use pyo3::exceptions::{PyKeyboardInterrupt, PyMemoryError, PyOSError, PyTypeError, PyValueError};
use pyo3::{PyErr, create_exception, import_exception};

create_exception!(
    nocopy,
    CopyRequiredError,
    PyValueError,
    "Raised with ``copy=False`` when an array cannot be read in place; the message says why."
);

import_exception!(numpy.exceptions, AxisError);

/// A core error on its way to Python (the orphan rule keeps `From<Error> for PyErr` out of reach).
pub(crate) struct CoreError(pub(crate) Error);

impl From<Error> for CoreError {
    fn from(e: Error) -> Self {
        CoreError(e)
    }
}

impl From<CoreError> for PyErr {
    fn from(CoreError(e): CoreError) -> PyErr {
        let msg = e.to_string();
        match e {
            Error::UnsupportedDtype(_) => PyTypeError::new_err(msg),
            Error::CopyRequired(_) => CopyRequiredError::new_err(msg),
            Error::Axis { axis, ndim } => AxisError::new_err((axis, ndim)),
            Error::Io(_) => PyOSError::new_err(msg),
            Error::Cancelled => PyKeyboardInterrupt::new_err(()),
            Error::Memory { .. } => PyMemoryError::new_err(msg),
            _ => PyValueError::new_err(msg),
        }
    }
}

/// Result of work done in core, converted with `?` in a `#[pyfunction]`.
pub(crate) type CoreResult<T> = Result<T, CoreError>;
