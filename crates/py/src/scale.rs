//! The kernel behind `standardize` and `minmax_scale`; the public functions (scikit-learn's
//! arguments, the output and aliasing checks) are in `nocopy/_scale.py`.

use ndarray::{ArrayViewMut2, Ix2};
use nocopy_core::scale::{Scaling, scale_in_place, scale_into};
use nocopy_core::{Cancel, Element, Error, dispatch};
use numpy::{PyArray2, PyArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::convert::{Memory, asarray};
use crate::run::run;

/// Scales the columns of the table `a` (samples × features) into `out`, a writeable float32
/// or float64 array of its shape; with `in_place`, `out` is `a` and `a` is not read otherwise.
#[pyfunction]
#[pyo3(signature = (a, out, *, minmax, ddof, with_mean, with_std, lo, hi, in_place))]
#[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)]
pub(crate) fn _scale(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    out: &Bound<'_, PyAny>,
    minmax: bool,
    ddof: f64,
    with_mean: bool,
    with_std: bool,
    lo: f64,
    hi: f64,
    in_place: bool,
) -> PyResult<()> {
    let how = if minmax {
        Scaling::MinMax { lo, hi }
    } else {
        Scaling::Standard { ddof, with_mean, with_std }
    };
    if let Ok(o) = out.cast::<PyArray2<f64>>() {
        let mut rw = o.try_readwrite().map_err(|e| PyTypeError::new_err(e.to_string()))?;
        return into(py, a, rw.as_array_mut(), &how, in_place);
    }
    if let Ok(o) = out.cast::<PyArray2<f32>>() {
        let mut rw = o.try_readwrite().map_err(|e| PyTypeError::new_err(e.to_string()))?;
        return into(py, a, rw.as_array_mut(), &how, in_place);
    }
    Err(PyTypeError::new_err("out must be a 2-d float32 or float64 array in native byte order"))
}

fn into<F: Element>(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    mut out: ArrayViewMut2<'_, F>,
    how: &Scaling,
    in_place: bool,
) -> PyResult<()> {
    if in_place {
        run(py, out.len(), |cancel: &Cancel| scale_in_place(&mut out, how, cancel))?;
        return Ok(());
    }
    let array = asarray(a)?;
    let memory = Memory::of(&array)?;
    run(py, memory.work(), |cancel| {
        let source = memory.open(nocopy_core::CopyPolicy::IfNeeded, cancel)?;
        dispatch!(source.view(), v => {
            let v = v.into_dimensionality::<Ix2>().map_err(|_| Error::Invalid("a must be 2-d".into()))?;
            scale_into(&v, how, &mut out, cancel)
        })
    })?;
    Ok(())
}
