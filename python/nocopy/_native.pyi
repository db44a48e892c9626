from collections.abc import Callable, Sequence
from typing import Any, final

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "CopyRequiredError",
    "Layout",
    "Summary",
    "_assign",
    "_cdist",
    "_extremes",
    "_fma_probe",
    "_histogram",
    "_knn",
    "_lloyd",
    "_pdist",
    "_plusplus",
    "_read_probe",
    "_scale",
    "_select",
    "_tolerance",
    "allnan",
    "anynan",
    "argmax",
    "argmin",
    "describe",
    "get_num_threads",
    "inspect",
    "max",
    "mean",
    "min",
    "move_argmax",
    "move_argmin",
    "move_max",
    "move_mean",
    "move_median",
    "move_min",
    "move_rank",
    "move_std",
    "move_sum",
    "move_var",
    "nanargmax",
    "nanargmin",
    "nanmax",
    "nanmean",
    "nanmin",
    "nanstd",
    "nansum",
    "nanvar",
    "set_num_threads",
    "ss",
    "std",
    "sum",
    "var",
]

_Axis = int | tuple[int, ...] | None
_Result = Any  # a NumPy scalar for a 0-d result, else a numpy.ndarray

class CopyRequiredError(ValueError): ...

@final
class Layout:
    @property
    def dtype(self) -> np.dtype[Any]: ...
    @property
    def shape(self) -> tuple[int, ...]: ...
    @property
    def strides(self) -> tuple[int, ...]: ...
    @property
    def itemsize(self) -> int: ...
    @property
    def c_contiguous(self) -> bool: ...
    @property
    def f_contiguous(self) -> bool: ...
    @property
    def aligned(self) -> bool: ...
    @property
    def native_byteorder(self) -> bool: ...
    @property
    def writeable(self) -> bool: ...
    @property
    def zero_copy(self) -> bool: ...
    @property
    def reason(self) -> str | None: ...

@final
class Summary:
    @property
    def count(self) -> _Result: ...
    @property
    def mean(self) -> _Result: ...
    @property
    def var(self) -> _Result: ...
    @property
    def std(self) -> _Result: ...
    @property
    def min(self) -> _Result: ...
    @property
    def max(self) -> _Result: ...

