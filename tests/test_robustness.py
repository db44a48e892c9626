"""What used to crash, hang or answer wrongly (issue 14), each kept as a test: fork, threads,
determinism, overflow and ties."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from fractions import Fraction

import numpy as np
import pytest

import nocopy as nc


def run_child(code: str, timeout: float = 60) -> str:
    """Runs `code` in a fresh interpreter; fails on a hang (timeout) or a non-zero exit."""
    try:
        out = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the child hung")
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


# -- fork ---------------------------------------------------------------------------------------


def test_a_forked_child_computes_after_the_parent_started_the_pool():
    out = run_child(
        """
        import os, numpy as np, nocopy as nc
        x = np.random.default_rng(0).standard_normal((200_000, 8))
        parent = (nc.sum(x, axis=0), nc.describe(x).std)      # the pool's threads are running
        pid = os.fork()
        if pid == 0:
            ok = np.array_equal(nc.sum(x, axis=0), parent[0])
            ok &= nc.describe(x).std == parent[1]
            ok &= nc.KMeans(3, n_init=1, random_state=0).fit(x[:20_000]).inertia_ > 0
            ok &= nc.cdist(x[:500], x[:600]).shape == (500, 600)
            with nc.threads(2):
                ok &= np.array_equal(nc.sum(x, axis=0), parent[0])
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
        """,
        timeout=60,
    )
    assert out.strip() == "0"


def test_a_fork_pool_maps_nocopy_calls():
    out = run_child(
        """
        import multiprocessing as mp, numpy as np, nocopy as nc
        def work(seed):
            x = np.random.default_rng(seed).standard_normal((300_000, 4))
            return float(nc.std(x)), float(np.std(x))
        if __name__ == "__main__":
            nc.sum(np.ones(10**7))                       # the parent's pool first
            with mp.get_context("fork").Pool(3) as pool:
                results = pool.map(work, range(6))
            print(all(abs(a - b) < 1e-12 for a, b in results))
        """,
        timeout=90,
    )
    assert out.strip() == "True"


# -- threads ------------------------------------------------------------------------------------


def test_an_absurd_thread_count_is_refused_at_once():
    start = time.perf_counter()
    with pytest.raises(ValueError, match="at most 1024"):
        nc.set_num_threads(10**6)
    assert time.perf_counter() - start < 0.5


def test_eight_threads_calling_while_the_thread_count_changes_get_serial_answers():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300_000, 6))
    x[::101, 2] = np.nan
    table = rng.standard_normal((2_000, 16))
    calls = {
        "sum": lambda: nc.sum(x, axis=0),
        "nanvar": lambda: nc.nanvar(x, axis=0),
        "describe": lambda: nc.describe(x, axis=1, skipna=True).std,
        "quantile": lambda: nc.quantile(x[:, 0], [0.1, 0.5, 0.9]),
        "histogram": lambda: nc.histogram(x[:, 1], 50, weights=x[:, 3])[0],
        "move_mean": lambda: nc.move_mean(x, 20, axis=0),
        "standardize": lambda: nc.standardize(table),
        "cdist": lambda: nc.cdist(table[:300], table),
        "knn": lambda: nc.knn(table, table[:200], 5)[1],
        "kmeans": lambda: nc.KMeans(4, n_init=1, random_state=1).fit(table).cluster_centers_,
    }
    with nc.threads(1):
        serial = {name: np.asarray(f()).tobytes() for name, f in calls.items()}
    names = list(calls)
    failures: list[str] = []
    stop = threading.Event()

    def caller(k: int) -> None:
        for r in range(6):
            name = names[(k + r) % len(names)]
            if np.asarray(calls[name]()).tobytes() != serial[name]:
                failures.append(name)

    def changer() -> None:
        n = 1
        while not stop.is_set():
            nc.set_num_threads(n)
            n = n % 4 + 1
            time.sleep(0.002)

    before = nc.get_num_threads()
    workers = [threading.Thread(target=caller, args=(k,)) for k in range(8)]
    turner = threading.Thread(target=changer)
    turner.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    turner.join()
    nc.set_num_threads(before)
    assert not failures


# -- determinism --------------------------------------------------------------------------------


def test_weighted_histograms_are_the_same_bits_on_every_run_and_thread_count():
    rng = np.random.default_rng(5)
    a = rng.standard_normal(3_000_000)
    w = rng.standard_normal(3_000_000) * 1e3
    results = set()
    for threads in (1, 2, 3, 4):
        with nc.threads(threads):
            for _ in range(5):
                results.add(nc.histogram(a, 64, weights=w)[0].tobytes())
    assert len(results) == 1
    np.testing.assert_allclose(
        np.frombuffer(results.pop()), np.histogram(a, 64, weights=w)[0], rtol=1e-9, atol=1e-6
    )


# -- edge values --------------------------------------------------------------------------------


def numpy_and_warnings(f):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = f()
    return value, sorted({str(c.message) for c in caught if c.category is RuntimeWarning})


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.nanvar(np.arange(7.0), ddof=7),
        lambda m: m.nanvar(np.arange(7.0), ddof=8),
        lambda m: m.nanstd(np.array([[1.0, 2], [3, np.nan]]), axis=0, ddof=1),
        lambda m: m.var(np.arange(7.0), ddof=np.nan),
        lambda m: m.nanvar(np.arange(7.0), ddof=np.nan),
        lambda m: m.var(np.arange(7.0), ddof=7),
        lambda m: m.nanvar(np.arange(7), ddof=8),
    ],
    ids=[
        "nanvar-ddof-n",
        "nanvar-ddof-above",
        "nanstd-a-short-column",
        "var-ddof-nan",
        "nanvar-ddof-nan",
        "var-ddof-n",
        "nanvar-of-integers",
    ],
)
def test_degrees_of_freedom_at_or_past_the_count_follow_numpy(call):
    ours, ours_warned = numpy_and_warnings(lambda: call(nc))
    theirs, theirs_warned = numpy_and_warnings(lambda: call(np))
    np.testing.assert_array_equal(ours, theirs)
    # NumPy's own wording (with its full stop for nanvar); it adds a divide-by-zero warning.
    assert set(ours_warned) <= set(theirs_warned)
    assert any("Degrees of freedom" in m for m in ours_warned) == any(
        "Degrees of freedom" in m for m in theirs_warned
    )


def test_overflow_in_an_intermediate_never_becomes_a_finite_wrong_answer():
    # Means and standard deviations that exist, of values whose sums overflow.
    np.testing.assert_array_equal(
        nc.move_mean(np.array([1e308, 1e308, -1e308]), 2), [np.nan, 1e308, 0]
    )
    np.testing.assert_allclose(
        nc.standardize(np.array([1e308, 1e308, -1e308])), [0.5**0.5, 0.5**0.5, -(2**0.5)]
    )
    np.testing.assert_array_equal(nc.standardize(np.array([[1e308], [-1e308]])), [[1.0], [-1.0]])
    np.testing.assert_array_equal(nc.minmax_scale(np.array([[1e308], [-1e308]])), [[1.0], [0.0]])
    # Variances that overflow are infinite, as NumPy's, not zero.
    v = nc.move_var(np.array([1e200, -1e200, 3.0]), 2)
    assert np.isnan(v[0]) and np.isinf(v[1]) and np.isinf(v[2])
    # An outlier that has left the window leaves no rounding behind (bottleneck's does).
    m = nc.move_mean(np.array([np.iinfo(np.int64).min, 1, 13, -12], np.int64), 2)
    np.testing.assert_array_equal(m[2:], [7.0, 0.5])


# -- k-means close calls ------------------------------------------------------------------------


def exact_sq(x: np.ndarray, c: np.ndarray) -> Fraction:
    return sum((Fraction(float(a)) - Fraction(float(b))) ** 2 for a, b in zip(x, c, strict=True))


def assert_exactly_nearest(x: np.ndarray, centres: np.ndarray, labels: np.ndarray) -> None:
    for i, row in enumerate(x):
        d = [exact_sq(row, c) for c in centres]
        best = min(range(len(d)), key=lambda j: (d[j], j))  # the lower index on a tie
        assert labels[i] == best, (i, labels[i], best)


def test_near_ties_go_to_the_exactly_nearest_centre():
    sklearn = pytest.importorskip("sklearn.datasets")
    x = sklearn.load_iris().data
    init = x[:10].copy()
    model = nc.KMeans(10, init=init, n_init=1, max_iter=1).fit(x)
    model.cluster_centers_ = init
    # Row 42 is 1.8e-16 nearer centre 3 than centre 2 (scikit-learn picks 2).
    assert_exactly_nearest(x, init, model.predict(x))


def test_exact_ties_of_binary_data_go_to_the_lower_centre():
    x = np.random.default_rng(0).integers(0, 2, (30, 4)).astype(float)
    for k in (3, 5, 7):
        model = nc.KMeans(k, init=x[:k], n_init=1, max_iter=1).fit(x)
        model.cluster_centers_ = x[:k]
        assert_exactly_nearest(x, x[:k], model.predict(x))
        for dtype in (np.float32, np.float64):
            fit = nc.KMeans(k, init=x[:k].astype(dtype), n_init=1, max_iter=5).fit(x.astype(dtype))
            assert_exactly_nearest(x, fit.cluster_centers_.astype(float), fit.labels_)
