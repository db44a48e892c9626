"""nocopy demo: summarize a 5-million-row table, check every number against NumPy, time both.

Run with `make demo`. The table is generated here (no download): eight columns of mixed scales,
one with a mean of a billion, about 1 % NaN. nocopy describes it per column and overall in one
pass each; NumPy needs a call per statistic. Every nocopy number is compared with NumPy's.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import nocopy as nc

ROWS = 5_000_000
COLUMNS = ["price", "quantity", "temperature", "sensor", "ratio", "returns", "latency", "score"]


def make_table(rng: np.random.Generator) -> np.ndarray:
    """A C-order float64 table with realistic, badly scaled columns and scattered NaN."""
    x = np.empty((ROWS, len(COLUMNS)))
    x[:, 0] = rng.lognormal(3.0, 1.0, ROWS)  # prices, heavy right tail
    x[:, 1] = rng.poisson(12, ROWS)  # counts
    x[:, 2] = rng.normal(21.5, 4.0, ROWS)  # temperatures
    x[:, 3] = 1e9 + rng.normal(0.0, 3.0, ROWS)  # a huge offset against a tiny spread
    x[:, 4] = rng.random(ROWS) * 1e-6  # tiny ratios
    x[:, 5] = rng.standard_t(3, ROWS) * 0.01  # fat-tailed returns
    x[:, 6] = rng.exponential(250.0, ROWS)  # latencies in ms
    x[:, 7] = rng.integers(-1000, 1000, ROWS) / 7  # scores
    holes = rng.random(x.shape) < 0.01
    x[holes] = np.nan
    return x


def numpy_describe(x: np.ndarray, axis: int | None) -> dict[str, Any]:
    """The same statistics the way NumPy users compute them: one call each."""
    return {
        "count": np.count_nonzero(~np.isnan(x), axis=axis),
        "mean": np.nanmean(x, axis=axis),
        "std": np.nanstd(x, axis=axis),
        "min": np.nanmin(x, axis=axis),
        "max": np.nanmax(x, axis=axis),
    }


def median_time(f: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def check(got: nc.Summary, ref: dict[str, Any]) -> float:
    """Largest relative difference between nocopy's and NumPy's statistics."""
    worst = 0.0
    for key, expected in ref.items():
        value = np.asarray(getattr(got, key), dtype=np.float64)
        expected = np.asarray(expected, dtype=np.float64)
        scale = np.maximum(np.abs(expected), np.finfo(np.float64).tiny)
        worst = max(worst, float(np.max(np.abs(value - expected) / scale)))
    return worst


def main() -> int:
    print(f"nocopy demo: {ROWS:,} rows x {len(COLUMNS)} columns, float64, ~1% NaN")
    print(f"threads: {nc.get_num_threads()}")
    x = make_table(np.random.default_rng(2026))
    print(
        f"table: {x.nbytes / 1e6:.0f} MB, C order; nocopy reads it in place: "
        f"{nc.inspect(x).zero_copy}\n"
    )

    by_column = nc.describe(x, axis=0, skipna=True)
    print(f"{'column':<12} {'count':>9} {'mean':>16} {'std':>12} {'min':>16} {'max':>16}")
    for j, name in enumerate(COLUMNS):
        print(
            f"{name:<12} {by_column.count[j]:>9,} {by_column.mean[j]:>16.6g} "
            f"{by_column.std[j]:>12.6g} {by_column.min[j]:>16.6g} {by_column.max[j]:>16.6g}"
        )
    overall = nc.describe(x, skipna=True)
    print(
        f"{'(all)':<12} {overall.count:>9,} {overall.mean:>16.6g} {overall.std:>12.6g} "
        f"{overall.min:>16.6g} {overall.max:>16.6g}\n"
    )

    failures = 0
    print(f"{'job':<26} {'nocopy':>10} {'numpy':>10} {'copy=True':>10} {'speedup':>8}  check")
    for label, axis in (("describe per column", 0), ("describe overall", None)):
        ref = numpy_describe(x, axis)
        worst = check(nc.describe(x, axis=axis, skipna=True), ref)
        ok = worst < 1e-9
        failures += not ok
        t_nc = median_time(lambda a=axis: nc.describe(x, axis=a, skipna=True), 5)
        t_np = median_time(lambda a=axis: numpy_describe(x, a), 3)
        t_copy = median_time(lambda a=axis: nc.describe(x, axis=a, skipna=True, copy=True), 3)
        verdict = f"OK (max rel. diff {worst:.1e})" if ok else f"MISMATCH ({worst:.1e})"
        print(
            f"{label:<26} {t_nc * 1e3:>8.1f}ms {t_np * 1e3:>8.1f}ms {t_copy * 1e3:>8.1f}ms "
            f"{t_np / t_nc:>7.1f}x  {verdict}"
        )
    print("\n(times are medians; numpy = count_nonzero, nanmean, nanstd, nanmin, nanmax;")
    print(" copy=True is nocopy forced through its copying path)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
