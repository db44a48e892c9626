//! The kernels behind `nocopy.KMeans`; the estimator (scikit-learn's parameters, checks,
//! random draws and `n_init` loop) is in `nocopy/_kmeans.py`.

use ndarray::{Array2, ArrayView2, Ix2};
use nocopy_core::kmeans::{Event, Points, assign, lloyd, plusplus};
use nocopy_core::{AnyView, Error};
use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2, ToPyArray};
use pyo3::prelude::*;

use nocopy_core::mem;

use crate::convert::{Memory, asarray};
use crate::error::CoreError;
use crate::run::run;

/// The points of `x` (float32 or float64, any layout): `body` with the working type `R`
/// matching `x`'s; `centre` and `weights` as scikit-learn's mean and sample weights. `passes`
/// (times the number of centres) says how much work it is: how to run it (see [`run`]).
macro_rules! with_points {
    ($py:expr, $x:expr, $centre:expr, $weights:expr, $passes:expr, |$p:ident, $r:ident, $cancel:ident| $body:expr) => {{
        let a = asarray($x)?;
        let m = Memory::of(&a)?;
        let centre = $centre.as_slice()?;
        let centre = mem::collect(centre.len(), centre.iter().copied()).map_err(CoreError)?;
        let weights = $weights.as_slice()?;
        let weights = mem::collect(weights.len(), weights.iter().copied()).map_err(CoreError)?;
        let work = m.work().saturating_mul($passes);
        run($py, work, |$cancel| {
            let src = m.open(nocopy_core::CopyPolicy::IfNeeded, $cancel)?;
            match src.view() {
                AnyView::F32(v) => {
                    type $r = f32;
                    let $p = Points { x: table(v)?, centre, weights };
                    $body.map(Out::F32)
                }
                AnyView::F64(v) => {
                    type $r = f64;
                    let $p = Points { x: table(v)?, centre, weights };
                    $body.map(Out::F64)
                }
                other => Err(Error::Invalid(format!(
                    "X must be float32 or float64, not {}",
                    other.dtype()
                ))),
            }
        })?
    }};
}

/// A result in float32 or float64.
enum Out<A, B> {
    F32(A),
    F64(B),
}

fn table<T>(v: ndarray::ArrayViewD<'_, T>) -> nocopy_core::Result<ArrayView2<'_, T>> {
    v.into_dimensionality::<Ix2>()
        .map_err(|_| Error::Invalid("X must be a 2-dimensional array.".into()))
}

/// Centres given as a 2-d float32 or float64 array: one of the two.
type Centres = (Option<Array2<f32>>, Option<Array2<f64>>);

fn centres(obj: &Bound<'_, PyAny>) -> PyResult<Centres> {
    if let Ok(a) = obj.extract::<PyReadonlyArray2<'_, f32>>() {
        return Ok((Some(mem::owned(&a.as_array()).map_err(CoreError)?), None));
    }
    let a: PyReadonlyArray2<'_, f64> = obj.extract()?;
    Ok((None, Some(mem::owned(&a.as_array()).map_err(CoreError)?)))
}

/// Lloyd's iterations from `init` (centres already moved by `centre`): `(centers, labels,
/// inertia, n_iter)`. `on_event(kind, iter, a, b)` hears `("iteration", i, inertia, nan)`,
/// `("strict", i, nan, nan)` and `("shift", i, shift, tol)`; inertia is reported when
/// `report_inertia`.
#[pyfunction]
#[pyo3(signature = (x, centre, weights, init, max_iter, tol, report_inertia, on_event))]
#[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)] // PyO3 hands over owned values
pub(crate) fn _lloyd(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    centre: PyReadonlyArray1<'_, f64>,
    weights: PyReadonlyArray1<'_, f64>,
    init: &Bound<'_, PyAny>,
    max_iter: usize,
    tol: f64,
    report_inertia: bool,
    on_event: Option<Py<PyAny>>,
) -> PyResult<(Py<PyAny>, Py<PyAny>, f64, usize)> {
    let (init32, init64) = centres(init)?;
    let mut tell = |e: Event| {
        if let Some(cb) = &on_event {
            let (kind, iter, a, b) = match e {
                Event::Iteration { iter, inertia } => ("iteration", iter, inertia, f64::NAN),
                Event::Strict { iter } => ("strict", iter, f64::NAN, f64::NAN),
                Event::Shift { iter, shift, tol } => ("shift", iter, shift, tol),
            };
            // What the callback raises is reported by Python as unraisable, not lost silently.
            Python::attach(|py| {
                if let Err(err) = cb.call1(py, (kind, iter, a, b)) {
                    err.write_unraisable(py, None);
                }
            });
        }
    };
    let k = init.len()?;
    let out = with_points!(py, x, centre, weights, k.saturating_mul(max_iter), |p, R, cancel| {
        let init: Array2<R> = pick(init32.as_ref(), init64.as_ref())?;
        lloyd(&p, init, max_iter, tol, report_inertia, cancel, &mut tell)
    });
    Ok(match out {
        Out::F32(f) => (
            f.centers.to_pyarray(py).into_any().unbind(),
            PyArray1::from_vec(py, f.labels).into_any().unbind(),
            f.inertia,
            f.n_iter,
        ),
        Out::F64(f) => (
            f.centers.to_pyarray(py).into_any().unbind(),
            PyArray1::from_vec(py, f.labels).into_any().unbind(),
            f.inertia,
            f.n_iter,
        ),
    })
}

