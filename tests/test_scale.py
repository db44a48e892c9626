"""standardize and minmax_scale against scikit-learn's scale, StandardScaler and minmax_scale."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import preprocessing
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import nocopy as nc

from layouts import LAYOUTS, values

DTYPES = [np.float64, np.float32, np.int64, np.int16, np.uint8, np.bool_]


def scale(*args, **kwargs):
    """scikit-learn's scale, without its warning about near-constant features: its mean of a
    constant feature is off by rounding (it gives 1e-10 where nocopy gives the exact 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return preprocessing.scale(*args, **kwargs)


minmax_scale = preprocessing.minmax_scale


def close(got, want, dtype) -> None:
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    rtol, atol = (2e-6, 2e-6) if want.dtype == np.float32 else (1e-12, 1e-9)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def table(dtype, shape=(200, 6), seed=0) -> np.ndarray:
    a = values(dtype, shape, seed=seed)
    a[:, 2] = a[0, 2]  # a constant feature
    return a


def standard_scaler(a, axis, **options):
    """StandardScaler on features along `axis` (its constant-feature test, which scikit-learn's
    `scale` lacks: there a constant feature's rounding-sized std divides, giving 1e14)."""
    x = a if axis == 0 else a.T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        y = StandardScaler(**options).fit_transform(x)
    return y if axis == 0 else y.T


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1])
def test_standardize_matches_scale(dtype, axis):
    a = table(dtype)
    close(nc.standardize(a, axis=axis), scale(a, axis=axis), dtype)
    for with_mean, with_std in ((False, True), (True, False), (False, False)):
        close(
            nc.standardize(a, axis=axis, with_mean=with_mean, with_std=with_std),
            standard_scaler(a, axis, with_mean=with_mean, with_std=with_std),
            dtype,
        )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_standard_scaler_and_ddof(dtype):
    a = table(dtype, (1000, 5), seed=1) * 3 + 1e4
    got = nc.standardize(a)
    want = standard_scaler(a, 0)
    if dtype == np.float32:
        # scikit-learn rounds x - mean to float32 before dividing (an error of ulp(1e4) / std);
        # nocopy rounds the quotient once.
        np.testing.assert_allclose(got, want, atol=1e-3)
    else:
        close(got, want, dtype)
    x = a.astype(np.float64)
    want = (x - x.mean(0)) / np.where(x.std(0, ddof=1) == 0, 1, x.std(0, ddof=1))
    want[:, 2] = 0.0
    close(nc.standardize(a, ddof=1), want.astype(dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1])
def test_minmax_matches_scikit_learn(dtype, axis):
    a = table(dtype, seed=2)
    close(nc.minmax_scale(a, axis=axis), minmax_scale(a, axis=axis), dtype)
    close(
        nc.minmax_scale(a, axis=axis, feature_range=(-2, 3.5)),
        minmax_scale(a, axis=axis, feature_range=(-2, 3.5)),
        dtype,
    )


def test_minmax_scaler():
    a = table(np.float64, (500, 4), seed=3)
    close(nc.minmax_scale(a), MinMaxScaler().fit_transform(a), np.float64)


def test_nan_is_ignored_and_kept():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((300, 5))
    a[rng.random(a.shape) < 0.1] = np.nan
    a[:, 4] = np.nan
    a[7, 4] = 1.0
    with np.errstate(invalid="ignore"):
        close(nc.standardize(a), scale(a), np.float64)
        close(nc.minmax_scale(a), minmax_scale(a), np.float64)


def test_one_dimensional_and_float16():
    v = values(np.float64, (50,), seed=5)
    close(nc.standardize(v), scale(v), np.float64)
    close(nc.minmax_scale(v), minmax_scale(v), np.float64)
    h = values(np.float16, (40, 3), seed=5)
    got = nc.standardize(h)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(float), scale(h.astype(float)), atol=2e-3)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts(layout, tmp_path):
    a = LAYOUTS[layout](values(np.float64, (7, 5), seed=6), tmp_path)
    before = np.array(a, copy=True)
    close(nc.standardize(a), scale(np.array(a)), np.float64)
    close(nc.minmax_scale(a, axis=1), minmax_scale(np.array(a), axis=1), np.float64)
    np.testing.assert_array_equal(a, before)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("axis", [0, 1])
def test_out_and_in_place(order, axis):
    a = np.asarray(table(np.float64, (300, 7), seed=7), order=order)
    want = scale(a, axis=axis)
    out = np.empty((300, 7), order="F" if order == "C" else "C")
    assert nc.standardize(a, axis=axis, out=out) is out
    close(out, want, np.float64)
    b = a.copy(order=order)
    assert nc.standardize(b, axis=axis, out=b) is b
    close(b, want, np.float64)
    view = a.copy()[:, ::-1]
    nc.minmax_scale(view, axis=axis, out=view)
    close(view, minmax_scale(a[:, ::-1], axis=axis), np.float64)


def test_large_tables_on_any_thread_count():
    a = np.random.default_rng(8).standard_normal((100_000, 9)) * 1e3 + 1e8
    with nc.threads(1):
        one = nc.standardize(a)
    with nc.threads(2):
        np.testing.assert_array_equal(nc.standardize(a), one)
    close(one, scale(a), np.float64)
    f = np.asfortranarray(a)
    np.testing.assert_array_equal(nc.standardize(f), one)


def test_bad_out_is_refused_and_nothing_is_written():
    a = table(np.float64, (20, 4))
    before = a.copy()

    def refused(exc, match, out, source=a):
        snapshot = out.copy()
        with pytest.raises(exc, match=match):
            nc.standardize(source, out=out)
        np.testing.assert_array_equal(out, snapshot)
        np.testing.assert_array_equal(a, before)

    refused(ValueError, "out has shape", np.empty((4, 20)))
    refused(TypeError, "out has dtype float32", np.empty((20, 4), np.float32))
    refused(TypeError, "out has dtype >f8", np.empty((20, 4), ">f8"))
    ro = np.empty((20, 4))
    ro.flags.writeable = False
    refused(ValueError, "out is read-only", ro)
    refused(ValueError, "out overlaps the input", a[::-1])
    big = np.zeros((21, 4))
    big[:20] = a
    with pytest.raises(ValueError, match="out overlaps the input"):
        nc.standardize(big[:20], out=big[1:])
    broadcast = np.lib.stride_tricks.as_strided(np.zeros(4), (20, 4), (0, 8))
    with pytest.raises(ValueError, match="zero stride"):
        nc.standardize(a, out=broadcast)
    ints = np.arange(12).reshape(6, 2)
    with pytest.raises(TypeError, match="the result of int64 input is float64"):
        nc.standardize(ints, out=ints)
    with pytest.raises(TypeError, match=r"numpy\.ndarray"):
        nc.standardize(a, out=[[0.0] * 4] * 20)


def test_bad_arguments():
    a = table(np.float64, (20, 4))
    with pytest.raises(ValueError, match="Minimum of desired feature range must be smaller"):
        nc.minmax_scale(a, feature_range=(1, 0))
    with pytest.raises(ValueError, match="Expected a 1-d or 2-d array"):
        nc.standardize(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="Found array with 0 sample"):
        nc.standardize(np.zeros((0, 3)))
    with pytest.raises(np.exceptions.AxisError):
        nc.standardize(a, axis=2)
    with pytest.raises(TypeError):
        nc.standardize(np.array([1 + 2j, 3j]))
