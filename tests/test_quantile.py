"""Quantiles, percentiles and medians against NumPy (and bottleneck's medians), bit for bit."""

from __future__ import annotations

import warnings

import bottleneck as bn
import numpy as np
import pytest

import nocopy as nc

from layouts import LAYOUTS, values

METHODS = ["linear", "lower", "higher", "nearest", "midpoint"]
DTYPES = [np.float64, np.float32, np.int64, np.int32, np.int8, np.uint16, np.uint64]
AXES = [None, 0, 1, -1, (0, 1)]


def same(got, want) -> None:
    """Same type, shape and values (NaN where NumPy has NaN; -0.0 equal to 0.0)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", AXES)
def test_quantile_matches_numpy(method, dtype, axis):
    a = values(dtype, (9, 6), seed=3)
    for q in (0.5, [0.0, 0.25, 0.7, 1.0], np.array([[0.1, 0.9], [0.33, 0.5]])):
        same(
            nc.quantile(a, q, axis=axis, method=method), np.quantile(a, q, axis=axis, method=method)
        )
        same(
            nc.percentile(a, np.multiply(q, 100), axis=axis, method=method),
            np.percentile(a, np.multiply(q, 100), axis=axis, method=method),
        )


@pytest.mark.parametrize("name", ["quantile", "nanquantile", "percentile", "nanpercentile"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_keepdims_and_out(name, keepdims):
    a = values(np.float64, (4, 5, 6), seed=1)
    q = [10.0, 50.0, 95.0] if "percentile" in name else [0.1, 0.5, 0.95]
    for axis in (None, 1, (0, 2)):
        want = getattr(np, name)(a, q, axis=axis, keepdims=keepdims)
        same(getattr(nc, name)(a, q, axis=axis, keepdims=keepdims), want)
        out = np.empty_like(want)
        got = getattr(nc, name)(a, q, axis=axis, keepdims=keepdims, out=out)
        assert got is out
        same(out, want)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16, np.float16])
def test_layouts(layout, dtype, tmp_path):
    a = LAYOUTS[layout](values(dtype), tmp_path)
    before = np.array(a, copy=True)
    for axis in (None, 0, 1):
        for method in ("linear", "nearest"):
            got = nc.quantile(a, [0.2, 0.5], axis=axis, method=method)
            want = np.quantile(a, [0.2, 0.5], axis=axis, method=method)
            if np.dtype(dtype) == np.float16:
                # NumPy interpolates float16 in float16; nocopy in float32, then rounds.
                assert got.dtype == want.dtype
                np.testing.assert_allclose(got.astype(float), want.astype(float), rtol=2e-3)
            else:
                same(got, want)
        same(nc.median(a, axis=axis), np.median(a, axis=axis))
    same(a, before)


def test_weak_and_strong_q_types():
    a = values(np.float32, (50,), seed=2)
    same(nc.quantile(a, 0.37), np.quantile(a, 0.37))  # float32
    same(nc.quantile(a, [0.37]), np.quantile(a, [0.37]))  # float64
    same(nc.quantile(a, np.float64(0.37)), np.quantile(a, np.float64(0.37)))
    same(nc.percentile(a, 37), np.percentile(a, 37))
    ints = values(np.int32, (50,), seed=2)
    same(nc.quantile(ints, 0.37, method="nearest"), np.quantile(ints, 0.37, method="nearest"))
    same(nc.quantile(ints, 0.37), np.quantile(ints, 0.37))
    # The result type is looked up once per kind of q: each kind still gets its own.
    big = a.astype(">f4")
    # (float32 q with linear interpolation is left out: NumPy places it in float32, nocopy in
    # float64, a last-bit difference noted in the open issue.)
    for q in (0.37, np.array(0.37), np.array([0.37], np.int64), [0.37], 1):
        for data in (a, big):
            for method in ("linear", "nearest"):
                same(nc.quantile(data, q, method=method), np.quantile(data, q, method=method))
    same(nc.median(big), np.median(big))
    same(nc.median(big.reshape(5, 10), axis=0), np.median(big.reshape(5, 10), axis=0))


def nan_data(shape, seed, share=0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    a[rng.random(shape) < share] = np.nan
    return a


@pytest.mark.parametrize("method", METHODS)
def test_nan(method):
    a = nan_data((30, 8), 5)
    a[:, 3] = np.nan
    a[:, 4] = [np.nan] * 29 + [1.5]
    for axis in (None, 0, 1):
        same(
            nc.quantile(a, [0.3, 0.8], axis=axis, method=method),
            np.quantile(a, [0.3, 0.8], axis=axis, method=method),
        )
        with warnings.catch_warnings(record=True) as got_w:
            warnings.simplefilter("always")
            got = nc.nanquantile(a, [0.3, 0.8], axis=axis, method=method)
        with warnings.catch_warnings(record=True) as want_w:
            warnings.simplefilter("always")
            want = np.nanquantile(a, [0.3, 0.8], axis=axis, method=method)
        same(got, want)
        assert any("All-NaN" in str(w.message) for w in got_w) == any(
            "All-NaN" in str(w.message) for w in want_w
        )


def test_infinities():
    a = np.array([1.0, np.inf, -np.inf, 3.0, np.inf])
    for q in (0.0, 0.3, 0.5, 0.9, 1.0):
        for method in METHODS:
            with np.errstate(invalid="ignore"):  # NumPy's own inf - inf
                want = np.quantile(a, q, method=method)
            same(nc.quantile(a, q, method=method), want)
    same(nc.median(a), np.median(a))


@pytest.mark.parametrize(
    "data",
    ["normal", "sorted", "reversed", "few", "periodic", "nan", "int", "float32"],
)
def test_long_lanes(data):
    """Lanes long enough to be bracketed from a sample, including data that misleads it."""
    rng = np.random.default_rng(11)
    n = 600_001
    a = rng.standard_normal(n)
    if data == "sorted":
        a.sort()
    elif data == "reversed":
        a = np.sort(a)[::-1]
    elif data == "few":
        a = rng.integers(0, 3, n).astype(float)
    elif data == "periodic":
        a = np.where(np.arange(n) % (n // 2**16) == 0, 0.0, np.arange(n, dtype=float))
    elif data == "nan":
        a[rng.random(n) < 0.3] = np.nan
    elif data == "int":
        a = rng.integers(-(2**40), 2**40, n)
    elif data == "float32":
        a = a.astype(np.float32)
    q = [0.0, 0.001, 0.5, 0.9, 0.99, 0.999999, 1.0]
    for method in METHODS:
        same(nc.quantile(a, q, method=method), np.quantile(a, q, method=method))
        same(nc.nanquantile(a, q, method=method), np.nanquantile(a, q, method=method))
    same(nc.median(a), np.median(a))
    same(nc.nanmedian(a), np.nanmedian(a))
    same(nc.percentile(a, [50, 90, 99]), np.percentile(a, [50, 90, 99]))
    # Long lanes along an axis, and strided.
    t = np.stack([a[: n // 2], a[n // 2 : n - 1]], axis=1)
    same(nc.quantile(t, q, axis=0), np.quantile(t, q, axis=0))
    same(nc.median(a[::-3]), np.median(a[::-3]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int32])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_median_matches_numpy_and_bottleneck(dtype, axis):
    """NumPy's dtypes (bottleneck gives a float64 scalar for float32 with axis=None), the
    values of both."""

    def both(got, numpy_result, bottleneck_result):
        same(got, numpy_result)
        np.testing.assert_array_equal(got, bottleneck_result)

    for shape in ((7, 5), (8, 6), (1, 1)):
        a = values(dtype, shape, seed=4)
        both(nc.median(a, axis=axis), np.median(a, axis=axis), bn.median(a, axis=axis))
        both(nc.nanmedian(a, axis=axis), np.nanmedian(a, axis=axis), bn.nanmedian(a, axis=axis))
    a = nan_data((9, 4), 2).astype(dtype) if np.dtype(dtype).kind == "f" else values(dtype, (9, 4))
    both(nc.median(a, axis=axis), np.median(a, axis=axis), bn.median(a, axis=axis))
    both(nc.nanmedian(a, axis=axis), np.nanmedian(a, axis=axis), bn.nanmedian(a, axis=axis))


def test_all_nan_median_warns():
    a = np.full((3, 4), np.nan)
    with pytest.warns(RuntimeWarning, match="All-NaN slice encountered"):
        same(nc.nanmedian(a, axis=1), np.full(3, np.nan))
    same(nc.median(a, axis=0), np.median(a, axis=0))


def test_empty_slices_as_numpy():
    a = np.zeros((0, 3))
    with pytest.raises(IndexError):
        nc.quantile(a, 0.5, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        same(nc.median(a, axis=0), np.median(a, axis=0))
        same(nc.quantile(a, 0.5, axis=1), np.quantile(a, 0.5, axis=1))


def test_bad_arguments():
    a = np.arange(10.0)
    with pytest.raises(ValueError, match=r"Quantiles must be in the range \[0, 1\]"):
        nc.quantile(a, 1.5)
    with pytest.raises(ValueError, match=r"Quantiles must be in the range \[0, 1\]"):
        nc.nanquantile(a, [0.5, -0.1])
    with pytest.raises(ValueError, match=r"Percentiles must be in the range \[0, 100\]"):
        nc.percentile(a, 101)
    with pytest.raises(ValueError, match="is not a valid method"):
        nc.quantile(a, 0.5, method="bogus")
    with pytest.raises(np.exceptions.AxisError):
        nc.quantile(a, 0.5, axis=1)
    with pytest.raises(np.exceptions.AxisError):
        nc.median(a, axis=2)
    with pytest.raises(TypeError):
        nc.quantile(np.array([True, False]), 0.5)
    with pytest.raises(TypeError):
        nc.quantile(np.array([1 + 2j]), 0.5)


def test_numpy_covers_the_rest():
    """Methods and options nocopy's kernel does not take are NumPy's own results."""
    a = values(np.float64, (20,), seed=9)
    for method in ("weibull", "hazen", "inverted_cdf", "median_unbiased"):
        same(nc.quantile(a, [0.2, 0.6], method=method), np.quantile(a, [0.2, 0.6], method=method))
    w = np.arange(1.0, 21.0)
    same(
        nc.quantile(a, 0.3, method="inverted_cdf", weights=w),
        np.quantile(a, 0.3, method="inverted_cdf", weights=w),
    )


def test_same_results_on_any_thread_count():
    a = nan_data((300_000, 3), 8, share=0.05)
    with nc.threads(1):
        one = nc.nanquantile(a, [0.1, 0.5, 0.99], axis=0)
        flat = nc.nanpercentile(a, [1, 50, 99])
    with nc.threads(2):
        same(nc.nanquantile(a, [0.1, 0.5, 0.99], axis=0), one)
        same(nc.nanpercentile(a, [1, 50, 99]), flat)
