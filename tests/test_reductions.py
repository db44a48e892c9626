"""Every reduction against NumPy, for every dtype and every layout, with NumPy's result dtypes."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import nocopy as nc

from layouts import values

NUMPY: dict[str, Callable[..., Any]] = {
    "sum": np.sum,
    "nansum": np.nansum,
    "mean": np.mean,
    "nanmean": np.nanmean,
    "var": np.var,
    "nanvar": np.nanvar,
    "std": np.std,
    "nanstd": np.nanstd,
    "min": np.min,
    "max": np.max,
    "nanmin": np.nanmin,
    "nanmax": np.nanmax,
    "argmin": np.argmin,
    "argmax": np.argmax,
    "nanargmin": np.nanargmin,
    "nanargmax": np.nanargmax,
}
ROUNDED = {"sum", "nansum", "mean", "nanmean", "var", "nanvar", "std", "nanstd"}
SINGLE_AXIS = {"argmin", "argmax", "nanargmin", "nanargmax"}
MANY_AXES: list[Any] = [None, 0, 1, -1, (0, 1), (1,), ()]
ONE_AXIS: list[Any] = [None, 0, 1, -2]

# (rtol, atol) by dtype for results that are rounded; nocopy accumulates in float64.
TOLERANCE = {np.dtype(np.float16): (2e-3, 1e-3), np.dtype(np.float32): (2e-6, 1e-5)}


def reference(name: str, a: np.ndarray, **kw: Any) -> Any:
    """NumPy's answer; for float16/32 computed in float64 and rounded once, as nocopy does."""
    f = NUMPY[name]
    if name in ROUNDED and a.dtype.kind == "f" and a.dtype != np.float64:
        wide = f(a.astype(np.float64), **kw)
        narrow = f(a, **kw)
        return np.asarray(wide).astype(np.asarray(narrow).dtype)[()]
    return f(a, **kw)


