"""Measure nocopy against NumPy on this machine: ``python -m nocopy.bench``.

Runs each workload alternately with its NumPy counterpart in one process and prints median
times and the speedup. ``--quick`` uses fewer repetitions. Later versions add more workloads.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import nocopy as nc


def _median(f: Callable[[], Any], repeat: int, inner: int = 1) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(inner):
            f()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)


def _row(name: str, ours: float, theirs: float, peer: str) -> None:
    print(
        f"{name:<44} {ours * 1e3:>10.4f} ms {theirs * 1e3:>10.4f} ms  {theirs / ours:>6.2f}x {peer}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    repeat = 5 if args.quick else 15
    rng = np.random.default_rng(0)
    x = rng.standard_normal(10_000_000) * 3 + 100
    table = rng.standard_normal((1_000_000, 32))
    tiny = np.arange(10.0)

    print(f"nocopy {nc.__version__}, numpy {np.__version__}, {nc.get_num_threads()} threads")
    print(f"{'workload':<44} {'nocopy':>13} {'peer':>13}  speedup")
    _row(
        "sum, 10 float64 (per call)",
        _median(lambda: nc.sum(tiny), repeat, 2000),
        _median(lambda: np.sum(tiny), repeat, 2000),
        "np.sum",
    )
    _row(
        "sum 1e7 float64",
        _median(lambda: nc.sum(x), repeat),
        _median(lambda: np.sum(x), repeat),
        "np.sum",
    )
    _row(
        "std 1e7 float64",
        _median(lambda: nc.std(x), repeat),
        _median(lambda: np.std(x), repeat),
        "np.std",
    )

    def four(a: np.ndarray, axis: int | None = None) -> None:
        np.mean(a, axis=axis), np.std(a, axis=axis), np.min(a, axis=axis), np.max(a, axis=axis)

    _row(
        "describe 1e7 float64",
        _median(lambda: nc.describe(x), repeat),
        _median(lambda: four(x), repeat),
        "numpy mean,std,min,max",
    )
    _row(
        "describe(axis=0) (1e6, 32) C order",
        _median(lambda: nc.describe(table, axis=0), repeat),
        _median(lambda: four(table, 0), repeat),
        "numpy mean,std,min,max",
    )
    print("\nzero-copy view against copy=True (sum):")
    for n in (10**3, 10**5, 10**7):
        a = x[:n]
        _row(
            f"  n = {n:.0e}",
            _median(lambda a=a: nc.sum(a), repeat),
            _median(lambda a=a: nc.sum(a, copy=True), repeat),
            "copy=True",
        )


if __name__ == "__main__":
    main()
