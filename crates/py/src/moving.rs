//! bottleneck's moving-window functions (`move_sum`, ...), with its signatures and errors.

use ndarray::{ArrayViewD, ArrayViewMutD};
use nocopy_core::{Cancel, DType, Element, Error, MoveOp, Window, dispatch};
use numpy::PyArrayMethods;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::convert::{Memory, asarray, empty, policy};
use crate::run::run;

/// The output array, of the float type the input calls for.
enum Out<'a> {
    F32(ArrayViewMutD<'a, f32>),
    F64(ArrayViewMutD<'a, f64>),
}

/// The float types an output can have.
trait Slot: Sized {
    fn slot<'s, 'a>(out: &'s mut Out<'a>) -> Option<&'s mut ArrayViewMutD<'a, Self>>;
}

impl Slot for f32 {
    fn slot<'s, 'a>(out: &'s mut Out<'a>) -> Option<&'s mut ArrayViewMutD<'a, f32>> {
        if let Out::F32(v) = out { Some(v) } else { None }
    }
}

impl Slot for f64 {
    fn slot<'s, 'a>(out: &'s mut Out<'a>) -> Option<&'s mut ArrayViewMutD<'a, f64>> {
        if let Out::F64(v) = out { Some(v) } else { None }
    }
}

fn into<T: Element>(
    a: &ArrayViewD<'_, T>,
    op: MoveOp,
    w: &Window,
    out: &mut Out<'_>,
    cancel: &Cancel,
) -> nocopy_core::Result<()>
where
    T::Float: Slot,
{
    let o = T::Float::slot(out).ok_or_else(|| {
        Error::Invalid("internal error: wrong output type (please report)".into())
    })?;
    nocopy_core::moving_into(a, op, w, o, cancel)
}

/// Reads bottleneck's integer arguments (TypeError for other types), then runs `op`.
fn move_op(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    window: &Bound<'_, PyAny>,
    min_count: Option<&Bound<'_, PyAny>>,
    axis: isize,
    op: MoveOp,
    copy: Option<bool>,
) -> PyResult<Py<PyAny>> {
    let integer = |ob: &Bound<'_, PyAny>, what: &str| {
        if ob.is_instance_of::<pyo3::types::PyBool>() || ob.is_instance_of::<pyo3::types::PyFloat>()
        {
            return Err(PyTypeError::new_err(format!("`{what}` must be an integer")));
        }
        ob.extract::<i64>()
            .map_err(|_| PyTypeError::new_err(format!("`{what}` must be an integer")))
    };
    let window = integer(window, "window")?;
    let min_count =
        min_count.filter(|m| !m.is_none()).map(|m| integer(m, "min_count")).transpose()?;
    let array = asarray(a)?;
    let memory = Memory::of(&array)?;
    // Core checks the values and words its errors as bottleneck does.
    let w = Window { window, min_count, axis };
    let result = if matches!(memory.layout.dtype, DType::F32 | DType::F16) {
        compute::<f32>(py, &memory, op, &w, copy, |v| Out::F32(v))?
    } else {
        compute::<f64>(py, &memory, op, &w, copy, |v| Out::F64(v))?
    };
    if memory.is_half() {
        return Ok(result.call_method1(pyo3::intern!(py, "astype"), ("float16",))?.unbind());
    }
    Ok(result.unbind())
}

/// Runs `op` into a fresh NumPy array of element type `F` (`wrap` names it).
fn compute<'py, F: numpy::Element>(
    py: Python<'py>,
    memory: &Memory<'_>,
    op: MoveOp,
    w: &Window,
    copy: Option<bool>,
    wrap: fn(ArrayViewMutD<'_, F>) -> Out<'_>,
) -> PyResult<Bound<'py, PyAny>> {
    let out = empty::<F>(py, &memory.layout.shape)?;
    {
        let mut rw = out.readwrite();
        let mut o = wrap(rw.as_array_mut());
        // Order statistics take O(log window) a step.
        let steps = match op {
            MoveOp::Median | MoveOp::Rank => 64 - w.window.unsigned_abs().leading_zeros() as usize,
            _ => 1,
        };
        run(py, memory.work().saturating_mul(steps), |cancel| {
            let source = memory.open(policy(copy), cancel)?;
            dispatch!(source.view(), v => into(&v, op, w, &mut o, cancel))
        })?;
    }
    Ok(out.into_any())
}

macro_rules! mover {
    ($name:ident, $op:expr, $doc:literal) => {
        #[doc = $doc]
        #[pyfunction]
        #[pyo3(signature = (a, window, min_count=None, axis=-1, *, copy=None))]
        #[pyo3(text_signature = "(a, window, min_count=None, axis=-1, *, copy=None)")]
        pub(crate) fn $name(
            py: Python<'_>,
            a: &Bound<'_, PyAny>,
            window: &Bound<'_, PyAny>,
            min_count: Option<&Bound<'_, PyAny>>,
            axis: isize,
            copy: Option<bool>,
        ) -> PyResult<Py<PyAny>> {
            move_op(py, a, window, min_count, axis, $op, copy)
        }
    };
}

