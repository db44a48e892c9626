"""NumPy's quantile family, median and histogram on nocopy's kernels.

The argument handling, result types and warnings are NumPy's; the order statistics come from
``_native._select`` (no sort, no copy of the input beyond one buffer per thread), histogram
counts from ``_native._histogram``. What the kernels do not cover -- quantile ``weights``, the
Hyndman-Fan methods other than the five common ones, empty slices, bin estimators given by
name, object or datetime data -- is handed to NumPy itself, so results are always NumPy's.
"""

from __future__ import annotations

import functools
import operator
import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nocopy import _native

__all__ = [
    "histogram",
    "median",
    "nanmedian",
    "nanpercentile",
    "nanquantile",
    "percentile",
    "quantile",
]

_METHODS = frozenset({"linear", "lower", "higher", "nearest", "midpoint"})
_COMPUTED = frozenset("iuf")


@functools.lru_cache(maxsize=256)
def _result_dtype(name: str, dtype: str, like: Any, method: str) -> np.dtype[Any]:
    """NumPy's result type of ``name`` over data of dtype ``dtype`` (its ``str``, byte order
    and all: dtypes of either order compare equal) at quantiles like ``like`` (the type of
    Python scalar quantiles, which stay weak, or the dtype ``str`` of an array of them and
    whether it has no dimensions: a scalar result is native), from a one-element call."""
    if isinstance(like, type):
        q = like(0.5 if like is float else 1)
    else:
        q = np.zeros(() if like[1] else (1,), like[0])
    return getattr(np, name)(np.zeros(1, dtype), q, method=method).dtype


def _like(q: Any) -> Any:
    """The key of ``q``'s result type for :func:`_result_dtype`; ``None`` for none to cache."""
    if type(q) in (float, int, bool):
        return type(q)
    qa = np.asarray(q)
    return (qa.dtype.str, qa.ndim == 0) if qa.dtype.kind in "biuf" else None


@functools.lru_cache(maxsize=64)
def _median_dtype(dtype: str) -> np.dtype[Any]:
    """NumPy's result type of ``median`` over data of dtype ``dtype`` (its ``str``)."""
    return np.median(np.zeros(1, dtype)).dtype


def _reduced_axes(ndim: int, axis: Any) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(np.lib.array_utils.normalize_axis_tuple(axes, ndim))


def _lane_length(arr: NDArray[Any], axis: Any) -> int:
    return int(np.prod([arr.shape[i] for i in _reduced_axes(arr.ndim, axis)], dtype=np.int64))


def _finish(
    values: NDArray[Any],
    dtype: np.dtype[Any],
    arr: NDArray[Any],
    axis: Any,
    lead: tuple[int, ...],
    keepdims: bool,
    out: NDArray[Any] | None,
) -> Any:
    """Shapes the kernel's ``(q..., kept...)`` values as NumPy returns them."""
    values = values.astype(dtype, copy=False)
    kept = values.shape[len(lead) :]
    if keepdims:
        reduced = set(_reduced_axes(arr.ndim, axis))
        kept = tuple(1 if i in reduced else n for i, n in enumerate(arr.shape))
    values = values.reshape(lead + tuple(kept))
    if out is not None:
        out[...] = values
        return out
    return values[()] if values.ndim == 0 else values


def _quantile(
    name: str,
    a: ArrayLike,
    q: ArrayLike,
    axis: Any,
    out: NDArray[Any] | None,
    overwrite_input: bool,
    method: str,
    keepdims: bool,
    weights: ArrayLike | None,
    copy: bool | None,
    *,
    nan: bool,
    percent: bool,
) -> Any:
    arr = np.asarray(a)
    reference = getattr(np, name)
    if (
        weights is not None
        or method not in _METHODS
        or arr.dtype.kind not in _COMPUTED
        or _lane_length(arr, axis) == 0
    ):
        return reference(
            a, q, axis=axis, out=out, overwrite_input=overwrite_input, method=method,
            keepdims=keepdims, weights=weights,
        )  # fmt: skip
    if percent:
        qa = np.true_divide(q, 100)
        if not np.all((qa >= 0) & (qa <= 1)):
            raise ValueError("Percentiles must be in the range [0, 100]")
    else:
        qa = np.asanyarray(q)
        if not np.all((qa >= 0) & (qa <= 1)):
            raise ValueError("Quantiles must be in the range [0, 1]")
    # NumPy's result type (weak Python-float q, boolean errors and all), from a one-element call.
    like = _like(q)
    if like is None:
        dtype = reference(np.zeros(1, arr.dtype), q, method=method).dtype
    else:
        dtype = _result_dtype(name, arr.dtype.str, like, method)
    values, empty = _native._select(
        arr, np.ravel(qa).astype(np.float64), axis, method,
        skipna=nan, single=dtype.itemsize <= 4 and dtype.kind == "f", median=False, copy=copy,
    )  # fmt: skip
    if empty:
        warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=3)
    values = values.reshape(np.shape(qa) + values.shape[1:])
    return _finish(values, dtype, arr, axis, np.shape(qa), keepdims, out)


