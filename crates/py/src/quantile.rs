//! The selection kernel behind `quantile`, `percentile`, `median` and their NaN forms; the
//! public functions (NumPy's argument handling and result types) are in `nocopy/_stats.py`.

use nocopy_core::quantile::{Method, Quantiled, Spec, Stat, quantile};
use nocopy_core::{AnyArray, Axes, dispatch};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::convert::{Memory, asarray, policy, to_array};
use crate::reductions::AxisArg;
use crate::run::run;

/// Quantiles `q` (or the median) of `a` over `axis`, shaped `(len(q), kept axes...)` (no
/// leading axis for the median): the input's dtype for discrete methods, else float64 holding
/// the result of NumPy's arithmetic (already rounded to float32 when `single`). Also says
/// whether some lane had no value.
#[pyfunction]
#[pyo3(signature = (a, q, axis, method, *, skipna, single, median, copy=None))]
#[allow(clippy::too_many_arguments, clippy::needless_pass_by_value, clippy::match_same_arms)]
pub(crate) fn _select(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    q: Vec<f64>,
    axis: Option<AxisArg>,
    method: &str,
    skipna: bool,
    single: bool,
    median: bool,
    copy: Option<bool>,
) -> PyResult<(Py<PyAny>, bool)> {
    let method = Method::from_name(method)
        .ok_or_else(|| PyValueError::new_err(format!("{method:?} is not a valid method")))?;
    let stat = if median { Stat::Median } else { Stat::Quantiles(&q, method) };
    let spec = Spec { stat, skipna, single };
    let axes = axis.map_or(Axes::All, |a| a.0);
    let array = asarray(a)?;
    let memory = Memory::of(&array)?;
    let work = memory.work().saturating_mul(q.len().max(1));
    let (values, empty) = run(py, work, |cancel| {
        let source = memory.open(policy(copy), cancel)?;
        dispatch!(source.view(), v => {
            let out = quantile(&v, &axes, &spec, cancel)?;
            let values: AnyArray = match out.values {
                Quantiled::Same(x) => x.into(),
                Quantiled::Float(x) => x.into(),
            };
            Ok((values, out.empty_lane))
        })
    })?;
    Ok((to_array(py, values, false)?.unbind(), empty))
}
