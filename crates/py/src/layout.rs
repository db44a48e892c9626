//! `inspect` and the thread-count controls.

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::{Memory, asarray};
use crate::error::CoreError;

/// How an array is laid out in memory, and whether nocopy reads it in place.
#[pyclass(frozen, get_all, module = "nocopy")]
#[allow(clippy::struct_excessive_bools)] // NumPy's own flags, one field each
pub(crate) struct Layout {
    /// The array's dtype.
    dtype: Py<PyAny>,
    /// Length of each axis.
    shape: Py<PyTuple>,
    /// Byte step along each axis (zero or negative allowed).
    strides: Py<PyTuple>,
    /// Bytes per element.
    itemsize: usize,
    /// Whether the array is C-contiguous.
    c_contiguous: bool,
    /// Whether the array is Fortran-contiguous.
    f_contiguous: bool,
    /// Whether every element is aligned to its size (NumPy's ``ALIGNED`` flag).
    aligned: bool,
    /// Whether elements are stored in this machine's byte order.
    native_byteorder: bool,
    /// Whether the array may be written.
    writeable: bool,
    /// Whether nocopy's kernels read the array in place.
    zero_copy: bool,
    /// Why the array is copied, or ``None`` when it is read in place.
    reason: Option<String>,
}

#[pymethods]
impl Layout {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Layout(dtype={}, shape={}, strides={}, itemsize={}, c_contiguous={}, f_contiguous={}, \
             aligned={}, native_byteorder={}, writeable={}, zero_copy={}, reason={})",
            self.dtype.bind(py).repr()?,
            self.shape.bind(py).repr()?,
            self.strides.bind(py).repr()?,
            self.itemsize,
            py_bool(self.c_contiguous),
            py_bool(self.f_contiguous),
            py_bool(self.aligned),
            py_bool(self.native_byteorder),
            py_bool(self.writeable),
            py_bool(self.zero_copy),
            self.reason.as_ref().map_or_else(|| "None".to_string(), |r| format!("{r:?}")),
        ))
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// Reports an array's layout and whether nocopy reads it in place, and if not, why.
///
/// Parameters
/// ----------
/// a : array_like
///     The array (anything ``numpy.asarray`` accepts).
///
/// Returns
/// -------
/// Layout
///     ``dtype, shape, strides, itemsize, c_contiguous, f_contiguous, aligned,
///     native_byteorder, writeable, zero_copy, reason``.
///
/// Raises
/// ------
/// TypeError
///     For a dtype nocopy does not compute on (object, string, complex, structured).
///
/// Examples
/// --------
/// >>> import numpy as np, nocopy as nc
/// >>> x = np.zeros((4, 3))
/// >>> nc.inspect(x[::-1, ::2]).zero_copy
/// True
/// >>> nc.inspect(x.astype(">f8")).reason
/// 'non-native byte order (big-endian) is byte-swapped'
#[pyfunction]
pub(crate) fn inspect(a: &Bound<'_, PyAny>) -> PyResult<Layout> {
    let py = a.py();
    let array = asarray(a)?;
    let memory = Memory::of(&array)?;
    let report = memory.inspect().map_err(CoreError)?;
    let l = &memory.layout;
    Ok(Layout {
        dtype: array.getattr(pyo3::intern!(py, "dtype"))?.unbind(),
        shape: PyTuple::new(py, &l.shape)?.unbind(),
        strides: PyTuple::new(py, &l.strides)?.unbind(),
        itemsize: l.dtype.itemsize(),
        c_contiguous: report.c_contiguous,
        f_contiguous: report.f_contiguous,
        aligned: report.aligned,
        native_byteorder: report.native_byteorder,
        writeable: l.writeable,
        zero_copy: report.reason.is_none(),
        reason: report.reason.map(|r| r.to_string()),
    })
}

/// Reads a C-contiguous ``uint64`` array once on every thread and returns a checksum.
///
/// A probe of the machine's read bandwidth for ``python -m nocopy.bench``: almost no arithmetic,
/// so its time is the time to read the memory.
///
/// Examples
/// --------
/// >>> import numpy as np, nocopy._native as native
/// >>> native._read_probe(np.arange(10, dtype=np.uint64))
/// 45
#[pyfunction(name = "_read_probe")]
pub(crate) fn read_probe(py: Python<'_>, a: &Bound<'_, PyAny>) -> PyResult<u64> {
    let array = asarray(a)?;
    let memory = Memory::of(&array)?;
    crate::run::run(py, memory.work(), |cancel| {
        let source = memory.open(nocopy_core::CopyPolicy::Never, cancel)?;
        match source.view() {
            nocopy_core::AnyView::U64(v) => {
                v.as_slice().map(nocopy_core::pool::read_probe).ok_or_else(|| {
                    nocopy_core::Error::Invalid("read_probe needs a C-contiguous array".into())
                })
            }
            other => Err(nocopy_core::Error::Invalid(format!(
                "read_probe needs uint64, not {}",
                other.dtype()
            ))),
        }
    })
}

/// Runs ``rounds`` rounds of float32 fused multiply-adds on every thread, in 256-bit (AVX2) or
/// 512-bit (``wide``, AVX-512) registers, and returns the floating-point operations done (0 where
/// the CPU lacks them): a probe of the arithmetic peak for ``python -m nocopy.bench``.
///
/// Examples
/// --------
/// >>> import nocopy._native as native
/// >>> native._fma_probe(10, False) % 160
/// 0
#[pyfunction(name = "_fma_probe")]
pub(crate) fn fma_probe(py: Python<'_>, rounds: u64, wide: bool) -> PyResult<u64> {
    crate::run::run(py, usize::MAX, |_| Ok(nocopy_core::simd::fma_probe(rounds, wide)))
}

/// The number of threads nocopy's kernels use.
///
/// Set by ``NOCOPY_NUM_THREADS`` at start-up, :func:`nocopy.set_num_threads`, or
/// :func:`nocopy.threads`; the default is the number of CPUs.
///
/// Examples
/// --------
/// >>> import nocopy as nc
/// >>> nc.get_num_threads() >= 1
/// True
#[pyfunction]
pub(crate) fn get_num_threads() -> usize {
    nocopy_core::pool::num_threads()
}

/// Sets the number of threads nocopy's kernels use (1 to 1024).
///
/// Results do not depend on it: every kernel gives the same bits for any thread count. A child
/// made by ``os.fork()`` starts its own threads, as many as its parent's pool had.
///
/// Parameters
/// ----------
/// n : int
///     Number of threads.
///
/// Raises
/// ------
/// ValueError
///     For fewer than 1 or more than 1024, at once.
///
/// Examples
/// --------
/// >>> import nocopy as nc
/// >>> before = nc.get_num_threads()
/// >>> nc.set_num_threads(1)
/// >>> nc.get_num_threads()
/// 1
/// >>> nc.set_num_threads(before)
#[pyfunction]
pub(crate) fn set_num_threads(n: usize) -> PyResult<()> {
    nocopy_core::pool::set_num_threads(n).map_err(|e| CoreError(e).into())
}
