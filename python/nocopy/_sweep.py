"""The sweep of ``python -m nocopy.bench --sweep``: every reduction against NumPy (and the moving
windows against bottleneck) over a grid of shapes, axes, memory orders and dtypes, each cell
timed turn about with its peer in this process, the worst cells first.

A drop-in is judged on every call, so the grid holds the shapes users have, not the shapes a
kernel likes: 1-d arrays from 10 to 10⁷ elements, tables tall and wide in C and Fortran order,
both axes of each, the three axes of a cube, strided and reversed views.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

import nocopy as nc


@dataclass
class Cell:
    """One function on one input, against its peer."""

    family: str
    function: str
    case: str
    dtype: str
    nocopy_s: float
    peer_s: float
    #: The ratio of a second, longer timing, for cells first measured under 1.0x: on a shared
    #: machine a cell can lose once to noise; one that loses again is slow.
    repeat: float | None = None

    @property
    def ratio(self) -> float:
        return self.peer_s / self.nocopy_s

    @property
    def slow(self) -> bool:
        """Under 1.0x on its first timing and on its repeat."""
        return self.ratio < 1.0 and (self.repeat is None or self.repeat < 1.0)


def timed(ours: Callable[[], Any], theirs: Callable[[], Any], budget: float) -> tuple[float, float]:
    """Median seconds per call of each, turn about, in about `budget` seconds in all; calls too
    short to time alone are timed in loops of ~0.5 ms."""
    from nocopy.bench import alternate

    theirs()
    start = time.perf_counter()
    theirs()
    once = max(time.perf_counter() - start, 1e-7)
    inner = max(1, int(5e-4 / once))
    repeat = int(min(15, max(3, budget / (2 * once * inner))))
    return alternate(ours, theirs, repeat, inner)


def measured(
    family: str, function: str, case: str, dtype: str,
    ours: Callable[[], Any], theirs: Callable[[], Any], budget: float,
) -> Cell:  # fmt: skip
    """The cell of `ours` against `theirs`; under 1.0x, timed once more for three times as long."""
    cell = Cell(family, function, case, dtype, *timed(ours, theirs, budget))
    if cell.ratio < 1.0:
        t_ours, t_theirs = timed(ours, theirs, 3 * budget)
        cell.repeat = t_theirs / t_ours
    return cell


def layouts(quick: bool) -> Iterator[tuple[str, Callable[[np.dtype], np.ndarray], Any]]:
    """(case name, maker of the input for a dtype, axis) for every case of the grid."""
    rng = np.random.default_rng(0)

    def make(shape: tuple[int, ...], order: str = "C", view: Callable[[Any], Any] = lambda a: a):
        def build(dtype: np.dtype) -> np.ndarray:
            x = rng.standard_normal(shape) * 100
            return view(np.asarray(x.astype(dtype), order=order))  # type: ignore[call-overload]

        return build

    big = 10**6 if quick else 10**7
    for n in (10, 1000, 10**5, big):
        yield f"({n},)", make((n,)), None
    for shape in ((32, 10**5), (10**5, 32), (1000, 1000), (3000, 3000)):
        if quick and shape == (3000, 3000):
            continue
        for order in ("C", "F"):
            for axis in (0, 1, None):
                if order == "F" and axis is None:
                    continue
                yield f"{shape} {order} axis={axis}", make(shape, order), axis
    for axis in (0, 1, 2, (0, 2)):
        yield f"(100, 100, 100) axis={axis}", make((100, 100, 100)), axis
    yield "(2000, 1000)[::2, ::-1] axis=0", make((2000, 1000), view=lambda a: a[::2, ::-1]), 0
    yield "(2000, 1000)[::2, ::-1] axis=1", make((2000, 1000), view=lambda a: a[::2, ::-1]), 1


REDUCTIONS = (
    "sum", "mean", "std", "var", "min", "max", "argmin", "argmax",
    "nansum", "nanmean", "nanstd", "nanvar", "nanmin", "nanmax", "nanargmin", "nanargmax",
)  # fmt: skip
QUANTILES = ("median", "nanmedian", "percentile", "nanpercentile")
MOVING = ("move_sum", "move_mean", "move_std", "move_max", "move_median")


def reductions(quick: bool, budget: float) -> Iterator[Cell]:
    dtypes = ("float64", "float32", "int64", "int32")
    for case, build, axis in layouts(quick):
        for dtype in dtypes:
            x = build(np.dtype(dtype))
            for name in REDUCTIONS:
                if name.startswith("nan") and dtype.startswith("int"):
                    continue  # NumPy hands integers to the plain function
                if name.endswith(("argmin", "argmax")) and isinstance(axis, tuple):
                    continue
                ours = partial(getattr(nc, name), x, axis=axis)
                theirs = partial(getattr(np, name), x, axis=axis)
                yield measured("reduction", name, case, dtype, ours, theirs, budget)


def others(quick: bool, budget: float) -> Iterator[Cell]:
    """describe (against NumPy's mean, std, min, max), the quantile family, moving windows."""
    for case, build, axis in layouts(quick):
        if isinstance(axis, tuple):
            continue
        for dtype in ("float64", "float32"):
            x = build(np.dtype(dtype))

            def four(x: np.ndarray = x, axis: Any = axis) -> None:
                np.mean(x, axis=axis), np.std(x, axis=axis), np.min(x, axis=axis)
                np.max(x, axis=axis)

            ours = partial(nc.describe, x, axis=axis)
            yield measured("describe", "describe", case, dtype, ours, four, budget)
            for name in QUANTILES:
                q = {} if "median" in name else {"q": [5, 50, 95]}
                ours = partial(getattr(nc, name), x, axis=axis, **q)
                theirs = partial(getattr(np, name), x, axis=axis, **q)
                yield measured("quantile", name, case, dtype, ours, theirs, budget)
    try:
        import bottleneck as bn
    except ImportError:
        return
    for case, build, axis in layouts(quick):
        if axis is None or isinstance(axis, tuple):
            continue
        for dtype in ("float64", "float32"):
            x = build(np.dtype(dtype))
            for window in (3, 100):
                if window > x.shape[axis]:
                    continue
                for name in MOVING:
                    ours = partial(getattr(nc, name), x, window, axis=axis)
                    theirs = partial(getattr(bn, name), x, window, axis=axis)
                    case_w = f"{case} w={window}"
                    yield measured("moving", name, case_w, dtype, ours, theirs, budget)


def sweep(quick: bool, families: str = "all") -> list[Cell]:
    budget = 0.02 if quick else 0.06
    cells = list(reductions(quick, budget))
    if families == "all":
        cells += list(others(quick, budget))
    return cells


def report(cells: list[Cell], worst: int = 20, others: int = 5) -> str:
    """The worst cells of each family, with the repeat of each under 1.0x (`worst` of the
    reductions, whose goal is every cell, `others` of the rest), then a summary line per family.
    """
    lines = [f"{'family':<10} {'function':<14} {'case':<34} {'dtype':<8} "
             f"{'nocopy':>10} {'peer':>10} {'ratio':>7} {'repeat':>7}"]  # fmt: skip
    families = list(dict.fromkeys(c.family for c in cells))
    for family in families:
        mine = sorted((c for c in cells if c.family == family), key=lambda c: c.ratio)
        for c in mine[: worst if family == "reduction" else others]:
            again = "" if c.repeat is None else f"{c.repeat:.2f}x"
            lines.append(
                f"{c.family:<10} {c.function:<14} {c.case:<34} {c.dtype:<8} "
                f"{c.nocopy_s * 1e6:>8.1f}µs {c.peer_s * 1e6:>8.1f}µs {c.ratio:>6.2f}x {again:>7}"
            )
    for family in families:
        mine = [c for c in cells if c.family == family]
        ratios = [c.ratio for c in mine]
        below = sum(r < 1.0 for r in ratios)
        lines.append(
            f"{family}: {len(ratios)} cells, median {statistics.median(ratios):.2f}x, "
            f"worst {min(ratios):.2f}x, {below} below 1.0x "
            f"({sum(c.slow for c in mine)} below on their repeat too)"
        )
    return "\n".join(lines)
