"""scipy's ``cdist`` and ``pdist`` on nocopy's tiled kernels."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from nocopy import _native
from nocopy._checks import check_out

__all__ = ["cdist", "knn", "pdist"]

_METRICS = ("euclidean", "sqeuclidean", "cosine", "cityblock", "chebyshev", "minkowski")


def _table(x: ArrayLike, name: str) -> NDArray[Any]:
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, not {a.dtype}")
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-dimensional array.")
    return a


def _metric(metric: Any) -> str:
    if not isinstance(metric, str) or metric.lower() not in _METRICS:
        raise ValueError(f"Unknown Distance Metric: {metric} (nocopy has {', '.join(_METRICS)})")
    return metric.lower()


def _result_dtype(*arrays: NDArray[Any]) -> np.dtype[Any]:
    # float32 stays float32; everything else is computed and returned in float64.
    same = all(a.dtype == np.float32 for a in arrays)
    return np.dtype(np.float32 if same else np.float64)


def cdist(
    xa: ArrayLike,
    xb: ArrayLike,
    metric: str = "euclidean",
    *,
    p: float = 2.0,
    out: NDArray[Any] | None = None,
) -> NDArray[Any]:
    """Distances between each pair of rows of two tables, as ``scipy.spatial.distance.cdist``.

    Euclidean, squared Euclidean and cosine distances go through a matrix product in tiles
    (``|x|² + |y|² - 2 x·y`` on data centred on ``xb``'s mean), and any pair whose distance is
    small against its norms is computed again directly from the rows: identical rows give
    exactly 0, squared distances are never negative, and close points far from the origin
    keep their digits. The others (``cityblock``, ``chebyshev``, ``minkowski``) are computed
    directly, tile by tile. Parallel over row blocks.

    Parameters
    ----------
    xa, xb : array_like
        2-d tables with the same number of columns; any layout, integer or float.
    metric : str, optional
        ``euclidean`` (default), ``sqeuclidean``, ``cosine``, ``cityblock``, ``chebyshev`` or
        ``minkowski``.
    p : float, optional
        The order of ``minkowski`` (greater than 0; ``inf`` is ``chebyshev``).
    out : numpy.ndarray, optional
        Where to write the distances: shape ``(len(xa), len(xb))``, the result's dtype,
        writeable, not overlapping the inputs.

    Returns
    -------
    numpy.ndarray
        float32 when both tables are float32, else float64.

    Examples
    --------
    >>> import numpy as np, nocopy as nc
    >>> nc.cdist(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[3.0, 4.0]]))
    array([[5.        ],
           [3.60555128]])
    >>> nc.cdist(np.array([[0, 0]]), np.array([[3, 4]]), "cityblock")
    array([[7.]])
    """
    a, b = _table(xa, "XA"), _table(xb, "XB")
    if a.shape[1] != b.shape[1]:
        raise ValueError("XA and XB must have the same number of columns (i.e. feature dimension.)")
    name = _metric(metric)
    dtype = _result_dtype(a, b)
    if a.dtype != b.dtype:
        a, b = np.asarray(a, dtype=dtype), np.asarray(b, dtype=dtype)
    shape = (a.shape[0], b.shape[0])
    if out is None:
        out = np.empty(shape, dtype)
    else:
        check_out(out, shape, dtype, (a, b), False, f"{a.dtype} tables")
    _native._cdist(a, b, out, name, float(p))
    return out


def pdist(x: ArrayLike, metric: str = "euclidean", *, p: float = 2.0) -> NDArray[Any]:
    """Distances between each pair of rows of one table, condensed, as
    ``scipy.spatial.distance.pdist``.

    The distances of rows ``i < j`` in row order (``squareform`` makes the square matrix), with
    :func:`nocopy.cdist`'s metrics and accuracy; only tiles on or above the diagonal are
    computed.

    Parameters
    ----------
    x : array_like
        A 2-d table.
    metric : str, optional
        As in :func:`nocopy.cdist`.
    p : float, optional
        The order of ``minkowski``.

    Returns
    -------
    numpy.ndarray
        ``n (n - 1) / 2`` distances; float32 for float32 input, else float64.

    Examples
    --------
    >>> import numpy as np, nocopy as nc
    >>> nc.pdist(np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]]))
    array([ 5., 10.,  5.])
    """
    a = _table(x, "X")
    name = _metric(metric)
    n = a.shape[0]
    out = np.empty(n * (n - 1) // 2, _result_dtype(a))
    _native._pdist(a, out, name, float(p))
    return out


_KNN_METRICS = ("sqeuclidean", "euclidean", "cosine", "cityblock", "ip")


def knn(
    base: ArrayLike, queries: ArrayLike, k: int, *, metric: str = "sqeuclidean"
) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """The ``k`` nearest rows of ``base`` to each row of ``queries``, exactly.

    Every pair is compared, in tiles (the matrix-product form with the same guard as
    :func:`nocopy.cdist`), and ``base`` is read once, split between the threads; the memory
    used is the packed queries and a few tiles per thread, however large ``base`` is. The
    result never depends on the number of threads.

    Parameters
    ----------
    base, queries : array_like
        2-d tables with the same number of columns.
    k : int
        Neighbours per query, ``1 <= k <= len(base)``.
    metric : str, optional
        ``sqeuclidean`` (default), ``euclidean``, ``cosine``, ``cityblock``, or ``ip``: the
        largest inner product first, as faiss's ``IndexFlatIP``.

    Returns
    -------
    distances : numpy.ndarray
        ``(len(queries), k)``, ascending (for ``ip``, the inner products descending); float32
        when both tables are float32, else float64.
    indices : numpy.ndarray
        ``(len(queries), k)`` int64 rows of ``base``; ties go to the lower index.

    Examples
    --------
    >>> import numpy as np, nocopy as nc
    >>> base = np.array([[0.0], [10.0], [1.0], [3.0]])
    >>> d, i = nc.knn(base, np.array([[0.9], [9.0]]), 2)
    >>> i
    array([[2, 0],
           [1, 3]])
    >>> d.round(2).tolist()
    [[0.01, 0.81], [1.0, 36.0]]
    """
    b, q = _table(base, "base"), _table(queries, "queries")
    if b.shape[1] != q.shape[1]:
        raise ValueError(
            "base and queries must have the same number of columns, "
            f"not {b.shape[1]} and {q.shape[1]}"
        )
    if not isinstance(metric, str) or metric not in _KNN_METRICS:
        raise ValueError(f"Unknown knn metric: {metric} (nocopy has {', '.join(_KNN_METRICS)})")
    k = int(np.asarray(k).item()) if np.ndim(k) == 0 else k
    if not isinstance(k, int) or not 1 <= k <= b.shape[0]:
        raise ValueError(f"k must be between 1 and the number of base rows ({b.shape[0]}), not {k}")
    dtype = _result_dtype(b, q)
    if b.dtype != q.dtype:
        b, q = np.asarray(b, dtype=dtype), np.asarray(q, dtype=dtype)
    return _native._knn(b, q, k, metric, dtype == np.float32)
