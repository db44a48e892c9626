"""`describe` against NumPy's separate calls, and against nocopy's own single reductions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import nocopy as nc

from layouts import values


def numpy_summary(a: np.ndarray, axis, ddof: float, skipna: bool) -> dict[str, np.ndarray]:
    """NumPy's one call per statistic (its nan* twins with `skipna`)."""
    pre = "nan" if skipna else ""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        out = {k: getattr(np, pre + k)(a, axis=axis) for k in ("mean", "min", "max")}
        out |= {k: getattr(np, pre + k)(a, axis=axis, ddof=ddof) for k in ("var", "std")}
        return out


@pytest.mark.parametrize("skipna", [False, True])
def test_describe_matches_numpy(dtype, layout, make, skipna):
    a = make(layout, values(dtype))
    for axis in (None, 0, 1, (0, 1)):
        s = nc.describe(a, axis=axis, skipna=skipna)
        ref = numpy_summary(a, axis, 0, skipna)
        n = a.size if axis in (None, (0, 1)) else a.shape[axis]
        np.testing.assert_array_equal(s.count, np.full(np.shape(s.mean), n))
        assert np.asarray(s.count).dtype == np.int64
        for key in ("min", "max"):
            np.testing.assert_array_equal(getattr(s, key), ref[key], strict=True)
        for key in ("mean", "var", "std"):
            # Same dtype as NumPy's; values within the float rounding of the dtype.
            assert np.asarray(getattr(s, key)).dtype == np.asarray(ref[key]).dtype
            rtol = {2: 2e-3, 4: 2e-6}.get(np.asarray(ref[key]).itemsize, 1e-12)
            np.testing.assert_allclose(getattr(s, key), ref[key], rtol=rtol, atol=rtol)


def test_describe_equals_the_single_functions_bit_for_bit():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((50_000, 6)) * 1e4 + 1e6
    a[::7, 2] = np.nan
    for axis in (None, 0, 1):
        for skipna in (False, True):
            s = nc.describe(a, axis=axis, ddof=1, skipna=skipna)
            pre = "nan" if skipna else ""
            for key in ("mean", "min", "max"):
                expected = getattr(nc, pre + key)(a, axis=axis)
                assert np.asarray(getattr(s, key)).tobytes() == np.asarray(expected).tobytes()
            for key in ("var", "std"):
                expected = getattr(nc, pre + key)(a, axis=axis, ddof=1)
                assert np.asarray(getattr(s, key)).tobytes() == np.asarray(expected).tobytes()


def test_skipna_counts_and_nan_propagation():
    a = np.array([[1.0, np.nan, 3.0], [np.inf, 2.0, 4.0]])
    s = nc.describe(a, axis=1, skipna=True)
    np.testing.assert_array_equal(s.count, [2, 3])
    np.testing.assert_array_equal(s.min, [1.0, 2.0])
    np.testing.assert_array_equal(s.max, [3.0, np.inf])
    p = nc.describe(a, axis=1)
    np.testing.assert_array_equal(p.count, [3, 3])
    assert np.isnan(p.mean[0]) and np.isnan(p.min[0]) and np.isnan(p.std[0])
    assert p.mean[1] == np.inf and np.isnan(p.var[1])


def test_keepdims_and_ddof():
    a = values(np.float64, (6, 4))
    s = nc.describe(a, axis=0, ddof=1, keepdims=True)
    assert s.mean.shape == (1, 4)
    np.testing.assert_allclose(s.var, np.var(a, axis=0, ddof=1, keepdims=True), rtol=1e-12)


def test_all_nan_slices_warn_and_empty_input_raises():
    a = np.array([[np.nan, np.nan], [1.0, 2.0]])
    with pytest.warns(RuntimeWarning, match="All-NaN"):
        s = nc.describe(a, axis=1, skipna=True)
    np.testing.assert_array_equal(s.count, [0, 2])
    assert np.isnan(s.min[0]) and s.min[1] == 1.0
    with pytest.raises(ValueError, match="zero-size array"):
        nc.describe(np.zeros((0, 2)))
    with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
        nc.describe(np.ones(3), ddof=3)


def test_summary_repr_and_fields_are_read_only():
    s = nc.describe([1.0, 2.0])
    assert repr(s).startswith("Summary(count=np.int64(2), mean=np.float64(1.5)")
    with pytest.raises(AttributeError):
        s.mean = 3  # type: ignore[misc]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reversed"])
def test_columns_of_a_c_table_equal_each_column_copied(dtype, reverse):
    # Long columns of a C-order table are read row by row, 32 columns at a time; every column
    # must come out bit for bit as if it had been reduced alone, and match NumPy.
    rng = np.random.default_rng(3)
    a = (rng.standard_normal((300_000, 35)) * 10 + 1e4).astype(dtype)
    if reverse:
        a = a[:, ::-1]
    s = nc.describe(a, axis=0)
    for j in (0, 1, 31, 32, 34):
        one = nc.describe(np.ascontiguousarray(a[:, j]))
        for field in ("mean", "var", "min", "max"):
            assert (
                np.asarray(getattr(s, field))[j].tobytes()
                == np.asarray(getattr(one, field)).tobytes()
            )
    wide = a.astype(np.float64)
    rtol = 1e-6 if dtype == "float32" else 1e-12  # float32 results are rounded to float32
    np.testing.assert_allclose(s.mean, wide.mean(axis=0), rtol=rtol)
    np.testing.assert_allclose(s.var, wide.var(axis=0), rtol=rtol * 1e3)
    np.testing.assert_array_equal(s.min, a.min(axis=0))
    rows = a.var(axis=1, dtype=np.float64)
    np.testing.assert_allclose(nc.var(a, axis=1), rows, rtol=rtol)