def quiet(f: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """NumPy's result with its RuntimeWarnings silenced (the cases here are meant to warn)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return f(*args, **kw)


def assert_same(got: Any, ref: Any, name: str, a: np.ndarray) -> None:
    """Same value (within float rounding), dtype, shape and kind (NumPy scalar or array)."""
    assert isinstance(got, np.ndarray) == isinstance(ref, np.ndarray), (type(got), type(ref))
    assert np.asarray(got).dtype == np.asarray(ref).dtype
    assert np.shape(got) == np.shape(ref)
    if name in ROUNDED and np.asarray(ref).dtype.kind == "f":
        rtol, atol = TOLERANCE.get(a.dtype, (1e-12, 1e-10))
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(got, ref, strict=True)


@pytest.mark.parametrize("name", list(NUMPY))
def test_matches_numpy_for_every_dtype_and_layout(name, dtype, layout, make):
    a = make(layout, values(dtype))
    before = a.tobytes()
    axes = ONE_AXIS if name in SINGLE_AXIS else MANY_AXES
    for axis in axes:
        for keepdims in (False, True):
            got = getattr(nc, name)(a, axis=axis, keepdims=keepdims)
            ref = reference(name, a, axis=axis, keepdims=keepdims)
            assert_same(got, ref, name, a)
    assert a.tobytes() == before, "the input was modified"


@pytest.mark.parametrize("name", ["var", "std", "nanvar", "nanstd"])
@pytest.mark.parametrize("ddof", [1, 2.5])
def test_ddof(name, ddof):
    a = values(np.float64, (40, 3))
    for axis in (None, 0, 1):
        got = getattr(nc, name)(a, axis=axis, ddof=ddof)
        np.testing.assert_allclose(got, NUMPY[name](a, axis=axis, ddof=ddof), rtol=1e-12)


@pytest.mark.parametrize("name", list(NUMPY))
def test_three_dimensional_axes(name):
    a = values(np.float64, (4, 5, 6), seed=3).transpose(2, 0, 1)[::2, ::-1]
    axes = [None, 0, 1, 2, -1] if name in SINGLE_AXIS else [None, 0, 2, (0, 2), (2, 0), (0, 1, 2)]
    for axis in axes:
        assert_same(getattr(nc, name)(a, axis=axis), reference(name, a, axis=axis), name, a)


def test_large_arrays_take_the_parallel_path():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((300_000, 3)) * 1e3 + 7
    for axis in (None, 0, 1):
        np.testing.assert_allclose(nc.sum(a, axis=axis), np.sum(a, axis=axis), rtol=1e-12)
        np.testing.assert_allclose(nc.std(a, axis=axis), np.std(a, axis=axis), rtol=1e-10)
        np.testing.assert_array_equal(nc.argmax(a, axis=None), np.argmax(a))
        np.testing.assert_array_equal(nc.min(a, axis=axis), np.min(a, axis=axis))
    f = np.asfortranarray(a)
    np.testing.assert_allclose(nc.mean(f, axis=0), np.mean(a, axis=0), rtol=1e-12)


class TestNaNAndInf:
    a = np.array(
        [
            [1.0, np.nan, 3.0, -np.inf],
            [np.nan, np.nan, np.nan, np.nan],
            [2.0, 5.0, np.inf, 0.5],
            [4.0, 4.0, 1.0, 1.0],
        ]
    )

    @pytest.mark.parametrize("name", [n for n in NUMPY if not n.startswith("nanarg")])
    def test_rows_with_nan_and_inf(self, name):
        ref = quiet(NUMPY[name], self.a, axis=1)
        if name in ("nanmean", "nanvar", "nanstd", "nanmin", "nanmax"):
            with pytest.warns(RuntimeWarning):
                got = getattr(nc, name)(self.a, axis=1)
        else:
            got = getattr(nc, name)(self.a, axis=1)
        np.testing.assert_allclose(got, ref, rtol=1e-12)
        assert np.asarray(got).dtype == np.asarray(ref).dtype

    @pytest.mark.parametrize("name", ["nanargmin", "nanargmax"])
    def test_nanarg_all_nan_slice_raises(self, name):
        with pytest.raises(ValueError, match="All-NaN slice encountered"):
            getattr(nc, name)(self.a, axis=1)
        rows = self.a[[0, 2, 3]]
        np.testing.assert_array_equal(getattr(nc, name)(rows, axis=1), NUMPY[name](rows, axis=1))

    def test_first_nan_wins_argmin(self):
        a = np.array([3.0, np.nan, 1.0, np.nan])
        assert nc.argmin(a) == np.argmin(a) == 1
        assert nc.argmax(a) == np.argmax(a) == 1


class TestEmptyAndZeroD:
    def test_zero_d_input(self):
        x = np.array(2.5)
        for name in NUMPY:
            got = getattr(nc, name)(x)
            assert_same(got, NUMPY[name](x), name, x)

    def test_python_scalars_and_lists(self):
        assert nc.sum([1, 2, 3]) == 6
        assert nc.sum([1, 2, 3]).dtype == np.int64
        assert nc.mean(4) == 4.0
        np.testing.assert_array_equal(nc.max([[1, 5], [7, 2]], axis=1), [5, 7])

    def test_empty_sum_is_zero(self):
        e = np.zeros((0, 3))
        assert_same(nc.sum(e), np.sum(e), "sum", e)
        assert_same(nc.sum(e, axis=0), np.sum(e, axis=0), "sum", e)
        assert_same(nc.sum(e, axis=1), np.sum(e, axis=1), "sum", e)
        assert_same(nc.sum(e.astype(np.uint8)), np.sum(e.astype(np.uint8)), "sum", e)

    def test_empty_mean_and_var_warn_like_numpy(self):
        e = np.zeros((0, 3))
        with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
            got = nc.mean(e, axis=0)
        assert np.isnan(got).all() and got.shape == (3,)
        with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
            assert np.isnan(nc.var(e))
        with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
            assert nc.var([1.0, 2.0], ddof=2) == np.inf
        assert nc.mean(e, axis=1).shape == (0,)

    @pytest.mark.parametrize("name", ["min", "max", "nanmin", "nanmax"])
    def test_empty_min_max_raise(self, name):
        with pytest.raises(ValueError, match="zero-size array"):
            getattr(nc, name)(np.zeros(0))
        assert getattr(nc, name)(np.zeros((0, 3)), axis=1).shape == (0,)

    @pytest.mark.parametrize("name", ["argmin", "argmax", "nanargmin", "nanargmax"])
    def test_empty_argmin_raises(self, name):
        with pytest.raises(ValueError, match="empty sequence"):
            getattr(nc, name)(np.zeros(0))


class TestBadInput:
    @pytest.mark.parametrize("name", list(NUMPY))
    def test_axis_out_of_range(self, name):
        a = np.ones((2, 3))
        with pytest.raises(np.exceptions.AxisError, match="axis 2 is out of bounds"):
            getattr(nc, name)(a, axis=2)
        with pytest.raises(np.exceptions.AxisError):
            getattr(nc, name)(a, axis=-3)
        with pytest.raises(np.exceptions.AxisError):
            getattr(nc, name)(np.array(1.0), axis=0)

    def test_duplicate_axes(self):
        with pytest.raises(ValueError, match="duplicate value in 'axis'"):
            nc.sum(np.ones((2, 3)), axis=(0, -2))

    def test_axis_types(self):
        with pytest.raises(TypeError):
            nc.sum(np.ones(3), axis=1.5)
        with pytest.raises(TypeError):
            nc.argmin(np.ones((2, 2)), axis=(0, 1))
        assert nc.sum(np.ones((2, 3)), axis=np.int64(1)).shape == (2,)

    @pytest.mark.parametrize(
        "bad",
        [
            np.array(["a", "b"]),
            np.array([b"a"]),
            np.array([1 + 2j]),
            np.array([object()]),
            np.zeros(3, dtype=[("a", "f8"), ("b", "i4")]),
            np.array(["2020-01-01"], dtype="datetime64[D]"),
        ],
        ids=["str", "bytes", "complex", "object", "structured", "datetime"],
    )
    @pytest.mark.parametrize("name", ["sum", "mean", "min", "argmax", "describe", "inspect"])
    def test_unsupported_dtypes_raise_type_error(self, bad, name):
        with pytest.raises(TypeError, match="unsupported dtype"):
            getattr(nc, name)(bad)

    def test_keyword_only_options(self):
        with pytest.raises(TypeError):
            nc.sum(np.ones(3), 0, True)  # type: ignore[misc]
        with pytest.raises(TypeError):
            nc.var(np.ones(3), None, 1)  # type: ignore[misc]


def test_integer_sums_are_exact_and_wrap_like_numpy():
    big = np.array([2**62, 2**62, 2**62], dtype=np.int64)
    assert nc.sum(big) == np.sum(big)
    u = np.full(10, 2**63, dtype=np.uint64)
    assert nc.sum(u) == np.sum(u)
    m = np.array([np.iinfo(np.int64).max] * 2)
    # The mean accumulates in float64, as NumPy's does, so it does not wrap.
    np.testing.assert_allclose(nc.mean(m), np.mean(m), rtol=1e-15)


@pytest.mark.parametrize("dtype", ["int64", "uint64", "int32", "int8", "uint16", "bool"])
def test_integer_sums_of_columns_side_by_side_wrap_like_numpy(dtype):
    # Columns read a row at a time in groups wider than one kernel call takes (and a part
    # group), with values that wrap, along axis 0 of a table, the outer axes of a cube and
    # axis 1 of a Fortran table.
    rng = np.random.default_rng(7)
    info = np.iinfo(np.int64 if dtype == "bool" else dtype)
    x = rng.integers(info.max // 2, info.max, (37, 4500), endpoint=True, dtype=info.dtype)
    x = x.astype(dtype)
    for a, axis in (
        (x, 0),
        (x[:, ::-1], 0),
        (np.asfortranarray(x.T), 1),
        (x.reshape(37, 20, 225), (0, 1)),
    ):
        assert_array_equal(nc.sum(a, axis=axis), np.sum(a, axis=axis))
        assert_array_equal(nc.nansum(a, axis=axis), np.nansum(a, axis=axis))


@pytest.mark.parametrize("dtype", ["int64", "uint64", "int32", "int16", "int8", "uint8"])
def test_integer_extremes_of_columns_side_by_side_match_numpy(dtype):
    # Integer columns are folded a row at a time, in groups of even widths (several groups,
    # more than one block of rows, a single row), each extreme somewhere else in its column.
    rng = np.random.default_rng(8)
    info = np.iinfo(dtype)
    for shape in ((37, 4500), (2100, 70), (1, 5000), (3, 9000)):
        x = rng.integers(info.min, info.max, shape, endpoint=True, dtype=dtype)
        x[rng.integers(0, shape[0], shape[1]), np.arange(shape[1])] = info.min
        x[rng.integers(0, shape[0], shape[1]), np.arange(shape[1])] = info.max
        for a, axis in ((x, 0), (x[:, ::-1], 0), (np.asfortranarray(x.T), 1)):
            for name in ("min", "max", "nanmin", "nanmax"):
                assert_array_equal(getattr(nc, name)(a, axis=axis), getattr(np, name)(a, axis=axis))
    cube = rng.integers(info.min, info.max, (30, 40, 50), endpoint=True, dtype=dtype)
    for axis in (0, 1, (0, 1)):
        assert_array_equal(nc.max(cube, axis=axis), np.max(cube, axis=axis))
        assert_array_equal(nc.min(cube, axis=axis), np.min(cube, axis=axis))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_float_extremes_of_columns_side_by_side_match_numpy(dtype):
    # Float columns are folded a row at a time too: the first of equal values kept (the sign
    # of a zero extreme), a NaN anywhere in a column makes its max NaN, and nanmax skips it.
    # Only zeros and ±1.5: a zero extreme has both signs to choose from.
    rng = np.random.default_rng(9)
    for shape in ((37, 4500), (2100, 70), (1, 5000), (3, 9000)):
        x = rng.choice(np.array([0.0, -0.0, 1.5, -1.5], dtype=dtype), shape)
        x[rng.integers(0, shape[0], 40), rng.integers(0, shape[1], 40)] = np.nan
        if shape[0] > 1:
            x[:, 7] = np.nan  # a column all NaN
        for a, axis in ((x, 0), (x[:, ::-1], 0), (np.asfortranarray(x.T), 1)):
            for name in ("min", "max", "nanmin", "nanmax"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    got, want = getattr(nc, name)(a, axis=axis), getattr(np, name)(a, axis=axis)
                assert_array_equal(got, want)
                # NumPy's sign of a zero extreme follows its SIMD order; ours is the first of
                # the equal values down the column (the rule the lane kernels keep too).
                cols = a if axis == 0 else a.T
                zero = np.nonzero(got == 0)[0]
                first = (cols[:, zero] == 0).argmax(axis=0)
                assert_array_equal(np.signbit(got[zero]), np.signbit(cols[first, zero]))


def test_bool_bytes_other_than_one_count_as_true():
    raw = np.array([0, 1, 2, 255], dtype=np.uint8).view(np.bool_)
    assert nc.sum(raw) == 3
    assert nc.max(raw) == np.True_
    assert nc.argmax(raw) == 1
    # The first true is found whatever byte holds it, wherever the other trues are.
    for first, later in ((2, 33), (40, 41), (5, 3000)):
        raw = np.zeros(4000, dtype=np.uint8)
        raw[first], raw[later] = 1, 2
        raw[later + 1 :: 7] = 255
        assert nc.argmax(raw.view(np.bool_)) == first, first


# Lanes side by side in memory (axis 0 of a C table, the outer axes of a cube) are read row by
# row, many at once; each must still get the bits of the same values reduced as one contiguous
# lane, whatever its NaN, ties, dtype and length.
SIDE_BY_SIDE = ["sum", "mean", "var", "std", "nansum", "nanmean", "nanvar", "min", "max",
                "nanmin", "nanmax", "argmin", "argmax", "nanargmin", "nanargmax", "anynan",
                "allnan"]  # fmt: skip


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32", "uint8", "bool"])
# Widths: narrow (one strip at a time), a group of its own, wider than one group of sums
# (folded row by row, or in registers when the rows are few).
@pytest.mark.parametrize(
    ("rows", "width"),
    [(1, 70), (7, 70), (2049, 70), (150, 1100), (43, 1100), (2 * 2048 * 64 + 3, 6)],
)
def test_lanes_side_by_side_have_the_bits_of_contiguous_lanes(dtype, rows, width):
    rng = np.random.default_rng(rows)
    x = (rng.standard_normal((rows, width)) * 4).round().astype(dtype)
    if x.dtype.kind == "f":
        x[rng.random(x.shape) < 0.05] = np.nan
        x[:, 1] = np.nan  # an all-NaN column
        x[0, 2] = -0.0
    views = [x, x[:, ::-1], x[::2, 1:]] if rows > 1 else [x]
    for v in views:
        for name in SIDE_BY_SIDE:
            f = getattr(nc, name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    got = np.asarray(f(v, axis=0))
                except ValueError as e:
                    with pytest.raises(ValueError, match=str(e)[:20]):
                        [f(np.ascontiguousarray(v[:, j])) for j in range(v.shape[1])]
                    continue
                want = np.array([f(np.ascontiguousarray(v[:, j])) for j in range(v.shape[1])])
            assert got.dtype == want.dtype, name
            # Equal bits, but for the sign of a zero extreme (either zero is the minimum).
            same = (got.view(np.uint8) == want.view(np.uint8)).all() or (
                name.endswith(("min", "max")) and np.array_equal(got, want, equal_nan=True)
            )
            assert same, (name, v.strides, got[:5], want[:5])


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32"])
@pytest.mark.parametrize("rows", [1, 7, 2049, 2 * 2048 * 64 + 3])
@pytest.mark.parametrize("skipna", [False, True])
def test_describe_of_lanes_side_by_side_has_the_bits_of_contiguous_lanes(dtype, rows, skipna):
    rng = np.random.default_rng(rows)
    width = 6 if rows > 10_000 else 70
    x = (rng.standard_normal((rows, width)) * 4).round().astype(dtype)
    if x.dtype.kind == "f":
        x[rng.random(x.shape) < 0.05] = np.nan
        x[:, 1] = np.nan
        x[:, 3] = 0.5  # no NaN: the column kernels' own answer
    for v in [x, x[:, ::-1], x[::2, 1:]] if rows > 1 else [x]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = nc.describe(v, axis=0, skipna=skipna)
            each = [nc.describe(np.ascontiguousarray(v[:, j]), skipna=skipna)
                    for j in range(v.shape[1])]  # fmt: skip
        for field in ("count", "mean", "var", "std", "min", "max"):
            g = np.asarray(getattr(got, field))
            want = np.array([np.asarray(getattr(s, field)) for s in each], dtype=g.dtype)
            same = (g.view(np.uint8) == want.view(np.uint8)).all() or (
                field in ("min", "max") and np.array_equal(g, want, equal_nan=True)
            )
            assert same, (field, v.strides, g[:5], want[:5])


# Extremes over long contiguous runs are found in one pass over the run (block by block where
# it holds a NaN), positions from the values alone, then looked for in the first block holding
# the best; NaN in some blocks only.
@pytest.mark.parametrize("n", [2048 * 3 + 5, 2048 * 64 * 2 + 77])
@pytest.mark.parametrize(
    ("dtype", "nan_blocks"),
    [(f, b) for f in ("float64", "float32") for b in [(), (0,), (2,), (1, 2)]]
    + [("int64", ()), ("int32", ())],
)
def test_extremes_and_their_positions_in_long_runs_match_numpy(n, dtype, nan_blocks):
    rng = np.random.default_rng(n + len(nan_blocks))
    x = (rng.standard_normal(n) * 50).round().astype(dtype)
    # Ties for the best in several blocks: the first one's position is the answer.
    lo, hi = x.min(), x.max()
    for at in (2048 * 2 + 9, 2048 + 3, n - 1):
        x[at], x[at - 1000] = lo, hi
    for b in nan_blocks:
        x[b * 2048 + 100 : b * 2048 + 2048 : 500] = np.nan
    for v in (x, x[::-1]):
        for name in ("argmin", "argmax", "nanargmin", "nanargmax"):
            assert getattr(nc, name)(v) == getattr(np, name)(v), name
        for name in ("min", "max", "nanmin", "nanmax"):
            got, want = getattr(nc, name)(v), getattr(np, name)(v)
            assert_array_equal(got, want, name)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32"])
@pytest.mark.parametrize("n", [15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 1000, 2048])
def test_positions_in_many_short_lanes_match_numpy(n, dtype):
    # Rows a one-pass loop takes whole: few distinct values (ties in every lane of its
    # registers, and in the last registers' worth, read overlapping the one before), signed
    # zeros, a NaN early, in the middle and in the last element.
    rng = np.random.default_rng(n)
    x = rng.integers(-3, 4, (40, n)).astype(dtype)
    if dtype.startswith("float"):
        x[:10] *= 0.0
        x[10:20] *= -0.0
        x[20, 0] = x[21, n // 2] = x[22, n - 1] = np.nan
    for v in (x, x[:, ::-1], np.asfortranarray(x)):
        for name in ("argmin", "argmax", "nanargmin", "nanargmax"):
            if name.startswith("nan") and not dtype.startswith("float"):
                continue
            assert_array_equal(getattr(nc, name)(v, axis=1), getattr(np, name)(v, axis=1), name)


@pytest.mark.parametrize("n", [5, 31, 32, 33, 1000, 70_000])
def test_int64_extremes_at_the_ends_of_the_range(n):
    rng = np.random.default_rng(n)
    info = np.iinfo(np.int64)
    x = rng.integers(info.min // 2, info.max // 2, n, dtype=np.int64)
    for value in (info.min, info.max, info.min + 1, -1, 0):
        y = x.copy()
        y[rng.integers(n)] = value
        for name in ("min", "max", "argmin", "argmax"):
            assert getattr(nc, name)(y) == getattr(np, name)(y), (name, value)


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "int8", "bool"])
def test_integer_sums_and_extremes_of_runs_apart_in_memory(dtype):
    # Integer sums and extremes reduce a lane's runs where they lie (forward or backward) rather
    # than copying them into order: lanes of rows apart (the middle axis of a cube kept), rows
    # reversed, blocks of 2048 cut mid-row, sums that wrap.
    rng = np.random.default_rng(7)
    if dtype == "bool":
        x = rng.integers(0, 2, (60, 7, 101), dtype=np.uint8) * rng.integers(1, 256, (60, 7, 101))
        x = x.astype(np.uint8).view(np.bool_)
    else:
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, (60, 7, 101), dtype=dtype, endpoint=True)
    cases = [(x, (0, 2)), (x[:, ::-1, ::-1], (0, 2)), (x[::-2, :, ::-1], (2, 0)),
             (x[:, 3, ::-1], 1), (x[:, 3, ::-1], None), (x[::3, :, ::-1], None)]  # fmt: skip
    for v, axis in cases:
        for name in ("sum", "min", "max"):
            got = getattr(nc, name)(v, axis=axis)
            want = getattr(np, name)(v, axis=axis)
            assert_array_equal(got, want, strict=True, err_msg=f"{name} {v.strides} {axis}")