/// The initial centres in the working type: whichever of the two was given, converted.
fn pick<R: nocopy_core::distance::Real>(
    a: Option<&Array2<f32>>,
    b: Option<&Array2<f64>>,
) -> nocopy_core::Result<Array2<R>> {
    match (a, b) {
        (Some(a), _) => mem::shaped(
            a.raw_dim(),
            mem::collect(a.len(), a.iter().map(|&v| R::from_f64(f64::from(v))))?,
        ),
        (_, Some(b)) => {
            mem::shaped(b.raw_dim(), mem::collect(b.len(), b.iter().map(|&v| R::from_f64(v)))?)
        }
        _ => Err(Error::Invalid("init must be a float32 or float64 array".into())),
    }
}

/// scikit-learn's greedy k-means++: the rows of the `k` initial centres, from the first row
/// and the uniform draws (`k - 1` rows, one column per local trial).
#[pyfunction]
#[pyo3(signature = (x, centre, weights, k, first, uniforms))]
#[allow(clippy::needless_pass_by_value)] // PyO3 hands over owned values
pub(crate) fn _plusplus(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    centre: PyReadonlyArray1<'_, f64>,
    weights: PyReadonlyArray1<'_, f64>,
    k: usize,
    first: usize,
    uniforms: PyReadonlyArray2<'_, f64>,
) -> PyResult<Vec<usize>> {
    let u = mem::owned(&uniforms.as_array()).map_err(CoreError)?;
    let passes = k.saturating_mul(u.ncols() + 1);
    let out = with_points!(py, x, centre, weights, passes, |p, R, cancel| {
        plusplus::<_, R>(&p, k, first, &u.view(), cancel)
    });
    Ok(match out {
        Out::F32(v) | Out::F64(v) => v,
    })
}

/// Each row's nearest centre and the inertia: `(labels, inertia)`; `centers` has `x`'s dtype.
#[pyfunction]
#[pyo3(signature = (x, centre, weights, centers))]
#[allow(clippy::needless_pass_by_value)] // PyO3 hands over owned values
pub(crate) fn _assign(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    centre: PyReadonlyArray1<'_, f64>,
    weights: PyReadonlyArray1<'_, f64>,
    centers: &Bound<'_, PyAny>,
) -> PyResult<(Py<PyAny>, f64)> {
    let (c32, c64) = centres(centers)?;
    let out = with_points!(py, x, centre, weights, centers.len()?, |p, R, cancel| {
        let c: Array2<R> = pick(c32.as_ref(), c64.as_ref())?;
        assign(&p, &c.view(), cancel)
    });
    let (labels, inertia) = match out {
        Out::F32(v) | Out::F64(v) => v,
    };
    Ok((PyArray1::from_vec(py, labels).into_any().unbind(), inertia))
}

/// scikit-learn's absolute tolerance: `tol` times the mean of the columns' variances about
/// `centre` (their means), in one pass over `x`.
#[pyfunction]
#[pyo3(signature = (x, centre, weights, tol))]
#[allow(clippy::needless_pass_by_value)] // PyO3 hands over owned values
pub(crate) fn _tolerance(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    centre: PyReadonlyArray1<'_, f64>,
    weights: PyReadonlyArray1<'_, f64>,
    tol: f64,
) -> PyResult<f64> {
    let out = with_points!(py, x, centre, weights, 1, |p, _R, cancel| {
        Ok::<_, Error>(tol * p.spread(cancel)? / p.x.len().max(1) as f64)
    });
    Ok(match out {
        Out::F32(v) | Out::F64(v) => v,
    })
}