def inspect(a: ArrayLike) -> Layout: ...
def get_num_threads() -> int: ...
def _read_probe(a: ArrayLike) -> int: ...
def _lloyd(
    x: ArrayLike,
    centre: np.ndarray,
    weights: np.ndarray,
    init: np.ndarray,
    max_iter: int,
    tol: float,
    report_inertia: bool,
    on_event: Callable[[str, int, float, float], object] | None,
) -> tuple[np.ndarray, np.ndarray, float, int]: ...
def _plusplus(
    x: ArrayLike,
    centre: np.ndarray,
    weights: np.ndarray,
    k: int,
    first: int,
    uniforms: np.ndarray,
) -> list[int]: ...
def _assign(
    x: ArrayLike, centre: np.ndarray, weights: np.ndarray, centers: np.ndarray
) -> tuple[np.ndarray, float]: ...
def _tolerance(x: ArrayLike, centre: np.ndarray, weights: np.ndarray, tol: float) -> float: ...
def _fma_probe(rounds: int, wide: bool) -> int: ...
def _cdist(xa: ArrayLike, xb: ArrayLike, out: np.ndarray, metric: str, p: float) -> None: ...
def _knn(
    base: ArrayLike, queries: ArrayLike, k: int, metric: str, single: bool
) -> tuple[np.ndarray, np.ndarray]: ...
def _pdist(x: ArrayLike, out: np.ndarray, metric: str, p: float) -> None: ...
def _extremes(a: ArrayLike, *, copy: bool | None = None) -> tuple[Any, Any] | None: ...
def _histogram(
    a: ArrayLike,
    edges: Sequence[float] | np.ndarray,
    uniform: bool,
    weights: ArrayLike | None = None,
    *,
    copy: bool | None = None,
) -> np.ndarray: ...
def _scale(
    a: ArrayLike,
    out: np.ndarray,
    *,
    minmax: bool,
    ddof: float,
    with_mean: bool,
    with_std: bool,
    lo: float,
    hi: float,
    in_place: bool,
) -> None: ...
def _select(
    a: ArrayLike,
    q: Sequence[float] | np.ndarray,
    axis: int | tuple[int, ...] | None,
    method: str,
    *,
    skipna: bool,
    single: bool,
    median: bool,
    copy: bool | None = None,
) -> tuple[np.ndarray, bool]: ...
def set_num_threads(n: int) -> None: ...
def describe(
    a: ArrayLike,
    axis: _Axis = None,
    *,
    ddof: float = 0.0,
    skipna: bool = False,
    keepdims: bool = False,
    copy: bool | None = None,
) -> Summary: ...
def sum(
    a: ArrayLike, axis: _Axis = None, *, keepdims: bool = False, copy: bool | None = None
) -> _Result: ...
def nansum(
    a: ArrayLike, axis: _Axis = None, *, keepdims: bool = False, copy: bool | None = None
) -> _Result: ...
def mean(
    a: ArrayLike, axis: _Axis = None, *, keepdims: bool = False, copy: bool | None = None
) -> _Result: ...
def nanmean(
    a: ArrayLike, axis: _Axis = None, *, keepdims: bool = False, copy: bool | None = None
) -> _Result: ...
def min(
    a: ArrayLike, axis: _Axis = None, *, keepdims: bool = False, copy: bool | None = None
) -> _Result: ...
def max(
    a: ArrayLike, axis: _Axis = None, *, keepdims: bool = False, copy: bool | None = None
) -> _Result: ...
def nanmin(
    a: ArrayLike, axis: _Axis = None, *, keepdims: bool = False, copy: bool | None = None
) -> _Result: ...
def nanmax(
    a: ArrayLike, axis: _Axis = None, *, keepdims: bool = False, copy: bool | None = None
) -> _Result: ...
def var(
    a: ArrayLike,
    axis: _Axis = None,
    *,
    ddof: float = 0.0,
    keepdims: bool = False,
    copy: bool | None = None,
) -> _Result: ...
def nanvar(
    a: ArrayLike,
    axis: _Axis = None,
    *,
    ddof: float = 0.0,
    keepdims: bool = False,
    copy: bool | None = None,
) -> _Result: ...
def std(
    a: ArrayLike,
    axis: _Axis = None,
    *,
    ddof: float = 0.0,
    keepdims: bool = False,
    copy: bool | None = None,
) -> _Result: ...
def nanstd(
    a: ArrayLike,
    axis: _Axis = None,
    *,
    ddof: float = 0.0,
    keepdims: bool = False,
    copy: bool | None = None,
) -> _Result: ...
def argmin(
    a: ArrayLike, axis: int | None = None, *, keepdims: bool = False, copy: bool | None = None
) -> _Result: ...
def argmax(
    a: ArrayLike, axis: int | None = None, *, keepdims: bool = False, copy: bool | None = None
) -> _Result: ...
def nanargmin(
    a: ArrayLike, axis: int | None = None, *, keepdims: bool = False, copy: bool | None = None
) -> _Result: ...
def nanargmax(
    a: ArrayLike, axis: int | None = None, *, keepdims: bool = False, copy: bool | None = None
) -> _Result: ...
def move_sum(
    a: ArrayLike,
    window: int,
    min_count: int | None = None,
    axis: int = -1,
    *,
    copy: bool | None = None,
) -> np.ndarray: ...
def move_mean(
    a: ArrayLike,
    window: int,
    min_count: int | None = None,
    axis: int = -1,
    *,
    copy: bool | None = None,
) -> np.ndarray: ...
def move_var(
    a: ArrayLike,
    window: int,
    min_count: int | None = None,
    axis: int = -1,
    ddof: float = 0.0,
    *,
    copy: bool | None = None,
) -> np.ndarray: ...
def move_std(
    a: ArrayLike,
    window: int,
    min_count: int | None = None,
    axis: int = -1,
    ddof: float = 0.0,
    *,
    copy: bool | None = None,
) -> np.ndarray: ...
def move_min(
    a: ArrayLike,
    window: int,
    min_count: int | None = None,
    axis: int = -1,
    *,
    copy: bool | None = None,
) -> np.ndarray: ...
def move_max(
    a: ArrayLike,
    window: int,
    min_count: int | None = None,
    axis: int = -1,
    *,
    copy: bool | None = None,
) -> np.ndarray: ...
def move_argmin(
    a: ArrayLike,
    window: int,
    min_count: int | None = None,
    axis: int = -1,
    *,
    copy: bool | None = None,
) -> np.ndarray: ...
def move_argmax(
    a: ArrayLike,
    window: int,
    min_count: int | None = None,
    axis: int = -1,
    *,
    copy: bool | None = None,
) -> np.ndarray: ...
def move_median(
    a: ArrayLike,
    window: int,
    min_count: int | None = None,
    axis: int = -1,
    *,
    copy: bool | None = None,
) -> np.ndarray: ...
def move_rank(
    a: ArrayLike,
    window: int,
    min_count: int | None = None,
    axis: int = -1,
    *,
    copy: bool | None = None,
) -> np.ndarray: ...
def anynan(
    a: ArrayLike, axis: int | None = None, *, keepdims: bool = False, copy: bool | None = None
) -> _Result: ...
def allnan(
    a: ArrayLike, axis: int | None = None, *, keepdims: bool = False, copy: bool | None = None
) -> _Result: ...
def ss(
    a: ArrayLike, axis: int | None = None, *, keepdims: bool = False, copy: bool | None = None
) -> _Result: ...
