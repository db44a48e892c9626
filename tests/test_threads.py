"""Threads: the controls, bit-for-bit determinism, the GIL released, Ctrl-C honoured."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import nocopy as nc


def test_thread_controls():
    before = nc.get_num_threads()
    assert before >= 1
    with nc.threads(3):
        assert nc.get_num_threads() == 3
    assert nc.get_num_threads() == before
    with pytest.raises(ValueError, match="at least 1"):
        nc.set_num_threads(0)
    with pytest.raises(OverflowError):
        nc.set_num_threads(-1)
    assert nc.get_num_threads() == before


def test_environment_variable_sets_the_first_pool():
    code = "import nocopy; print(nocopy.get_num_threads())"
    env = {**os.environ, "NOCOPY_NUM_THREADS": "3"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True)
    assert out.stdout.strip() == b"3"


@pytest.mark.parametrize(
    "shape_axis",
    [
        ((3_000_000,), None),
        ((400_000, 5), 0),
        ((300_000, 35), 0),
        ((5, 400_000), 1),
        ((100_000, 35), 1),
        ((400, 3000), None),
    ],
    ids=["1d", "columns", "column-tiles", "rows", "short-rows", "2d-all"],
)
def test_results_are_identical_for_any_thread_count(shape_axis):
    shape, axis = shape_axis
    rng = np.random.default_rng(7)
    a = rng.standard_normal(shape) * 1e3 + 1e7
    a.flat[::97] = np.nan
    runs = []
    for n in (1, 2, 3, 8):
        with nc.threads(n):
            s = nc.describe(a, axis=axis, skipna=True)
            runs.append(
                b"".join(
                    np.asarray(x).tobytes()
                    for x in (
                        nc.sum(a, axis=axis),
                        nc.nansum(a, axis=axis),
                        nc.nanvar(a, axis=axis),
                        nc.nanargmax(a, axis=axis if axis is not None else None),
                        s.mean,
                        s.var,
                        s.min,
                    )
                )
            )
    assert all(r == runs[0] for r in runs[1:])


def test_the_gil_is_released_while_a_kernel_runs():
    a = np.broadcast_to(np.float64(1.0), (20_000, 20_000))  # 4e8 elements, no memory
    done = threading.Event()
    result: list[float] = []

    def work() -> None:
        result.append(float(nc.sum(a)))
        done.set()

    t = threading.Thread(target=work)
    t.start()
    ticks = 0
    while not done.is_set():
        ticks += 1  # only runs while the worker has let go of the GIL
        time.sleep(0.001)
    t.join()
    assert result == [4e8]
    assert ticks > 10


# Many seconds of work each, over inputs that take no memory (zero strides).
LONG_CALLS = {
    "sum": lambda: nc.sum(np.broadcast_to(np.float64(1.0), (10**5, 10**5))),
    "cdist": lambda: nc.cdist(
        np.broadcast_to(np.float64(1.0), (4000, 2000)),
        np.broadcast_to(np.float64(2.0), (4000, 2000)),
        "cityblock",
    ),
    "knn": lambda: nc.knn(
        np.broadcast_to(np.float32(1.0), (10**6, 256)), np.ones((3000, 256), np.float32), 10
    ),
    # Long rows against few: the work, not the sizes, says the call is long.
    "cdist-long-rows": lambda: nc.cdist(
        np.broadcast_to(np.float64(1.0), (1000, 4000)),
        np.broadcast_to(np.float64(2.0), (4000, 4000)),
        "cityblock",
    ),
    # Rows so long that one tile of them is seconds of work: products taken in pieces.
    "pdist-long-rows": lambda: nc.pdist(np.broadcast_to(np.float64(1.0), (256, 2**18))),
    "histogram": lambda: nc.histogram(np.broadcast_to(np.float64(0.5), (2**33,)), 10, range=(0, 1)),
    "histogram-weighted": lambda: nc.histogram(
        np.broadcast_to(np.float64(0.5), (2**32,)),
        10,
        range=(0, 1),
        weights=np.broadcast_to(np.float64(2.0), (2**32,)),
    ),
    # Lanes of distinct values (a stride along them), none in memory twice.
    "median": lambda: nc.median(as_strided(np.arange(10.0**6), (10**6, 4000), (8, 0)), axis=0),
    "move_median": lambda: nc.move_median(
        as_strided(np.arange(10.0**6), (400, 10**6), (0, 8)), 2001, axis=-1
    ),
    "describe": lambda: nc.describe(np.broadcast_to(np.float64(1.0), (10**5, 10**5)), axis=0),
    "standardize": lambda: nc.standardize(np.broadcast_to(np.float32(1.0), (100_000, 4_000))),
    "copy": lambda: nc.sum(np.broadcast_to(np.array(1.0, ">f8"), (2**28,)), copy=True),
}


@pytest.mark.parametrize("call", LONG_CALLS)
def test_ctrl_c_interrupts_a_long_kernel_promptly(call, ctrl_c):
    ctrl_c(0.3)
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        LONG_CALLS[call]()
    # Within a second of the key: every loop that runs long polls the flag.
    assert time.perf_counter() - start < 1.3
    # The pool is usable afterwards.
    assert nc.sum(np.ones(100_000)) == 100_000.0