def _median(
    name: str,
    a: ArrayLike,
    axis: Any,
    out: NDArray[Any] | None,
    overwrite_input: bool,
    keepdims: bool,
    copy: bool | None,
    *,
    nan: bool,
) -> Any:
    arr = np.asarray(a)
    reference = getattr(np, name)
    if arr.dtype.kind not in _COMPUTED or _lane_length(arr, axis) == 0:
        return reference(a, axis=axis, out=out, overwrite_input=overwrite_input, keepdims=keepdims)
    dtype = _median_dtype(arr.dtype.str)
    values, empty = _native._select(
        arr, [], axis, "linear",
        skipna=nan, single=dtype.itemsize <= 4 and dtype.kind == "f", median=True, copy=copy,
    )  # fmt: skip
    if empty:
        warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=3)
    return _finish(values, dtype, arr, axis, (), keepdims, out)


def quantile(
    a: ArrayLike,
    q: ArrayLike,
    axis: int | tuple[int, ...] | None = None,
    out: NDArray[Any] | None = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: ArrayLike | None = None,
    copy: bool | None = None,
) -> Any:
    """The ``q``-th quantiles of the data over the given axes, as ``numpy.quantile``.

    Found by selection, in parallel over slices (a long slice is bracketed from a sample and
    counted in parallel), never by sorting; ``a`` is not modified or copied (``overwrite_input``
    is accepted and has nothing to allow). The methods ``linear`` (default), ``lower``,
    ``higher``, ``nearest`` and ``midpoint`` run on nocopy's kernel with NumPy's arithmetic,
    bit for bit; ``weights`` and the other methods are passed to NumPy.

    Parameters
    ----------
    a : array_like
        Input data (integer or float). A slice holding NaN gives NaN.
    q : float or array_like of float
        Quantiles in ``[0, 1]``; the result has ``q``'s shape in front.
    axis : None, int or tuple of ints, optional
        Axes to take quantiles over; ``None`` takes them over every element.
    out : numpy.ndarray, optional
        Where to write the result.
    overwrite_input : bool, optional
        Accepted for compatibility; the input is never modified.
    method : str, optional
        As in NumPy.
    keepdims : bool, optional
        Keep the reduced axes with length one.
    weights : array_like, optional
        As in NumPy (computed by NumPy).
    copy : None or bool, optional
        The copy policy, as in :func:`nocopy.sum`.

    Returns
    -------
    numpy.ndarray or numpy scalar
        NumPy's dtype: the input's for ``lower``, ``higher``, ``nearest``; else float
        (``float32`` for float32 input and a Python-float ``q``).

    Examples
    --------
    >>> import numpy as np, nocopy as nc
    >>> nc.quantile(np.array([3.0, 1.0, 4.0, 1.0, 5.0]), [0.5, 0.9])
    array([3. , 4.6])
    >>> nc.quantile(np.arange(10), 0.5, method="lower")
    np.int64(4)
    """
    return _quantile(
        "quantile", a, q, axis, out, overwrite_input, method, keepdims, weights, copy,
        nan=False, percent=False,
    )  # fmt: skip


def nanquantile(
    a: ArrayLike,
    q: ArrayLike,
    axis: int | tuple[int, ...] | None = None,
    out: NDArray[Any] | None = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: ArrayLike | None = None,
    copy: bool | None = None,
) -> Any:
    """Quantiles ignoring NaN, as ``numpy.nanquantile``.

    As :func:`nocopy.quantile`; an all-NaN slice gives NaN with a ``RuntimeWarning``.

    Examples
    --------
    >>> import numpy as np, nocopy as nc
    >>> nc.nanquantile(np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]]), 0.5, axis=1)
    array([2., 5.])
    """
    return _quantile(
        "nanquantile", a, q, axis, out, overwrite_input, method, keepdims, weights, copy,
        nan=True, percent=False,
    )  # fmt: skip


