"""nocopy: fast, multi-threaded Rust kernels for NumPy arrays, read in place.

Every function takes what ``numpy.asarray`` takes and gives NumPy's answer (same dtypes, same
edge cases). Arrays are read where they lie whenever that is safe; ``nocopy.inspect`` says when
one is copied and why, and ``copy=False`` turns such a copy into ``CopyRequiredError``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from nocopy import _native
from nocopy._distance import cdist, knn, pdist
from nocopy._kmeans import ConvergenceWarning, KMeans, NotFittedError, kmeans
from nocopy._native import *  # noqa: F403  (the public API: the extension's __all__)
from nocopy._native import get_num_threads, set_num_threads
from nocopy._scale import minmax_scale, standardize
from nocopy._stats import (
    histogram,
    median,
    nanmedian,
    nanpercentile,
    nanquantile,
    percentile,
    quantile,
)

__all__ = [
    *(name for name in _native.__all__ if not name.startswith("_")),
    "ConvergenceWarning",
    "KMeans",
    "NotFittedError",
    "cdist",
    "histogram",
    "kmeans",
    "knn",
    "median",
    "minmax_scale",
    "nanmedian",
    "nanpercentile",
    "nanquantile",
    "pdist",
    "percentile",
    "quantile",
    "standardize",
    "threads",
]

__version__ = "0.1.0"


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Run the kernels in a ``with`` block on ``n`` threads, then restore the previous count.

    Parameters
    ----------
    n : int
        Number of threads (at least 1).

    Examples
    --------
    >>> import numpy as np, nocopy as nc
    >>> with nc.threads(1):
    ...     nc.get_num_threads()
    1
    """
    before = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(before)
