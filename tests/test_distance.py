"""cdist and pdist against scipy.spatial.distance, including the near-duplicate accuracy case."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import distance as sd

import nocopy as nc

from layouts import LAYOUTS, values

METRICS = ["euclidean", "sqeuclidean", "cosine", "cityblock", "chebyshev", "minkowski"]


def reference(f, *args, metric, p=3.0):
    return f(*args, metric, p=p) if metric == "minkowski" else f(*args, metric)


def close(got, want, dtype) -> None:
    assert got.shape == want.shape
    rtol = 2e-5 if np.dtype(dtype) == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.uint8])
def test_cdist_and_pdist_match_scipy(metric, dtype):
    a = values(dtype, (300, 19), seed=1)
    b = values(dtype, (77, 19), seed=2)
    want_dtype = np.float32 if dtype == np.float32 else np.float64
    got = nc.cdist(a, b, metric, p=3.0)
    assert got.dtype == want_dtype
    close(got, reference(sd.cdist, a, b, metric=metric), dtype)
    got = nc.pdist(a, metric, p=3.0)
    assert got.dtype == want_dtype
    close(got, reference(sd.pdist, a, metric=metric), dtype)


@pytest.mark.parametrize("metric", METRICS)
def test_tiles_edges_and_large_tables(metric):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((700, 33))
    b = rng.standard_normal((1300, 33))
    close(
        nc.cdist(a, b, metric, p=1.5), reference(sd.cdist, a, b, metric=metric, p=1.5), np.float64
    )
    close(nc.pdist(b, metric, p=1.5), reference(sd.pdist, b, metric=metric, p=1.5), np.float64)


def test_near_duplicates_far_from_the_origin():
    """Points 1e-3 apart at 1e4 from the origin: the matrix-product form alone loses every digit."""
    rng = np.random.default_rng(4)
    centre = rng.standard_normal(128) * 1e4
    x = centre + rng.standard_normal((60, 128)) * 1e-3
    y = np.concatenate([x[:10], centre + rng.standard_normal((40, 128)) * 1e-3])
    want = sd.cdist(x, y)
    got = nc.cdist(x, y)
    off = want > 0
    assert np.max(np.abs(got[off] - want[off]) / want[off]) <= 1e-6
    assert np.all(got[:10, :10].diagonal() == 0.0)  # identical rows: exactly 0
    sq = nc.cdist(x, y, "sqeuclidean")
    assert np.all(sq >= 0)
    # Mixed scales: a far cluster and points near the origin in one table.
    z = np.concatenate([x[:20], rng.standard_normal((20, 128))])
    want = sd.pdist(z)
    got = nc.pdist(z)
    assert np.max(np.abs(got - want) / want) <= 1e-6
    x32 = x.astype(np.float32)
    got32 = nc.cdist(x32, x32)
    want32 = sd.cdist(x32.astype(np.float64), x32.astype(np.float64))
    assert np.all(got32.diagonal() == 0)
    off = want32 > 0
    assert np.max(np.abs(got32[off] - want32[off]) / want32[off]) <= 1e-3


def test_degenerate_shapes():
    a = values(np.float64, (5, 3), seed=5)
    close(nc.cdist(a[:1], a), sd.cdist(a[:1], a), np.float64)
    close(nc.cdist(a[:, :1], a[:, :1]), sd.cdist(a[:, :1], a[:, :1]), np.float64)
    assert nc.cdist(a[:0], a).shape == (0, 5)
    assert nc.cdist(a, a[:0]).shape == (5, 0)
    assert nc.pdist(a[:1]).shape == (0,)
    assert nc.pdist(a[:0]).shape == (0,)
    dup = np.repeat(a[:2], 3, axis=0)
    d = nc.pdist(dup)
    close(d, sd.pdist(dup), np.float64)
    assert (d == 0).sum() == (sd.pdist(dup) == 0).sum()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts(layout, tmp_path):
    a = LAYOUTS[layout](values(np.float64, (7, 5), seed=6), tmp_path)
    b = np.array(a)[::-1].copy()
    before = np.array(a, copy=True)
    for metric in ("euclidean", "cityblock", "cosine"):
        close(nc.cdist(a, b, metric), sd.cdist(np.array(a), b, metric), np.float64)
        close(nc.pdist(a, metric), sd.pdist(np.array(a), metric), np.float64)
    np.testing.assert_array_equal(a, before)


def test_out():
    a = values(np.float64, (30, 4), seed=7)
    b = values(np.float64, (20, 4), seed=8)
    out = np.empty((20, 30)).T  # any layout
    assert nc.cdist(a, b, out=out) is out
    close(out, sd.cdist(a, b), np.float64)
    with pytest.raises(ValueError, match="out has shape"):
        nc.cdist(a, b, out=np.empty((20, 30)))
    with pytest.raises(TypeError, match="out has dtype float32"):
        nc.cdist(a, b, out=np.empty((30, 20), np.float32))
    ro = np.empty((30, 20))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        nc.cdist(a, b, out=ro)
    square = np.zeros((30, 30))
    square[:, :4] = a
    with pytest.raises(ValueError, match="out overlaps the input"):
        nc.cdist(square[:, :4], square[:, :4], out=square)


def test_bad_input():
    a = np.zeros((3, 4))
    with pytest.raises(ValueError, match="same number of columns"):
        nc.cdist(a, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="Unknown Distance Metric"):
        nc.cdist(a, a, "hamming-ish")
    with pytest.raises(ValueError, match="2-dimensional"):
        nc.cdist(np.zeros(3), a)
    with pytest.raises(ValueError, match="2-dimensional"):
        nc.pdist(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="p must be greater than 0"):
        nc.cdist(a, a, "minkowski", p=0)
    with pytest.raises(TypeError):
        nc.cdist(np.array([["a"]]), np.array([["b"]]))


def test_same_results_on_any_thread_count():
    rng = np.random.default_rng(9)
    a = rng.standard_normal((900, 40))
    with nc.threads(1):
        one = nc.cdist(a, a[:500])
        flat = nc.pdist(a, "cityblock")
    with nc.threads(2):
        np.testing.assert_array_equal(nc.cdist(a, a[:500]), one)
        np.testing.assert_array_equal(nc.pdist(a, "cityblock"), flat)


def brute(base, queries, k, metric):
    """Brute force: every distance, sorted by (distance, index)."""
    b, q = base.astype(np.float64), queries.astype(np.float64)
    if metric == "ip":
        d = -(q @ b.T)
    else:
        d = sd.cdist(q, b, metric)
    order = np.lexsort((np.broadcast_to(np.arange(len(b)), d.shape), d), axis=1)[:, :k]
    dist = np.take_along_axis(d, order, axis=1)
    return (-dist if metric == "ip" else dist), order


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean", "cosine", "cityblock", "ip"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16])
def test_knn_matches_brute_force(metric, dtype):
    rng = np.random.default_rng(10)
    base = (rng.standard_normal((3000, 24)) * 20).astype(dtype)
    queries = (rng.standard_normal((70, 24)) * 20).astype(dtype)
    d, i = nc.knn(base, queries, 7, metric=metric)
    wd, wi = brute(base, queries, 7, metric)
    assert i.dtype == np.int64 and d.shape == i.shape == (70, 7)
    assert d.dtype == (np.float32 if dtype == np.float32 else np.float64)
    np.testing.assert_array_equal(i, wi)
    np.testing.assert_allclose(d, wd, rtol=2e-5 if dtype == np.float32 else 1e-10, atol=1e-6)


def test_knn_ties_go_to_the_lower_index_on_any_thread_count():
    base = np.tile(np.arange(50.0), 400)[:, None]  # value v at rows v, v + 50, v + 100, ...
    q = np.array([[10.2], [0.0]])
    for threads in (1, 2):
        with nc.threads(threads):
            d, i = nc.knn(base, q, 5)
        np.testing.assert_array_equal(i, [[10, 60, 110, 160, 210], [0, 50, 100, 150, 200]])
        np.testing.assert_allclose(d[0], 0.04)


def test_knn_near_duplicates_and_degenerate_shapes():
    rng = np.random.default_rng(11)
    centre = rng.standard_normal(64) * 1e4
    base = centre + rng.standard_normal((500, 64)) * 1e-3
    d, i = nc.knn(base, base[:5], 1, metric="euclidean")
    np.testing.assert_array_equal(i[:, 0], np.arange(5))
    assert np.all(d == 0)
    d, i = nc.knn(base[:1], base[:3], 1)
    np.testing.assert_array_equal(i, [[0], [0], [0]])
    d, i = nc.knn(base, base[:0], 3)
    assert d.shape == i.shape == (0, 3)


def test_knn_bad_input():
    base = np.zeros((5, 3))
    with pytest.raises(ValueError, match="k must be between 1 and the number of base rows"):
        nc.knn(base, base, 6)
    with pytest.raises(ValueError, match="k must be between"):
        nc.knn(base, base, 0)
    with pytest.raises(ValueError, match="same number of columns"):
        nc.knn(base, np.zeros((2, 4)), 1)
    with pytest.raises(ValueError, match="Unknown knn metric"):
        nc.knn(base, base, 1, metric="chebyshev")


def test_knn_near_duplicates_far_from_the_origin_match_scipy():
    rng = np.random.default_rng(12)
    centre = rng.standard_normal(32) * 1e4
    base = centre + rng.standard_normal((2000, 32)) * 1e-3
    queries = centre + rng.standard_normal((40, 32)) * 1e-3
    d, i = nc.knn(base, queries, 4, metric="euclidean")
    wd, wi = brute(base, queries, 4, "euclidean")
    np.testing.assert_array_equal(i, wi)
    np.testing.assert_allclose(d, wd, rtol=1e-6)


def test_knn_nan_distances_rank_last_in_index_order():
    base = np.arange(24.0).reshape(6, 4)
    base[2, 1] = np.nan
    queries = np.array([[4.0, 5, 6, 7], [0, np.nan, 0, 0]])
    for metric in ("sqeuclidean", "cosine", "cityblock", "ip"):
        d, i = nc.knn(base, queries, 6, metric=metric)
        wd, wi = brute(base, queries, 6, metric)
        np.testing.assert_array_equal(i, wi)
        np.testing.assert_allclose(d, wd, rtol=1e-12)
        assert i[0, -1] == 2 and np.isnan(d[0, -1])
        np.testing.assert_array_equal(i[1], np.arange(6))
        assert np.isnan(d[1]).all()


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean", "cosine", "cityblock", "ip"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_knn_same_results_on_any_thread_count(metric, dtype):
    rng = np.random.default_rng(13)
    base = rng.standard_normal((5000, 33)).astype(dtype)
    queries = rng.standard_normal((300, 33)).astype(dtype)
    with nc.threads(1):
        d1, i1 = nc.knn(base, queries, 9, metric=metric)
    with nc.threads(2):
        d2, i2 = nc.knn(base, queries, 9, metric=metric)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(d1, d2)


def test_nan_and_infinity_touch_only_their_own_rows():
    rng = np.random.default_rng(14)
    a = rng.standard_normal((50, 6)) * 1e3
    b = rng.standard_normal((60, 6)) * 1e3
    a[3, 2] = np.nan
    b[7, 1] = np.inf
    b[8, 0] = np.nan
    for metric in METRICS:
        with np.errstate(invalid="ignore"):
            want = reference(sd.cdist, a, b, metric=metric)
        np.testing.assert_allclose(nc.cdist(a, b, metric, p=3.0), want, rtol=1e-10)


def test_knn_memory_stays_small_beside_its_base():
    # knn keeps k candidates per query and a tile of distances per thread, never a row of
    # distances per query (2000 x 300 000 float32 would be 2.4 GB) or a copy of the base.
    # Measured in a child process from its own memory map (the resident high-water mark during
    # knn above the resident size before it), whatever the parent holds: this process holds
    # 1 GB while it measures (`ru_maxrss`, which Linux carries from parent to child across
    # exec, once reported that as a 2.8 GB knn peak, and would hide a real one below it).
    from nocopy.bench import peak_memory_of_knn

    held = np.ones(1 << 27)
    base_bytes, extra = peak_memory_of_knn(300_000, 2000)
    assert held.sum() == 1 << 27
    assert base_bytes == 300_000 * 128 * 4
    # The results (2000 x 10 of int64 and float32) are 0.24 MB; 64 MiB is the bound.
    assert 0 < extra < 64 << 20, f"knn peaked {extra / 2**20:.1f} MiB above its inputs"
