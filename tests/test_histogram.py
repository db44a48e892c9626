"""histogram against numpy.histogram: the same edges, the same counts, the same errors."""

from __future__ import annotations

import numpy as np
import pytest

import nocopy as nc

from layouts import LAYOUTS, values

DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, np.int8, np.uint8, np.uint64]


def same(got, want) -> None:
    (h, e), (wh, we) = got, want
    assert h.dtype == wh.dtype and e.dtype == we.dtype, (h.dtype, wh.dtype, e.dtype, we.dtype)
    np.testing.assert_array_equal(e, we)
    np.testing.assert_array_equal(h, wh)


def as_numpy(*args, **kwargs) -> None:
    """nocopy gives NumPy's result, or raises NumPy's error."""
    try:
        want = np.histogram(*args, **kwargs)
    except (ValueError, TypeError) as e:
        with pytest.raises(type(e), match=str(e)[:30]):
            nc.histogram(*args, **kwargs)
        return
    same(nc.histogram(*args, **kwargs), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bins", [1, 7, 10, 100, 1000])
def test_counts_match_numpy(dtype, bins):
    a = values(dtype, (300, 11), seed=bins)
    as_numpy(a, bins)
    for rng in ((-3, 7), (0.1, 0.7), (np.float32(-1.5), np.float32(2.25)), (5, 5)):
        as_numpy(a, bins, range=rng)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
def test_values_on_edges(dtype):
    """Every value exactly on an edge, including the closed last edge."""
    edges = np.linspace(0, 1, 11).astype(dtype) if np.dtype(dtype).kind == "f" else np.arange(11)
    a = np.repeat(edges, 3).astype(dtype)
    same(nc.histogram(a, 10), np.histogram(a, 10))
    same(nc.histogram(a, 10, range=(0, 1)), np.histogram(a, 10, range=(0, 1)))
    same(nc.histogram(a, bins=edges), np.histogram(a, bins=edges))
    # Awkward ranges whose edges round: many values at and next to each edge.
    rng = np.random.default_rng(1)
    for lo, hi, n in ((0.1, 0.7, 3), (-1e-3, 1e5, 97), (1 / 3, 2 / 3, 1000)):
        e = np.linspace(lo, hi, n + 1)
        b = np.concatenate(
            [e, np.nextafter(e, -np.inf), np.nextafter(e, np.inf), rng.uniform(lo, hi, 999)]
        )
        b = b.astype(dtype) if np.dtype(dtype).kind == "f" else b
        same(nc.histogram(b, n, range=(lo, hi)), np.histogram(b, n, range=(lo, hi)))
        same(nc.histogram(b, n), np.histogram(b, n))


def test_long_input_many_bins():
    rng = np.random.default_rng(3)
    a = rng.standard_normal(1_000_003)
    for bins in (100, 4096, 100_000):
        same(nc.histogram(a, bins), np.histogram(a, bins))
    f = a.astype(np.float32)
    same(nc.histogram(f, 333, range=(-2, 2.5)), np.histogram(f, 333, range=(-2, 2.5)))
    edges = np.sort(rng.standard_normal(50))
    same(nc.histogram(a, edges), np.histogram(a, edges))
    same(nc.histogram(a[::-3], 64), np.histogram(a[::-3], 64))


def test_explicit_edges():
    a = values(np.float64, (50, 4), seed=2)
    for edges in (
        [-10, 0, 10],
        [0.0, 0.0, 1.0, 5.0, 5.0, 20.0],
        np.array([-1, 3], dtype=np.int8),
        [1, 2],
    ):
        same(nc.histogram(a, edges), np.histogram(a, edges))
    ints = values(np.int16, (50,), seed=2)
    same(nc.histogram(ints, [-50.5, 0.5, 49.5]), np.histogram(ints, [-50.5, 0.5, 49.5]))
    same(nc.histogram(ints, bins=[3]), np.histogram(ints, bins=[3]))


def test_nan_and_infinity():
    a = np.array([0.0, 1.0, np.nan, 2.0, np.inf, -np.inf, 3.0])
    same(nc.histogram(a, 4, range=(0, 3)), np.histogram(a, 4, range=(0, 3)))
    same(nc.histogram(a, [0, 1, np.inf]), np.histogram(a, [0, 1, np.inf]))
    with pytest.raises(ValueError, match=r"autodetected range of \[nan, nan\] is not finite"):
        nc.histogram(a)
    with pytest.raises(ValueError, match=r"autodetected range of \[-inf, inf\] is not finite"):
        nc.histogram(a[np.isfinite(a) | np.isinf(a)])
    with pytest.raises(ValueError, match=r"supplied range of \[0, inf\] is not finite"):
        nc.histogram(a, range=(0, np.inf))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16])