def percentile(
    a: ArrayLike,
    q: ArrayLike,
    axis: int | tuple[int, ...] | None = None,
    out: NDArray[Any] | None = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: ArrayLike | None = None,
    copy: bool | None = None,
) -> Any:
    """The ``q``-th percentiles, as ``numpy.percentile``.

    As :func:`nocopy.quantile` with ``q`` in ``[0, 100]``.

    Examples
    --------
    >>> import numpy as np, nocopy as nc
    >>> nc.percentile(np.arange(101.0), [50, 90, 99])
    array([50., 90., 99.])
    """
    return _quantile(
        "percentile", a, q, axis, out, overwrite_input, method, keepdims, weights, copy,
        nan=False, percent=True,
    )  # fmt: skip


def nanpercentile(
    a: ArrayLike,
    q: ArrayLike,
    axis: int | tuple[int, ...] | None = None,
    out: NDArray[Any] | None = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: ArrayLike | None = None,
    copy: bool | None = None,
) -> Any:
    """Percentiles ignoring NaN, as ``numpy.nanpercentile``.

    As :func:`nocopy.nanquantile` with ``q`` in ``[0, 100]``.

    Examples
    --------
    >>> import numpy as np, nocopy as nc
    >>> nc.nanpercentile(np.array([1.0, np.nan, 3.0]), 50)
    np.float64(2.0)
    """
    return _quantile(
        "nanpercentile", a, q, axis, out, overwrite_input, method, keepdims, weights, copy,
        nan=True, percent=True,
    )  # fmt: skip


def median(
    a: ArrayLike,
    axis: int | tuple[int, ...] | None = None,
    out: NDArray[Any] | None = None,
    overwrite_input: bool = False,
    keepdims: bool = False,
    *,
    copy: bool | None = None,
) -> Any:
    """The median over the given axes, as ``numpy.median`` (and ``bottleneck.median``).

    The middle value, or the mean of the two middle values, found by selection; a slice
    holding NaN gives NaN. ``float32`` for float32 input, ``float64`` for integers.

    Parameters
    ----------
    a : array_like
        Input data.
    axis : None, int or tuple of ints, optional
        Axes to take the median over; ``None`` takes it over every element.
    out : numpy.ndarray, optional
        Where to write the result.
    overwrite_input : bool, optional
        Accepted for compatibility; the input is never modified.
    keepdims : bool, optional
        Keep the reduced axes with length one.
    copy : None or bool, optional
        The copy policy, as in :func:`nocopy.sum`.

    Returns
    -------
    numpy.ndarray or numpy scalar

    Examples
    --------
    >>> import numpy as np, nocopy as nc
    >>> nc.median(np.array([[1, 5, 2], [4, 3, 8]]), axis=1)
    array([2., 4.])
    """
    return _median("median", a, axis, out, overwrite_input, keepdims, copy, nan=False)


def nanmedian(
    a: ArrayLike,
    axis: int | tuple[int, ...] | None = None,
    out: NDArray[Any] | None = None,
    overwrite_input: bool = False,
    keepdims: bool = False,
    *,
    copy: bool | None = None,
) -> Any:
    """The median ignoring NaN, as ``numpy.nanmedian`` (and ``bottleneck.nanmedian``).

    As :func:`nocopy.median`; an all-NaN slice gives NaN with a ``RuntimeWarning``.

    Examples
    --------
    >>> import numpy as np, nocopy as nc
    >>> nc.nanmedian(np.array([1.0, np.nan, 3.0, 7.0]))
    np.float64(3.0)
    """
    return _median("nanmedian", a, axis, out, overwrite_input, keepdims, copy, nan=True)


def _outer_edges(a: NDArray[Any], range: Any) -> tuple[Any, Any]:
    """NumPy's first and last edge: the range, or the data's extremes (found by nocopy)."""
    if range is not None:
        first, last = range
        if first > last:
            raise ValueError("max must be larger than min in range parameter.")
        if not (np.isfinite(first) and np.isfinite(last)):
            raise ValueError(f"supplied range of [{first}, {last}] is not finite")
    elif a.size == 0:
        first, last = 0, 1
    else:
        # One pass for both extremes (NaN propagates, as in NumPy's a.min(), a.max()).
        first, last = _native._extremes(a)
        if not (np.isfinite(first) and np.isfinite(last)):
            raise ValueError(f"autodetected range of [{first}, {last}] is not finite")
    if first == last:
        first, last = first - 0.5, last + 0.5
    return first, last


