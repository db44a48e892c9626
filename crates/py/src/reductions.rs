//! The reductions and `describe`, as NumPy-compatible Python functions.

use ::std::ffi::CString;

use ndarray::ArrayD;
use nocopy_core::{AnyArray, Axes, Cancel, Element, Reduce, Warning, dispatch};
use numpy::{PyArrayDescrMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeWarning, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::{Memory, asarray, policy, to_numpy};
use crate::run::run;

/// NumPy's `axis` argument when given: an integer or a tuple of integers.
pub(crate) struct AxisArg(pub(crate) Axes);

impl<'a, 'py> FromPyObject<'a, 'py> for AxisArg {
    type Error = PyErr;

    fn extract(ob: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(t) = ob.cast::<PyTuple>() {
            let axes = t.iter().map(|x| x.extract::<isize>()).collect::<PyResult<Vec<_>>>()?;
            return Ok(AxisArg(Axes::These(axes)));
        }
        match ob.extract::<isize>() {
            Ok(axis) => Ok(AxisArg(Axes::from(axis))),
            Err(_) => Err(PyTypeError::new_err(format!(
                "axis must be None, an integer or a tuple of integers, not {}",
                ob.get_type().name()?
            ))),
        }
    }
}

/// NumPy's `axis` for `argmin`-like functions when given: one integer.
pub(crate) struct OneAxis(pub(crate) Axes);

impl<'a, 'py> FromPyObject<'a, 'py> for OneAxis {
    type Error = PyErr;

    fn extract(ob: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match ob.extract::<isize>() {
            Ok(axis) => Ok(OneAxis(Axes::from(axis))),
            Err(_) => Err(PyTypeError::new_err(format!(
                "axis must be None or an integer, not {}",
                ob.get_type().name()?
            ))),
        }
    }
}

/// The reduction to run.
#[derive(Clone, Copy)]
pub(crate) enum Op {
    Sum,
    Mean,
    Var,
    Std,
    Min,
    Max,
    ArgMin,
    ArgMax,
    AnyNan,
    AllNan,
    Ss,
}

type Out = (AnyArray, Option<Warning>);

impl Op {
    fn apply<T: Element>(
        self,
        a: &ndarray::ArrayViewD<'_, T>,
        opts: &Reduce,
        cancel: &Cancel,
    ) -> nocopy_core::Result<Out>
    where
        ArrayD<T>: Into<AnyArray>,
        ArrayD<T::Sum>: Into<AnyArray>,
        ArrayD<T::Float>: Into<AnyArray>,
    {
        fn done<O>(r: nocopy_core::Reduced<O>) -> Out
        where
            ArrayD<O>: Into<AnyArray>,
        {
            (r.values.into(), r.warning)
        }
        Ok(match self {
            Op::Sum => done(nocopy_core::sum(a, opts, cancel)?),
            Op::Mean => done(nocopy_core::mean(a, opts, cancel)?),
            Op::Var => done(nocopy_core::var(a, opts, cancel)?),
            Op::Std => done(nocopy_core::std(a, opts, cancel)?),
            Op::Min => done(nocopy_core::min(a, opts, cancel)?),
            Op::Max => done(nocopy_core::max(a, opts, cancel)?),
            Op::ArgMin => done(nocopy_core::argmin(a, opts, cancel)?),
            Op::ArgMax => done(nocopy_core::argmax(a, opts, cancel)?),
            Op::AnyNan => done(nocopy_core::anynan(a, opts, cancel)?),
            Op::AllNan => done(nocopy_core::allnan(a, opts, cancel)?),
            Op::Ss => done(nocopy_core::reduce::ss(a, opts, cancel)?),
        })
    }

    /// Whether the result has the input's own float type (cast back to float16 for float16).
    fn keeps_float(self) -> bool {
        !matches!(self, Op::ArgMin | Op::ArgMax | Op::AnyNan | Op::AllNan)
    }
}

/// Issues NumPy's `RuntimeWarning` for a degenerate slice.
pub(crate) fn warn(py: Python<'_>, warning: Option<Warning>) -> PyResult<()> {
    if let Some(w) = warning {
        let msg = CString::new(w.to_string()).expect("warning text has no NUL");
        PyErr::warn(py, &py.get_type::<PyRuntimeWarning>(), &msg, 1)?;
    }
    Ok(())
}

/// Converts `a`, runs `op` on it through the gate, and returns NumPy's result.
pub(crate) fn reduce(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    op: Op,
    opts: &Reduce,
    copy: Option<bool>,
) -> PyResult<Py<PyAny>> {
    let array = asarray(a)?;
    let memory = Memory::of(&array)?;
    let (values, warning) = run(py, memory.work(), |cancel| {
        let source = memory.open(policy(copy), cancel)?;
        dispatch!(source.view(), v => op.apply(&v, opts, cancel))
    })?;
    warn(py, warning)?;
    to_numpy(py, values, memory.is_half() && op.keeps_float())
}

macro_rules! reduction {
    ($name:ident as $pyname:literal, $op:ident, $skipna:expr, $doc:literal) => {
        #[doc = $doc]
        #[pyfunction(name = $pyname)]
        #[pyo3(signature = (a, axis=None, *, keepdims=false, copy=None))]
        pub(crate) fn $name(
            py: Python<'_>,
            a: &Bound<'_, PyAny>,
            axis: Option<AxisArg>,
            keepdims: bool,
            copy: Option<bool>,
        ) -> PyResult<Py<PyAny>> {
            let opts = Reduce {
                axis: axis.map_or(Axes::All, |a| a.0),
                keepdims,
                ddof: 0.0,
                skipna: $skipna,
            };
            reduce(py, a, Op::$op, &opts, copy)
        }
    };
}

macro_rules! spread {
    ($name:ident as $pyname:literal, $op:ident, $skipna:expr, $doc:literal) => {
        #[doc = $doc]
        #[pyfunction(name = $pyname)]
        #[pyo3(signature = (a, axis=None, *, ddof=0.0, keepdims=false, copy=None))]
        pub(crate) fn $name(
            py: Python<'_>,
            a: &Bound<'_, PyAny>,
            axis: Option<AxisArg>,
            ddof: f64,
            keepdims: bool,
            copy: Option<bool>,
        ) -> PyResult<Py<PyAny>> {
            let opts =
                Reduce { axis: axis.map_or(Axes::All, |a| a.0), keepdims, ddof, skipna: $skipna };
            reduce(py, a, Op::$op, &opts, copy)
        }
    };
}

macro_rules! position {
    ($name:ident as $pyname:literal, $op:ident, $skipna:expr, $doc:literal) => {
        #[doc = $doc]
        #[pyfunction(name = $pyname)]
        #[pyo3(signature = (a, axis=None, *, keepdims=false, copy=None))]
        pub(crate) fn $name(
            py: Python<'_>,
            a: &Bound<'_, PyAny>,
            axis: Option<OneAxis>,
            keepdims: bool,
            copy: Option<bool>,
        ) -> PyResult<Py<PyAny>> {
            let opts = Reduce {
                axis: axis.map_or(Axes::All, |a| a.0),
                keepdims,
                ddof: 0.0,
                skipna: $skipna,
            };
            reduce(py, a, Op::$op, &opts, copy)
        }
    };
}

reduction!(sum as "sum", Sum, false, r"Sum of array elements over the given axes, as ``numpy.sum``.

Parameters
----------
a : array_like
    Input data: any layout, bool, integer or float dtype.
axis : None, int or tuple of ints, optional
    Axes to sum over; ``None`` sums every element.
keepdims : bool, optional
    Keep the reduced axes with length one.
copy : None or bool, optional
    ``None`` reads the data in place when it can and copies otherwise; ``False`` raises
    :class:`nocopy.CopyRequiredError` instead of copying; ``True`` always copies.

Returns
-------
numpy.ndarray or numpy scalar
    ``int64`` for bool and signed integers, ``uint64`` for unsigned ones, the input's float
    type for floats (accumulated in float64, pairwise).

Examples
--------
>>> import numpy as np, nocopy as nc
>>> x = np.array([[1, 2], [3, 4]], dtype=np.int32)
>>> nc.sum(x)
np.int64(10)
>>> nc.sum(x, axis=0)
array([4, 6])
");

reduction!(nansum as "nansum", Sum, true, r"Sum treating NaN as zero, as ``numpy.nansum``.

Parameters and result as :func:`nocopy.sum`.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.nansum(np.array([1.0, np.nan, 3.0]))
np.float64(4.0)
");

reduction!(mean as "mean", Mean, false, r"Arithmetic mean over the given axes, as ``numpy.mean``.

Parameters
----------
a : array_like
    Input data.
axis : None, int or tuple of ints, optional
    Axes to average over; ``None`` averages every element.
keepdims : bool, optional
    Keep the reduced axes with length one.
copy : None or bool, optional
    The copy policy, as in :func:`nocopy.sum`.

Returns
-------
numpy.ndarray or numpy scalar
    ``float32`` for float32 input, ``float64`` otherwise. An empty slice gives NaN with a
    ``RuntimeWarning``.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.mean(np.array([[1, 2], [3, 5]]), axis=1)
array([1.5, 4. ])
");

reduction!(nanmean as "nanmean", Mean, true, r"Mean ignoring NaN, as ``numpy.nanmean``.

An all-NaN slice gives NaN with a ``RuntimeWarning``. Parameters as :func:`nocopy.mean`.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.nanmean(np.array([1.0, np.nan, 3.0]))
np.float64(2.0)
");

spread!(var as "var", Var, false, r"Variance over the given axes, as ``numpy.var``.

Parameters
----------
a : array_like
    Input data.
axis : None, int or tuple of ints, optional
    Axes to compute over; ``None`` uses every element.
ddof : float, optional
    Delta degrees of freedom: the divisor is ``N - ddof``.
keepdims : bool, optional
    Keep the reduced axes with length one.
copy : None or bool, optional
    The copy policy, as in :func:`nocopy.sum`.

Returns
-------
numpy.ndarray or numpy scalar
    ``float32`` for float32 input, ``float64`` otherwise. Computed in one pass over memory,
    accurately even when the mean is large against the spread.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.var(np.array([1.0, 2.0, 3.0, 4.0]))
np.float64(1.25)
>>> nc.var(np.array([1.0, 2.0, 3.0, 4.0]), ddof=1)
np.float64(1.6666666666666667)
");

spread!(nanvar as "nanvar", Var, true, r"Variance ignoring NaN, as ``numpy.nanvar``.

Parameters as :func:`nocopy.var`.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.nanvar(np.array([1.0, np.nan, 3.0]))
np.float64(1.0)
");

spread!(stddev as "std", Std, false, r"Standard deviation over the given axes, as ``numpy.std``.

Parameters as :func:`nocopy.var`; the result is its square root.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.std(np.array([[1.0, 3.0], [2.0, 6.0]]), axis=1)
array([1., 2.])
");

spread!(nanstd as "nanstd", Std, true, r"Standard deviation ignoring NaN, as ``numpy.nanstd``.

Parameters as :func:`nocopy.var`.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.nanstd(np.array([1.0, np.nan, 3.0]))
np.float64(1.0)
");

reduction!(min as "min", Min, false, r"Minimum over the given axes, as ``numpy.min``.

NaN propagates. An empty slice raises ``ValueError``. The result has the input's dtype.
Parameters as :func:`nocopy.sum`.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.min(np.array([[3, 1], [2, 5]], dtype=np.int16), axis=0)
array([2, 1], dtype=int16)
");

reduction!(max as "max", Max, false, r"Maximum over the given axes, as ``numpy.max``.

NaN propagates. An empty slice raises ``ValueError``. Parameters as :func:`nocopy.sum`.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.max(np.array([1.0, np.nan, 3.0]))
np.float64(nan)
");

reduction!(nanmin as "nanmin", Min, true, r"Minimum ignoring NaN, as ``numpy.nanmin``.

An all-NaN slice gives NaN with a ``RuntimeWarning``. Parameters as :func:`nocopy.sum`.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.nanmin(np.array([4.0, np.nan, 3.0]))
np.float64(3.0)
");

reduction!(nanmax as "nanmax", Max, true, r"Maximum ignoring NaN, as ``numpy.nanmax``.

An all-NaN slice gives NaN with a ``RuntimeWarning``. Parameters as :func:`nocopy.sum`.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.nanmax(np.array([4.0, np.nan, 3.0]))
np.float64(4.0)
");

position!(argmin as "argmin", ArgMin, false, r"Index of the first minimum, as ``numpy.argmin``.

Parameters
----------
a : array_like
    Input data.
axis : None or int, optional
    The axis to search along; ``None`` searches the flattened array.
keepdims : bool, optional
    Keep the reduced axis with length one.
copy : None or bool, optional
    The copy policy, as in :func:`nocopy.sum`.

Returns
-------
numpy.ndarray or numpy scalar
    ``int64`` indices. The first NaN counts as the minimum; an empty slice raises ``ValueError``.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.argmin(np.array([[3, 1], [0, 5]]), axis=1)
array([1, 0])
");

position!(argmax as "argmax", ArgMax, false, r"Index of the first maximum, as ``numpy.argmax``.

Parameters as :func:`nocopy.argmin`.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.argmax(np.array([3, 7, 7]))
np.int64(1)
");

position!(nanargmin as "nanargmin", ArgMin, true, r"Index of the first minimum ignoring NaN, as ``numpy.nanargmin``.

An all-NaN slice raises ``ValueError``. Parameters as :func:`nocopy.argmin`.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.nanargmin(np.array([np.nan, 2.0, 1.0]))
np.int64(2)
");

position!(nanargmax as "nanargmax", ArgMax, true, r"Index of the first maximum ignoring NaN, as ``numpy.nanargmax``.

An all-NaN slice raises ``ValueError``. Parameters as :func:`nocopy.argmin`.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.nanargmax(np.array([np.nan, 2.0, 1.0]))
np.int64(1)
");

/// Count, mean, variance, standard deviation, minimum and maximum of an array.
#[pyclass(frozen, get_all, module = "nocopy")]
pub(crate) struct Summary {
    /// Number of values (non-NaN values with ``skipna=True``), ``int64``.
    count: Py<PyAny>,
    /// Mean, as :func:`nocopy.mean`.
    mean: Py<PyAny>,
    /// Variance with divisor ``count - ddof``.
    var: Py<PyAny>,
    /// Standard deviation.
    std: Py<PyAny>,
    /// Minimum, in the input's dtype.
    min: Py<PyAny>,
    /// Maximum, in the input's dtype.
    max: Py<PyAny>,
}

#[pymethods]
impl Summary {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let fields = [
            ("count", &self.count),
            ("mean", &self.mean),
            ("var", &self.var),
            ("std", &self.std),
            ("min", &self.min),
            ("max", &self.max),
        ];
        let parts = fields
            .iter()
            .map(|(k, v)| Ok(format!("{k}={}", v.bind(py).repr()?)))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(format!("Summary({})", parts.join(", ")))
    }
}

/// The statistics of a summary before conversion to Python.
struct Stats {
    count: AnyArray,
    mean: AnyArray,
    var: AnyArray,
    std: AnyArray,
    min: AnyArray,
    max: AnyArray,
    warning: Option<Warning>,
}

fn summarize<T: Element>(
    a: &ndarray::ArrayViewD<'_, T>,
    opts: &Reduce,
    cancel: &Cancel,
) -> nocopy_core::Result<Stats>
where
    ArrayD<T>: Into<AnyArray>,
    ArrayD<T::Float>: Into<AnyArray>,
{
    let s = nocopy_core::describe(a, opts, cancel)?;
    Ok(Stats {
        count: s.count.mapv(|c| c as i64).into(),
        mean: s.mean.into(),
        var: s.var.into(),
        std: s.std.into(),
        min: s.min.into(),
        max: s.max.into(),
        warning: s.warning,
    })
}

/// Count, mean, variance, standard deviation, min and max in one pass over the data.
///
/// Parameters
/// ----------
/// a : array_like
///     Input data.
/// axis : None, int or tuple of ints, optional
///     Axes to summarize over; ``None`` summarizes every element.
/// ddof : float, optional
///     Delta degrees of freedom of the variance.
/// skipna : bool, optional
///     Ignore NaN (as the ``nan*`` functions); otherwise NaN propagates.
/// keepdims : bool, optional
///     Keep the reduced axes with length one.
/// copy : None or bool, optional
///     The copy policy, as in :func:`nocopy.sum`.
///
/// Returns
/// -------
/// Summary
///     ``count`` (int64), ``mean``, ``var``, ``std`` (float32 for float32 input, else float64),
///     ``min`` and ``max`` (the input's dtype); scalars, or arrays over the remaining axes. Each
///     equals what the single function (:func:`nocopy.mean`, ...) returns.
///
/// Examples
/// --------
/// >>> import numpy as np, nocopy as nc
/// >>> s = nc.describe(np.array([[1.0, 2.0], [3.0, 6.0]]), axis=0)
/// >>> s.mean, s.std
/// (array([2., 4.]), array([1., 2.]))
/// >>> nc.describe(np.array([1.0, np.nan, 3.0]), skipna=True).count
/// np.int64(2)
#[pyfunction]
#[pyo3(signature = (a, axis=None, *, ddof=0.0, skipna=false, keepdims=false, copy=None))]
pub(crate) fn describe(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    axis: Option<AxisArg>,
    ddof: f64,
    skipna: bool,
    keepdims: bool,
    copy: Option<bool>,
) -> PyResult<Summary> {
    let array = asarray(a)?;
    let memory = Memory::of(&array)?;
    let opts = Reduce { axis: axis.map_or(Axes::All, |a| a.0), keepdims, ddof, skipna };
    let stats = run(py, memory.work(), |cancel| {
        let source = memory.open(policy(copy), cancel)?;
        dispatch!(source.view(), v => summarize(&v, &opts, cancel))
    })?;
    warn(py, stats.warning)?;
    let half = memory.is_half();
    Ok(Summary {
        count: to_numpy(py, stats.count, false)?,
        mean: to_numpy(py, stats.mean, half)?,
        var: to_numpy(py, stats.var, half)?,
        std: to_numpy(py, stats.std, half)?,
        min: to_numpy(py, stats.min, half)?,
        max: to_numpy(py, stats.max, half)?,
    })
}

position!(anynan as "anynan", AnyNan, false, r"Whether any value is NaN, as ``bottleneck.anynan``.

Parameters
----------
a : array_like
    Input array.
axis : None or int, optional
    Test along this axis; by default the whole array.
keepdims : bool, optional
    Keep the tested axis with length one.
copy : None or bool, optional
    The copy policy, as in :func:`nocopy.sum`.

Returns
-------
numpy.bool or ndarray of bool
    Never true for integer and bool input; false for an empty slice. One pass over memory,
    without the temporary array of ``np.isnan(a).any()``.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.anynan(np.array([[1.0, np.nan], [3.0, 4.0]]), axis=1)
array([ True, False])");

position!(allnan as "allnan", AllNan, false, r"Whether every value is NaN, as ``bottleneck.allnan``.

Parameters are those of :func:`nocopy.anynan`; an empty slice gives true.

Examples
--------
>>> import numpy as np, nocopy as nc
>>> nc.allnan(np.array([[np.nan, np.nan], [np.nan, 4.0]]), axis=1)
array([ True, False])
>>> nc.allnan(np.array([]))
np.True_");

/// Sum of squares over the given axis, as ``bottleneck.ss``.
///
/// Parameters
/// ----------
/// a : array_like
///     Input data.
/// axis : None or int, optional
///     Axis to sum along; ``None`` sums every element.
/// keepdims : bool, optional
///     Keep the reduced axis with length one.
/// copy : None or bool, optional
///     The copy policy, as in :func:`nocopy.sum`.
///
/// Returns
/// -------
/// numpy.ndarray or numpy scalar
///     bottleneck's dtypes: float32 and float64 keep theirs (summed in float64 here), int32 and
///     int64 keep theirs (wrapping on overflow), other integers and bool give ``np.sum(a * a)``.
///     NaN propagates.
///
/// Examples
/// --------
/// >>> import numpy as np, nocopy as nc
/// >>> nc.ss(np.array([[1, 2], [3, 4]], dtype=np.int32), axis=1)
/// array([ 5, 25], dtype=int32)
#[pyfunction]
#[pyo3(signature = (a, axis=None, *, keepdims=false, copy=None))]
pub(crate) fn ss(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    axis: Option<OneAxis>,
    keepdims: bool,
    copy: Option<bool>,
) -> PyResult<Py<PyAny>> {
    let opts = Reduce { axis: axis.map_or(Axes::All, |a| a.0), keepdims, ddof: 0.0, skipna: false };
    let result = reduce(py, a, Op::Ss, &opts, copy)?;
    let int32 = asarray(a)?.dtype().is_equiv_to(&numpy::dtype::<i32>(py));
    if int32 {
        // bottleneck sums int32 in int32: the int64 sum, wrapped.
        return Ok(result.bind(py).call_method1(pyo3::intern!(py, "astype"), ("int32",))?.unbind());
    }
    Ok(result)
}
