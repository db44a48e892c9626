"""scikit-learn's feature scaling (``scale``/``StandardScaler``, ``minmax_scale``) on nocopy's
kernel: one pass for the statistics, one to transform, into ``out`` or in place."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nocopy import _native
from nocopy._checks import check_out

__all__ = ["minmax_scale", "standardize"]


def _result_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    # scikit-learn keeps float32 and float16, and computes everything else in float64.
    return dtype if dtype in (np.float32, np.float16) else np.dtype(np.float64)


def _run(name: str, a: ArrayLike, axis: int, out: NDArray[Any] | None, **how: Any) -> NDArray[Any]:
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} needs real numbers, not an array of dtype {arr.dtype}")
    if arr.ndim not in (1, 2):
        raise ValueError(f"Expected a 1-d or 2-d array, got an array with {arr.ndim} dimension(s)")
    axis = np.lib.array_utils.normalize_axis_index(axis, arr.ndim)
    if arr.shape[axis] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={arr.shape}) while a minimum of 1 is required."
        )
    dtype = _result_dtype(arr.dtype)
    in_place = False
    if out is None:
        out = np.empty(arr.shape, dtype)
    else:
        in_place = check_out(out, arr.shape, dtype, (arr,), True, f"{arr.dtype} input")
    # The kernel works on float32/float64 tables of samples x features.
    target = out if dtype != np.float16 else np.empty(arr.shape, np.float32)
    source = arr if not (in_place and dtype == np.float16) else target
    if in_place and dtype == np.float16:
        target[...] = arr
    a2, o2 = (source, target) if arr.ndim == 2 else (source[:, None], target[:, None])
    if arr.ndim == 2 and axis == 1:
        a2, o2 = a2.T, o2.T
    _native._scale(a2, o2, in_place=in_place, **how)
    if target is not out:
        out[...] = target
    return out


def standardize(
    a: ArrayLike,
    axis: int = 0,
    *,
    ddof: float = 0,
    with_mean: bool = True,
    with_std: bool = True,
    out: NDArray[Any] | None = None,
) -> NDArray[Any]:
    """Centre each feature to mean 0 and scale it to unit variance, as scikit-learn's ``scale``
    (``StandardScaler().fit_transform``).

    One parallel pass computes each feature's mean and standard deviation (in float64, NaN
    ignored), one more writes ``(x - mean) / std``. A constant feature is only centred (its
    scale is 1, as in scikit-learn), so nothing is divided by zero; NaN stays NaN.

    Parameters
    ----------
    a : array_like
        1-d or 2-d data (bool, integer or float); any layout.
    axis : int, optional
        0 scales each column (feature), 1 each row.
    ddof : float, optional
        Delta degrees of freedom of the standard deviation (scikit-learn's is 0).
    with_mean, with_std : bool, optional
        Centre; scale.
    out : numpy.ndarray, optional
        Where to write the result: of ``a``'s shape and the result's dtype, writeable, and
        either ``a`` itself (in place) or memory ``a`` does not use.

    Returns
    -------
    numpy.ndarray
        ``out``, or a new array: float32 (float16) for float32 (float16) input, else float64.

    Examples
    --------
    >>> import numpy as np, nocopy as nc
    >>> x = np.array([[1.0, 10.0], [3.0, 10.0]])
    >>> nc.standardize(x)
    array([[-1.,  0.],
           [ 1.,  0.]])
    >>> _ = nc.standardize(x, out=x)  # in place
    """
    return _run(
        "standardize", a, axis, out,
        minmax=False, ddof=float(ddof), with_mean=bool(with_mean), with_std=bool(with_std),
        lo=0.0, hi=1.0,
    )  # fmt: skip


def minmax_scale(
    a: ArrayLike,
    axis: int = 0,
    *,
    feature_range: tuple[float, float] = (0, 1),
    out: NDArray[Any] | None = None,
) -> NDArray[Any]:
    """Map each feature's range onto ``feature_range``, as scikit-learn's ``minmax_scale``.

    One parallel pass finds each feature's minimum and maximum (NaN ignored), one more writes
    ``x * scale + min`` as scikit-learn computes it. A constant feature maps to
    ``feature_range[0]``; NaN stays NaN.

    Parameters
    ----------
    a : array_like
        1-d or 2-d data (bool, integer or float); any layout.
    axis : int, optional
        0 scales each column (feature), 1 each row.
    feature_range : (float, float), optional
        The target range; its minimum must be below its maximum.
    out : numpy.ndarray, optional
        As in :func:`nocopy.standardize`.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> import numpy as np, nocopy as nc
    >>> nc.minmax_scale(np.array([[1.0, 5.0], [3.0, 5.0], [2.0, 5.0]]))
    array([[0. , 0. ],
           [1. , 0. ],
           [0.5, 0. ]])
    """
    lo, hi = feature_range
    if not lo < hi:
        raise ValueError(
            "Minimum of desired feature range must be smaller than maximum. "
            f"Got {tuple(feature_range)}."
        )
    return _run(
        "minmax_scale", a, axis, out,
        minmax=True, ddof=0.0, with_mean=True, with_std=True, lo=float(lo), hi=float(hi),
    )  # fmt: skip
