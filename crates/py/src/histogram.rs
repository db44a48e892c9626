//! The counting kernel behind `histogram`; the public function (NumPy's bins, range and density
//! handling) is in `nocopy/_stats.py`.

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use nocopy_core::{
    AnyArray, AnyView, Cancel, Element, Error, Result, describe, dispatch, histogram, mem,
};
use numpy::PyArray1;
use pyo3::prelude::*;

use crate::convert::{Memory, asarray, policy, to_numpy};
use crate::run::run;

/// Counts of `a`'s values between `edges` (int64), or with `weights` (float64, `a`'s shape)
/// their sums (float64). `uniform` says the edges are evenly spaced, as NumPy makes them.
#[pyfunction]
#[pyo3(signature = (a, edges, uniform, weights=None, *, copy=None))]
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn _histogram(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    edges: Vec<f64>,
    uniform: bool,
    weights: Option<&Bound<'_, PyAny>>,
    copy: Option<bool>,
) -> PyResult<Py<PyAny>> {
    let array = asarray(a)?;
    let memory = Memory::of(&array)?;
    let Some(weights) = weights else {
        let counts = run(py, memory.work().saturating_add(edges.len()), |cancel| {
            let source = memory.open(policy(copy), cancel)?;
            dispatch!(source.view(), v => histogram::counts(&v, &edges, uniform, cancel))
        })?;
        let counts: Vec<i64> = counts.into_iter().map(u64::cast_signed).collect();
        return Ok(PyArray1::from_vec(py, counts).into_any().unbind());
    };
    let warray = asarray(weights)?;
    let wmemory = Memory::of(&warray)?;
    let sums = run(py, memory.work().saturating_add(edges.len()), |cancel| {
        let source = memory.open(policy(copy), cancel)?;
        let wsource = wmemory.open(policy(copy), cancel)?;
        let AnyView::F64(w) = wsource.view() else {
            return Err(Error::Invalid("internal error: weights must be float64".into()));
        };
        dispatch!(source.view(), v => histogram::weighted(&v, &w, &edges, uniform, cancel))
    })?;
    Ok(PyArray1::from_vec(py, sums).into_any().unbind())
}

/// The least and greatest value of `a` in one pass, as `(a.min(), a.max())` (NaN if any value
/// is NaN; the element type kept): the range of a histogram whose range is not given. `None`
/// when `a` is empty.
#[pyfunction]
#[pyo3(signature = (a, *, copy=None))]
pub(crate) fn _extremes(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    copy: Option<bool>,
) -> PyResult<Option<(Py<PyAny>, Py<PyAny>)>> {
    fn pair<T: Element>(
        v: &ArrayViewD<'_, T>,
        cancel: &Cancel,
    ) -> Result<Option<(AnyArray, AnyArray)>>
    where
        ArrayD<T>: Into<AnyArray>,
    {
        let one = |x: T| mem::shaped(IxDyn(&[]), mem::filled(1, x)?).map(Into::into);
        describe::extremes(v, cancel)?.map(|(lo, hi)| Ok((one(lo)?, one(hi)?))).transpose()
    }
    let array = asarray(a)?;
    let memory = Memory::of(&array)?;
    let found = run(py, memory.work(), |cancel| {
        let source = memory.open(policy(copy), cancel)?;
        dispatch!(source.view(), v => pair(&v, cancel))
    })?;
    let half = memory.is_half();
    found.map(|(lo, hi)| Ok((to_numpy(py, lo, half)?, to_numpy(py, hi, half)?))).transpose()
}