def histogram(
    a: ArrayLike,
    bins: Any = 10,
    range: tuple[float, float] | None = None,
    density: bool | None = None,
    weights: ArrayLike | None = None,
    *,
    copy: bool | None = None,
) -> tuple[NDArray[Any], NDArray[Any]]:
    """The histogram of the data, as ``numpy.histogram``: the same edges, the same counts.

    Counted in one parallel pass (each thread into its own bins, added at the end); with
    ``range=None`` the data's extremes take one more. Values exactly on an edge go where NumPy
    puts them (the right bin, the last edge closed); NaN and values outside the range are not
    counted. ``bins`` given by name (``"auto"``, ...) is passed to NumPy.

    Parameters
    ----------
    a : array_like
        Input data (integer or float; any shape, taken whole).
    bins : int, str or sequence of scalars, optional
        Number of equal-width bins in the range, or the bin edges (increasing).
    range : (float, float), optional
        The lower and upper edge; the data's extremes when not given.
    density : bool, optional
        Return the probability density (the integral over the range is 1).
    weights : array_like, optional
        A weight per value of ``a`` (same shape); each bin sums its values' weights.
    copy : None or bool, optional
        The copy policy, as in :func:`nocopy.sum`.

    Returns
    -------
    hist : numpy.ndarray
        ``int64`` counts, the weights' dtype with ``weights``, float64 with ``density``.
    bin_edges : numpy.ndarray
        ``len(hist) + 1`` edges.

    Examples
    --------
    >>> import numpy as np, nocopy as nc
    >>> nc.histogram(np.array([0.0, 0.5, 1.0, 2.0, 3.0]), bins=3)
    (array([2, 1, 2]), array([0., 1., 2., 3.]))
    >>> nc.histogram(np.arange(5), bins=[0, 1, 4])
    (array([1, 4]), array([0, 1, 4]))
    """
    arr = np.asarray(a)
    w = None if weights is None else np.asarray(weights)
    if w is not None and w.shape != arr.shape:
        raise ValueError("weights should have the same shape as a.")
    if arr.dtype == np.bool_ and not isinstance(bins, str):
        # As NumPy: booleans are counted as uint8, with its warning (here a view, not a copy).
        msg = f"Converting input from {arr.dtype} to {np.uint8} for compatibility."
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
        arr = arr.view(np.uint8)
    if (
        isinstance(bins, str)
        or arr.dtype.kind not in _COMPUTED
        or (w is not None and w.dtype.kind not in "biuf")
        or (np.ndim(bins) == 1 and len(bins) < 2)
    ):
        return np.histogram(a, bins=bins, range=range, density=density, weights=weights)
    if np.ndim(bins) == 0:
        try:
            n = operator.index(bins)
        except TypeError as e:
            raise TypeError("`bins` must be an integer, a string, or an array") from e
        if n < 1:
            raise ValueError("`bins` must be positive, when an integer")
        first, last = _outer_edges(arr, range)
        bin_type = np.result_type(first, last, arr)
        if np.issubdtype(bin_type, np.integer):
            bin_type = np.result_type(bin_type, float)
        edges = np.linspace(first, last, n + 1, endpoint=True, dtype=bin_type)
        if np.any(edges[:-1] >= edges[1:]):
            raise ValueError(f"Too many bins for data range. Cannot create {n} finite-sized bins.")
        uniform = True
    elif np.ndim(bins) == 1:
        edges = np.asarray(bins)
        if np.any(edges[:-1] > edges[1:]):
            raise ValueError("`bins` must increase monotonically, when an array")
        uniform = False
    else:
        raise ValueError("`bins` must be 1d, when an array")
    wf = None if w is None else np.asarray(w, dtype=np.float64)
    hist = _native._histogram(arr, edges.astype(np.float64), uniform, wf, copy=copy)
    if w is not None:
        hist = hist.astype(w.dtype, copy=False)
    if density:
        widths = np.array(np.diff(edges), float)
        return hist / widths / hist.sum(), edges
    return hist, edges
