//! The kernels behind `cdist` and `pdist`; the public functions (scipy's arguments, dtypes and
//! the `out` checks) are in `nocopy/_distance.py`.

use ndarray::{ArrayViewMut1, ArrayViewMut2, Ix2};
use nocopy_core::distance::{Metric, Real, cdist_into, pdist_into};
use nocopy_core::gate::FromAny;
use nocopy_core::{AnyView, Error, dispatch};
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::convert::{Memory, asarray};
use crate::error::CoreError;
use crate::run::run;

fn table<'a, T>(
    v: ndarray::ArrayViewD<'a, T>,
    name: &str,
) -> nocopy_core::Result<ndarray::ArrayView2<'a, T>> {
    v.into_dimensionality::<Ix2>()
        .map_err(|_| Error::Invalid(format!("{name} must be a 2-dimensional array.")))
}

/// scipy's `cdist(xa, xb, metric)` into `out`, a writeable float32 or float64 array of shape
/// `(len(xa), len(xb))`; `xa` and `xb` have one dtype.
#[pyfunction]
#[pyo3(signature = (xa, xb, out, metric, p))]
pub(crate) fn _cdist(
    py: Python<'_>,
    xa: &Bound<'_, PyAny>,
    xb: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
    metric: &str,
    p: f64,
) -> PyResult<()> {
    let metric = Metric::from_name(metric, p).map_err(CoreError)?;
    if let Ok(o) = out.cast::<PyArray2<f64>>() {
        let mut rw = o.try_readwrite().map_err(|e| PyTypeError::new_err(e.to_string()))?;
        return cdist_with(py, xa, xb, rw.as_array_mut(), metric);
    }
    if let Ok(o) = out.cast::<PyArray2<f32>>() {
        let mut rw = o.try_readwrite().map_err(|e| PyTypeError::new_err(e.to_string()))?;
        return cdist_with(py, xa, xb, rw.as_array_mut(), metric);
    }
    Err(PyTypeError::new_err("out must be a 2-d float32 or float64 array in native byte order"))
}

fn cdist_with<R: Real>(
    py: Python<'_>,
    xa: &Bound<'_, PyAny>,
    xb: &Bound<'_, PyAny>,
    mut out: ArrayViewMut2<'_, R>,
    metric: Metric,
) -> PyResult<()> {
    let (a, b) = (asarray(xa)?, asarray(xb)?);
    let (ma, mb) = (Memory::of(&a)?, Memory::of(&b)?);
    // Every pair of rows, feature by feature.
    let work = ma.work().saturating_mul(mb.layout.shape.first().copied().unwrap_or(1).max(1));
    run(py, work.max(out.len()), |cancel| {
        let (sa, sb) = (
            ma.open(nocopy_core::CopyPolicy::IfNeeded, cancel)?,
            mb.open(nocopy_core::CopyPolicy::IfNeeded, cancel)?,
        );
        dispatch!(sa.view(), va => {
            let vb = same_type(sb.view(), &va)?;
            cdist_into(&table(va, "XA")?, &table(vb, "XB")?, metric, &mut out, cancel)
        })
    })?;
    Ok(())
}

/// The view `other` as `like`'s element type (the caller gives both one dtype).
fn same_type<'v, T: FromAny>(
    other: AnyView<'v>,
    _like: &ndarray::ArrayViewD<'_, T>,
) -> nocopy_core::Result<ndarray::ArrayViewD<'v, T>> {
    T::from_any(other).ok_or_else(|| Error::Invalid("XA and XB must have one dtype".into()))
}

/// scipy's `pdist(x, metric)` into `out`, a writeable contiguous float32 or float64 array of
/// `n (n - 1) / 2` elements.
#[pyfunction]
#[pyo3(signature = (x, out, metric, p))]
pub(crate) fn _pdist(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
    metric: &str,
    p: f64,
) -> PyResult<()> {
    let metric = Metric::from_name(metric, p).map_err(CoreError)?;
    if let Ok(o) = out.cast::<PyArray1<f64>>() {
        let mut rw = o.try_readwrite().map_err(|e| PyTypeError::new_err(e.to_string()))?;
        return pdist_with(py, x, rw.as_array_mut(), metric);
    }
    if let Ok(o) = out.cast::<PyArray1<f32>>() {
        let mut rw = o.try_readwrite().map_err(|e| PyTypeError::new_err(e.to_string()))?;
        return pdist_with(py, x, rw.as_array_mut(), metric);
    }
    Err(PyTypeError::new_err("out must be a 1-d float32 or float64 array in native byte order"))
}

fn pdist_with<R: Real>(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    mut out: ArrayViewMut1<'_, R>,
    metric: Metric,
) -> PyResult<()> {
    let a = asarray(x)?;
    let m = Memory::of(&a)?;
    let slice = out.as_slice_mut().ok_or_else(|| PyTypeError::new_err("out must be contiguous"))?;
    let work = m.work().saturating_mul(m.layout.shape.first().copied().unwrap_or(1).max(1));
    run(py, work.max(slice.len()), |cancel| {
        let src = m.open(nocopy_core::CopyPolicy::IfNeeded, cancel)?;
        dispatch!(src.view(), v => pdist_into(&table(v, "X")?, metric, slice, cancel))
    })?;
    Ok(())
}

/// The `k` nearest base rows of each query (`metric`: sqeuclidean, euclidean, cosine,
/// cityblock, ip): `(distances, indices)`; float32 distances when `single`. Both inputs have
/// one dtype.
#[pyfunction]
#[pyo3(signature = (base, queries, k, metric, single))]
pub(crate) fn _knn(
    py: Python<'_>,
    base: &Bound<'_, PyAny>,
    queries: &Bound<'_, PyAny>,
    k: usize,
    metric: &str,
    single: bool,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    let metric = if metric == "ip" {
        Metric::NegInnerProduct
    } else {
        Metric::from_name(metric, 2.0).map_err(CoreError)?
    };
    let (b, q) = (asarray(base)?, asarray(queries)?);
    let (mb, mq) = (Memory::of(&b)?, Memory::of(&q)?);
    let work = mb.work().saturating_mul(mq.layout.shape.first().copied().unwrap_or(1).max(1));
    macro_rules! go {
        ($r:ty) => {{
            let (d, i) = run(py, work, |cancel| {
                let (sb, sq) = (
                    mb.open(nocopy_core::CopyPolicy::IfNeeded, cancel)?,
                    mq.open(nocopy_core::CopyPolicy::IfNeeded, cancel)?,
                );
                dispatch!(sb.view(), vb => {
                    let vq = same_type(sq.view(), &vb)?;
                    nocopy_core::distance::knn::<_, $r>(&table(vb, "base")?, &table(vq, "queries")?, k, metric, cancel)
                })
            })?;
            (PyArray2::from_owned_array(py, d).into_any().unbind(), PyArray2::from_owned_array(py, i).into_any().unbind())
        }};
    }
    Ok(if single { go!(f32) } else { go!(f64) })
}
