"""The child side of the hostile-input suite: runs the calls it is given, one JSON line each.

Run as ``python hostile_child.py`` with a JSON list of cases on stdin, under the memory cap
and the timeout the parent sets. Each case names a function, an input described by
``build`` and keyword arguments; the call gets ``budget`` seconds, after which an alarm asks it
to stop, as Ctrl-C would (nocopy's long kernels poll for it). The line says what happened:
``value`` (and, where a reference computed the same thing, whether they agree), an exception
class, or ``interrupted``, with the time it took. A crash or a hang shows as missing lines.
"""

from __future__ import annotations

import json
import signal
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

import nocopy as nc


class Deadline(Exception):
    """The call's budget ran out (raised from the alarm's handler)."""


def _alarm(*_: object) -> None:
    raise Deadline


def build(spec: dict[str, Any]) -> np.ndarray:
    """An input from its description (see ``tests/test_hostile.py``)."""
    dtype = np.dtype(spec["dtype"])
    shape = tuple(spec["shape"])
    kind = spec["kind"]
    if kind == "broadcast":
        one = np.full(1, spec.get("fill", 0.5)).astype(dtype)
        return as_strided(one, shape, (0,) * len(shape), writeable=False)
    if kind == "empty":
        return np.empty(shape, dtype)
    rng = np.random.default_rng(spec.get("seed", 0))
    values = rng.standard_normal(shape) * spec.get("scale", 1.0)
    for i, v in enumerate(spec.get("specials", [])):
        values.flat[(i * 7919) % max(values.size, 1)] = v
    a = values.astype(dtype) if dtype.kind in "fc" else (values * 10).astype(dtype)
    if spec.get("reverse"):
        a = a[::-1]
    return a


def windows_directly(stat: Callable[..., Any]) -> Callable[..., Any]:
    """bottleneck's moving ``stat`` computed window by window in float64: the reference for
    the moving sums, where bottleneck's own running sums keep the rounding of an outlier
    (nocopy's start again)."""

    def moving(a: np.ndarray, window: int, min_count: int | None = None, axis: int = -1, **kw: Any):
        x = np.moveaxis(np.asarray(a, dtype=np.float64), axis, -1)
        need = window if min_count is None else min_count
        if not 1 <= window <= x.shape[-1] or not 1 <= need <= window:
            raise ValueError("window or min_count out of bounds (as bottleneck refuses them)")
        out = np.full(x.shape, np.nan)
        for i in range(x.shape[-1]):
            w = x[..., max(0, i - window + 1) : i + 1]
            count = (~np.isnan(w)).sum(-1)
            with np.errstate(all="ignore"):
                v = stat(w, axis=-1, **kw)
            out[..., i] = np.where(count >= need, v, np.nan)
        out = np.moveaxis(out, -1, axis)
        return out.astype(np.float32) if np.asarray(a).dtype == np.float32 else out

    return moving


def reference(name: str) -> Callable[..., Any] | None:
    """The peer function nocopy's ``name`` answers for, when installed."""
    direct = {"move_sum": np.nansum, "move_mean": np.nanmean, "move_std": np.nanstd,
              "move_var": np.nanvar}  # fmt: skip
    if name in direct:
        return windows_directly(direct[name])
    if name in ("cdist", "pdist"):
        import scipy.spatial.distance

        return getattr(scipy.spatial.distance, name)
    if name in ("quantile", "nanquantile", "percentile", "nanpercentile", "median", "nanmedian"):
        # NumPy interpolates integers in their own type, where `b - a` can wrap (the quantiles
        # of int64 [0, i64::MIN] come out above and below the data); nocopy in float64.
        peer = getattr(np, name)

        def in_float(a: np.ndarray, *args: Any, **kw: Any) -> Any:
            wide = a.dtype.kind in "iu" and a.dtype.itemsize == 8
            return peer(a.astype(np.float64) if wide else a, *args, **kw)

        return in_float
    if hasattr(np, name):
        return getattr(np, name)
    try:
        import bottleneck as bn
    except ImportError:  # pragma: no cover - the suite pins bottleneck
        return None
    return getattr(bn, name, None)


def same(ours: Any, theirs: Any) -> bool:
    """Whether two results agree (tuples part by part, NaN equal to NaN, floats to 1e-7)."""
    if isinstance(theirs, tuple):
        parts = zip(ours, theirs, strict=False)
        return isinstance(ours, tuple) and all(same(o, t) for o, t in parts)
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    if ours.shape != theirs.shape:
        return False
    if theirs.dtype.kind in "fc" or ours.dtype.kind in "fc":
        if np.float32 in (ours.dtype.type, theirs.dtype.type):
            # float32 peers (bottleneck) accumulate in float32, nocopy in float64: a standard
            # deviation from float32 sums of squares is off by up to sqrt(eps) of the scale.
            finite = np.abs(theirs[np.isfinite(theirs)])
            scale = float(finite.max()) if finite.size else 0.0
            return bool(np.allclose(ours, theirs, rtol=1e-4, atol=5e-4 * scale, equal_nan=True))
        # Running sums (bottleneck's and nocopy's) leave rounding of the data's scale in a
        # spread that is nearly zero.
        finite = np.abs(theirs[np.isfinite(theirs)])
        scale = float(finite.max()) if finite.size else 0.0
        return bool(np.allclose(ours, theirs, rtol=1e-7, atol=1e-7 * scale, equal_nan=True))
    return bool(np.array_equal(ours, theirs))


def attempt(fn: Callable[[], Any], budget: float) -> tuple[str, Any, float]:
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        value, outcome = fn(), "value"
    except Deadline:
        value, outcome = None, "interrupted"
    except Exception as e:  # every exception is reported by class, to be judged by the parent
        value, outcome = str(e)[:300], type(e).__name__
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return outcome, value, time.perf_counter() - start


def run(case: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = {"id": case["id"]}
    try:
        inputs = [build(s) for s in case["inputs"]]
    except (ValueError, MemoryError) as e:  # NumPy itself cannot make the input
        report["outcome"] = "unbuildable"
        report["value"] = str(e)[:200]
        return report
    # JSON has no tuples: an axis given as a list is a tuple of axes.
    kwargs = {k: tuple(v) if k == "axis" and isinstance(v, list) else v
              for k, v in case.get("kwargs", {}).items()}  # fmt: skip
    name = case["func"]
    ours = getattr(nc, name)
    outcome, value, elapsed = attempt(lambda: ours(*inputs, **kwargs), case["budget"])
    report.update(outcome=outcome, elapsed=elapsed)
    if outcome != "value":
        report["value"] = value
    peer = reference(name) if case.get("compare") else None
    if peer is not None:
        theirs_outcome, theirs, _ = attempt(lambda: peer(*inputs, **kwargs), case["budget"])
        report["peer"] = theirs_outcome
        if theirs_outcome == "value" and outcome == "value":
            report["agree"] = same(value, theirs)
    return report


def main() -> None:
    warnings.simplefilter("ignore")
    signal.signal(signal.SIGALRM, _alarm)
    for case in json.load(sys.stdin):
        print(json.dumps(run(case)), flush=True)


if __name__ == "__main__":
    main()