def test_layouts(layout, dtype, tmp_path):
    a = LAYOUTS[layout](values(dtype), tmp_path)
    before = np.array(a, copy=True)
    same(nc.histogram(a, 6), np.histogram(a, 6))
    same(nc.histogram(a, [-20, -1, 0, 5, 40]), np.histogram(a, [-20, -1, 0, 5, 40]))
    w = np.linspace(0, 1, a.size).reshape(a.shape)
    got, want = nc.histogram(a, 6, weights=w), np.histogram(a, 6, weights=w)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_array_equal(a, before)


def test_weights_and_density():
    rng = np.random.default_rng(4)
    a = rng.standard_normal(200_001)
    w = rng.random(200_001)
    for bins in (10, [-3.0, -1.0, 0.0, 0.5, 4.0]):
        got, want = nc.histogram(a, bins, weights=w), np.histogram(a, bins, weights=w)
        assert got[0].dtype == want[0].dtype
        np.testing.assert_allclose(got[0], want[0], rtol=1e-10)
        np.testing.assert_array_equal(got[1], want[1])
        got, want = nc.histogram(a, bins, density=True), np.histogram(a, bins, density=True)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    iw = rng.integers(0, 5, 200_001)
    same(nc.histogram(a, 10, weights=iw), np.histogram(a, 10, weights=iw))
    w32 = w.astype(np.float32)
    got, want = nc.histogram(a, 10, weights=w32), np.histogram(a, 10, weights=w32)
    assert got[0].dtype == np.float32
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)


def test_empty_and_named_bins():
    same(nc.histogram(np.array([])), np.histogram(np.array([])))
    a = values(np.float64, (100,), seed=5)
    for name in ("auto", "fd", "sturges"):
        same(nc.histogram(a, name), np.histogram(a, name))


def test_bad_arguments():
    a = np.arange(10.0)
    with pytest.raises(ValueError, match="`bins` must be positive, when an integer"):
        nc.histogram(a, 0)
    with pytest.raises(TypeError, match="`bins` must be an integer, a string, or an array"):
        nc.histogram(a, 2.5)
    with pytest.raises(ValueError, match="`bins` must increase monotonically, when an array"):
        nc.histogram(a, [0, 2, 1])
    with pytest.raises(ValueError, match="`bins` must be 1d, when an array"):
        nc.histogram(a, [[0, 1], [2, 3]])
    with pytest.raises(ValueError, match=r"max must be larger than min in range parameter\."):
        nc.histogram(a, range=(2, 1))
    with pytest.raises(ValueError, match=r"weights should have the same shape as a\."):
        nc.histogram(a, weights=np.ones(3))
    with pytest.raises(ValueError, match="Too many bins for data range"):
        nc.histogram(np.array([1.0, 1.0 + 2e-16]), 1000, range=(1.0, 1.0 + 2e-16))
    with pytest.raises(ValueError, match="is not a valid estimator"):
        nc.histogram(a, "bogus")
    with pytest.raises(TypeError):
        nc.histogram(np.array(["a", "b"]))


def test_same_counts_on_any_thread_count():
    a = np.random.default_rng(6).standard_normal(500_000)
    with nc.threads(1):
        one = nc.histogram(a, 77)
    with nc.threads(2):
        same(nc.histogram(a, 77), one)