macro_rules! spread_mover {
    ($name:ident, $op:path, $doc:literal) => {
        #[doc = $doc]
        #[pyfunction]
        #[pyo3(signature = (a, window, min_count=None, axis=-1, ddof=0.0, *, copy=None))]
        #[pyo3(text_signature = "(a, window, min_count=None, axis=-1, ddof=0.0, *, copy=None)")]
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name(
            py: Python<'_>,
            a: &Bound<'_, PyAny>,
            window: &Bound<'_, PyAny>,
            min_count: Option<&Bound<'_, PyAny>>,
            axis: isize,
            ddof: f64,
            copy: Option<bool>,
        ) -> PyResult<Py<PyAny>> {
            move_op(py, a, window, min_count, axis, $op(ddof), copy)
        }
    };
}

mover!(
    move_sum,
    MoveOp::Sum,
    r"Moving window sum along an axis, ignoring NaN, as ``bottleneck.move_sum``.

Parameters
----------
a : array_like
    Input array (not 0-d).
window : int
    Values in each window, from 1 to the length of ``axis``.
min_count : int, optional
    Fewest non-NaN values a window needs for a result (else NaN); default ``window``.
axis : int, optional
    The axis the window moves along; default the last.
copy : None or bool, optional
    The copy policy, as in :func:`nocopy.sum`.

Returns
-------
ndarray
    Same shape as ``a``; float32 for float32 input, else float64. Unlike bottleneck, an
    infinite value leaves the windows after it alone.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.move_sum(np.array([1.0, 2.0, np.nan, 4.0]), window=2)
array([nan,  3., nan, nan])
>>> nc.move_sum(np.array([1.0, 2.0, np.nan, 4.0]), window=2, min_count=1)
array([1., 3., 2., 4.])"
);

mover!(
    move_mean,
    MoveOp::Mean,
    r"Moving window mean along an axis, ignoring NaN, as ``bottleneck.move_mean``.

Parameters are those of :func:`nocopy.move_sum`.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.move_mean(np.array([1.0, 2.0, 3.0, 5.0]), window=2)
array([nan, 1.5, 2.5, 4. ])"
);

spread_mover!(
    move_var,
    MoveOp::Var,
    r"Moving window variance along an axis, ignoring NaN, as ``bottleneck.move_var``.

Parameters are those of :func:`nocopy.move_sum`, and ``ddof`` (default 0): the divisor is
``count - ddof``. Accurate for data far from zero (sums are taken relative to a value of each
stretch of the series, recomputed every few thousand steps).

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.move_var(np.array([1.0, 2.0, 4.0, 4.0]), window=2)
array([ nan, 0.25, 1.  , 0.  ])"
);

spread_mover!(
    move_std,
    MoveOp::Std,
    r"Moving window standard deviation along an axis, ignoring NaN, as ``bottleneck.move_std``.

Parameters are those of :func:`nocopy.move_var`.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.move_std(np.array([1.0, 3.0, 7.0, 7.0]), window=2)
array([nan,  1.,  2.,  0.])"
);

mover!(
    move_min,
    MoveOp::Min,
    r"Moving window minimum along an axis, ignoring NaN, as ``bottleneck.move_min``.

Parameters are those of :func:`nocopy.move_sum`. Linear time whatever the window.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.move_min(np.array([3.0, 1.0, 4.0, 1.0, 5.0]), window=3)
array([nan, nan,  1.,  1.,  1.])"
);

mover!(
    move_max,
    MoveOp::Max,
    r"Moving window maximum along an axis, ignoring NaN, as ``bottleneck.move_max``.

Parameters are those of :func:`nocopy.move_sum`.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.move_max(np.array([3.0, 1.0, 4.0, 1.0, 5.0]), window=3)
array([nan, nan,  4.,  4.,  5.])"
);

mover!(
    move_argmin,
    MoveOp::ArgMin,
    r"Moving window index of the minimum, as ``bottleneck.move_argmin``.

The index counts back from the window's right end (0 is the newest value); on ties the newest
wins. Parameters are those of :func:`nocopy.move_sum`; the result is a float array (NaN where a
window has too few values).

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.move_argmin(np.array([3.0, 1.0, 1.0, 2.0, 5.0]), window=3)
array([nan, nan,  0.,  1.,  2.])"
);

mover!(
    move_argmax,
    MoveOp::ArgMax,
    r"Moving window index of the maximum, as ``bottleneck.move_argmax``.

As :func:`nocopy.move_argmin`, for the maximum.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.move_argmax(np.array([3.0, 1.0, 1.0, 2.0, 5.0]), window=3)
array([nan, nan,  2.,  0.,  0.])"
);

mover!(
    move_median,
    MoveOp::Median,
    r"Moving window median along an axis, ignoring NaN, as ``bottleneck.move_median``.

Parameters are those of :func:`nocopy.move_sum`; an even count gives the mean of the two middle
values. O(log window) a step.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.move_median(np.array([1.0, 5.0, 2.0, 8.0, 3.0]), window=3)
array([nan, nan,  2.,  5.,  3.])
>>> nc.move_median(np.array([1.0, 5.0, 2.0, 8.0]), window=2)
array([nan, 3. , 3.5, 5. ])"
);

mover!(
    move_rank,
    MoveOp::Rank,
    r"Moving window rank of the newest value, as ``bottleneck.move_rank``.

The rank among the window's non-NaN values, scaled from -1 (the least) to 1 (the greatest);
tied values share their mean rank; NaN where the newest value is NaN or a window has fewer than
``min_count`` values. Parameters are those of :func:`nocopy.move_sum`.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.move_rank(np.array([1.0, 3.0, 4.0, 2.0, 2.0]), window=3)
array([ nan,  nan,  1. , -1. , -0.5])"
);
