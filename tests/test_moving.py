"""Moving windows against bottleneck (the reference) and against each window computed directly."""

from __future__ import annotations

import bottleneck as bn
import numpy as np
import pytest

import nocopy as nc

from layouts import LAYOUTS, values

MOVERS = [
    "move_sum",
    "move_mean",
    "move_var",
    "move_std",
    "move_min",
    "move_max",
    "move_argmin",
    "move_argmax",
    "move_median",
    "move_rank",
]
# bottleneck's own dtypes; other integer widths and bool take its slow path, same results.
DTYPES = [np.float64, np.float32, np.int64, np.int32, np.int16, np.uint8, np.bool_]


def expected_dtype(dtype) -> np.dtype:
    return np.dtype(np.float32 if np.dtype(dtype) == np.float32 else np.float64)


def check(got: np.ndarray, want: np.ndarray, dtype, name: str = "") -> None:
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    rtol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-10
    # bottleneck's running variance leaves noise of about sqrt(eps) * scale in a standard
    # deviation whose exact value is 0 (a window of equal values); nocopy gives the 0.
    atol = (
        3e-3 if name == "move_std" and rtol == 1e-5 else 1e-6 if name == "move_std" else rtol * 10
    )
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", MOVERS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("window_min_count", [(1, None), (3, None), (3, 1), (7, 2)])
@pytest.mark.parametrize("axis", [0, -1])
def test_matches_bottleneck(name, dtype, window_min_count, axis):
    window, min_count = window_min_count
    a = values(dtype, (9, 7), seed=2)
    if np.dtype(dtype).kind == "f":
        a[1, 2] = a[4, 4] = a[5, 4] = np.nan
    before = a.copy()
    got = getattr(nc, name)(a, window, min_count=min_count, axis=axis)
    if np.dtype(dtype) == np.float32:
        # nocopy accumulates float32 in float64; bottleneck's float32 running sums drift (a
        # window of one value gets a standard deviation of 0.01), so its float64 answer,
        # rounded, is the reference.
        want = getattr(bn, name)(a.astype(np.float64), window, min_count=min_count, axis=axis)
        want = want.astype(np.float32)
    else:
        want = getattr(bn, name)(a, window, min_count=min_count, axis=axis)
    check(got, want, dtype, name)
    assert got.dtype == expected_dtype(dtype)
    np.testing.assert_array_equal(a, before)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", ["move_sum", "move_std", "move_max", "move_argmin"])
def test_every_layout(layout, name, tmp_path):
    base = values(np.float64, (7, 5), seed=4)
    a = LAYOUTS[layout](base, tmp_path)
    for axis in (0, 1):
        got = getattr(nc, name)(a, 3, min_count=2, axis=axis)
        want = getattr(bn, name)(np.array(a, dtype=np.float64), 3, min_count=2, axis=axis)
        check(got, want, np.float64, name)


@pytest.mark.parametrize("name", ["move_var", "move_std"])
def test_ddof(name):
    a = values(np.float64, (50,), seed=5)
    a[[3, 17]] = np.nan
    for ddof in (0, 1, 2):
        check(
            getattr(nc, name)(a, 6, min_count=3, ddof=ddof),
            getattr(bn, name)(a, 6, min_count=3, ddof=ddof),
            np.float64,
            name,
        )


def direct(a: np.ndarray, name: str, window: int) -> np.ndarray:
    """Each full window computed on its own (the exact reference at the end of a long series)."""
    out = np.full(a.shape, np.nan)
    for i in range(window - 1, len(a)):
        w = a[i - window + 1 : i + 1]
        out[i] = {
            "move_sum": np.sum,
            "move_mean": np.mean,
            "move_var": np.var,
            "move_std": np.std,
        }[name](w)
    return out


@pytest.mark.parametrize("name", ["move_sum", "move_mean", "move_var", "move_std"])
def test_no_drift_over_ten_million_steps_with_a_large_offset(name):
    rng = np.random.default_rng(11)
    a = 1e9 + rng.standard_normal(10_000_000)
    got = getattr(nc, name)(a, 100)
    tail = a[-1000:]
    want = direct(tail, name, 100)
    np.testing.assert_allclose(got[-901:], want[-901:], rtol=1e-9 if "var" in name else 1e-12)
    if name == "move_var":
        assert np.nanmin(got) >= 0.0


def test_infinities_do_not_poison_later_windows():
    a = np.array([1.0, np.inf, 2.0, 3.0, -np.inf, 4.0, 5.0, 6.0])
    np.testing.assert_array_equal(
        nc.move_sum(a, 2), [np.nan, np.inf, np.inf, 5.0, -np.inf, -np.inf, 9.0, 11.0]
    )
    np.testing.assert_array_equal(nc.move_mean(a, 3, min_count=1)[-3:], [-np.inf, -np.inf, 5.0])
    both = np.array([np.inf, -np.inf, 1.0, 2.0])
    np.testing.assert_array_equal(nc.move_sum(both, 2), [np.nan, np.nan, -np.inf, 3.0])
    assert np.isnan(nc.move_var(a, 3)[3])
    np.testing.assert_array_equal(nc.move_var(a, 2)[-1], 0.25)


def test_extremes_on_ties_and_signed_zeros_follow_bottleneck():
    a = np.array([3.0, 1.0, 1.0, 2.0, 5.0, -0.0, 0.0, 0.0, 3.0])
    for name in ("move_min", "move_max", "move_argmin", "move_argmax"):
        got = getattr(nc, name)(a, 3)
        want = getattr(bn, name)(a, 3)
        assert got.tobytes() == want.tobytes(), name


@pytest.mark.parametrize(
    "shape_axis", [((300_000,), 0), ((40_000, 9), 0), ((9, 40_000), 1)], ids=["1d", "cols", "rows"]
)
def test_same_result_on_any_thread_count(shape_axis):
    shape, axis = shape_axis
    a = np.random.default_rng(1).standard_normal(shape) * 5 + 1e6
    a.flat[::31] = np.nan
    runs = []
    for n in (1, 2, 3):
        with nc.threads(n):
            runs.append(
                b"".join(
                    getattr(nc, name)(a, 500, min_count=100, axis=axis).tobytes() for name in MOVERS
                )
            )
    assert runs[1] == runs[0] and runs[2] == runs[0]
    check(
        nc.move_std(a, 500, min_count=100, axis=axis),
        bn.move_std(a, 500, 100, axis),
        np.float64,
        "move_std",
    )


def test_bad_arguments_raise_what_bottleneck_raises():
    a = np.arange(6.0)
    cases = [
        dict(window=0),
        dict(window=7),
        dict(window=-1),
        dict(window=3, min_count=0),
        dict(window=3, min_count=-2),
        dict(window=3, min_count=4),
        dict(window=3, axis=1),
    ]

    def message(fn, kw) -> str:
        try:
            fn(a, **kw)
        except ValueError as e:
            return str(e)
        raise AssertionError(f"{fn.__name__}({kw}) did not raise")

    for kw in cases:
        theirs, ours = message(bn.move_sum, kw), message(nc.move_sum, kw)
        if "axis" not in kw:
            assert ours == theirs, kw
    with pytest.raises(TypeError, match="`window` must be an integer"):
        nc.move_mean(a, 2.5)
    with pytest.raises(ValueError, match="ndim > 0"):
        nc.move_sum(np.float64(1.0), 1)
    with pytest.raises(ValueError, match="between 1 and 0"):
        nc.move_sum(np.zeros((2, 0)), 1)


@pytest.mark.parametrize("nan", [False, True], ids=["finite", "nan"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
def test_c_and_fortran_tables_give_the_same_bits(nan, dtype):
    # A C-order table is moved down its columns all at once; a Fortran one column by column.
    a = (np.random.default_rng(9).standard_normal((40_000, 9)) * 100 + 1e5).astype(dtype)
    if nan:
        if np.dtype(dtype).kind != "f":
            pytest.skip("integers hold no NaN")
        a[1234, 3] = np.nan
    f = np.asfortranarray(a)
    for name in MOVERS:
        for window, min_count in ((1, None), (300, 5)):
            c_out = getattr(nc, name)(a, window, min_count=min_count, axis=0)
            f_out = getattr(nc, name)(f, window, min_count=min_count, axis=0)
            assert c_out.tobytes() == f_out.tobytes(), (name, window)
    check(
        nc.move_var(a, 300, axis=0),
        bn.move_var(a.astype(np.float64), 300, axis=0).astype(expected_dtype(dtype)),
        dtype,
        "move_var",
    )


def test_strided_series_and_3d_arrays_equal_their_contiguous_copies():
    # A strided lane and a strided output lane go through per-segment buffers.
    rng = np.random.default_rng(13)
    base = rng.standard_normal(700_000)
    base[::101] = np.nan
    strided = base[::-2]
    cube = rng.standard_normal((40_000, 3, 4))
    for name in MOVERS:
        f = getattr(nc, name)
        assert f(strided, 200, 50).tobytes() == f(strided.copy(), 200, 50).tobytes(), name
        got = f(cube, 30, 10, axis=0)
        want = np.stack(
            [f(np.ascontiguousarray(cube[:, i, j]), 30, 10) for i in range(3) for j in range(4)],
            axis=1,
        )
        assert got.reshape(40_000, 12).tobytes() == want.tobytes(), name


@pytest.mark.parametrize("name", ["anynan", "allnan"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("layout", ["C", "F", "negative", "bigendian"])
def test_nan_tests_match_bottleneck(name, dtype, layout, tmp_path):
    a = values(dtype, (6, 5), seed=3)
    if np.dtype(dtype).kind == "f":
        a[1, :] = np.nan
        a[2, 3] = np.nan
    a = LAYOUTS[layout](a, tmp_path)
    for axis in (None, 0, 1, -1):
        got = getattr(nc, name)(a, axis=axis)
        want = getattr(bn, name)(np.array(a), axis=axis)
        assert np.asarray(got).dtype == np.bool_
        np.testing.assert_array_equal(got, want)
    assert (
        getattr(nc, name)(np.zeros((0, 3)), axis=0).tolist()
        == getattr(bn, name)(np.zeros((0, 3)), axis=0).tolist()
    )


SS_DTYPES = [
    np.float64,
    np.float32,
    np.int64,
    np.int32,
    np.int16,
    np.int8,
    np.uint8,
    np.uint32,
    np.bool_,
]


@pytest.mark.parametrize("dtype", SS_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("layout", ["C", "F", "negative", "bigendian"])
def test_ss_matches_bottleneck(dtype, layout, tmp_path):
    a = values(dtype, (6, 5), seed=4)
    if np.dtype(dtype).kind == "f":
        a[2, 3] = np.nan
    a = LAYOUTS[layout](a, tmp_path)
    for axis in (None, 0, 1, -1):
        got = nc.ss(a, axis=axis)
        want = bn.ss(np.array(a), axis=axis)
        # bottleneck gives a Python scalar for its own dtypes without an axis; nocopy the
        # NumPy scalar of the same type.
        if isinstance(want, (np.ndarray, np.generic)):
            assert np.asarray(got).dtype == want.dtype, (got, want)
        else:
            assert np.asarray(got).dtype == a.dtype.newbyteorder("=")
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_ss_wraps_as_bottleneck_and_sums_long_input():
    big = np.array([70_000, 70_000, 3], dtype=np.int32)
    assert nc.ss(big) == bn.ss(big)
    small = np.array([100, 100], dtype=np.int8)  # squares wrap in int8, as np.sum(a * a)
    assert nc.ss(small) == bn.ss(small)
    x = np.random.default_rng(1).standard_normal(1_000_003)
    np.testing.assert_allclose(nc.ss(x), bn.ss(x), rtol=1e-12)
    np.testing.assert_allclose(
        nc.ss(x[: 1009 * 991].reshape(1009, 991), axis=0),
        bn.ss(x[: 1009 * 991].reshape(1009, 991), axis=0),
        rtol=1e-12,
    )
    assert nc.ss(np.zeros((0, 3))) == bn.ss(np.zeros((0, 3)))


@pytest.mark.parametrize("rows", [5, 40, 256])
def test_short_columns_side_by_side_have_the_bits_of_each_column(rows):
    # Columns of up to 256 values are moved all at once with their sums watched; an outlier
    # makes its column's sums start again once it has left the window, as a lane's would.
    rng = np.random.default_rng(rows)
    table = rng.standard_normal((rows, 37)) * 10 + 1e3
    table[rows // 2, 4] = 1e15
    table[1, 7] = -1e12
    cube = rng.standard_normal((6, rows, 19)) * 3
    cube[2, rows - 2, 5] = 1e14
    for name in ("move_sum", "move_mean", "move_var", "move_std"):
        f = getattr(nc, name)
        for window in sorted({1, 3, rows}):
            got = f(table, window, axis=0)
            want = [f(np.ascontiguousarray(table[:, j]), window) for j in range(37)]
            assert got.tobytes() == np.stack(want, axis=1).tobytes(), (name, window)
            got = f(cube, window, axis=1)
            want = [
                [f(np.ascontiguousarray(cube[i, :, j]), window) for j in range(19)]
                for i in range(6)
            ]
            assert got.tobytes() == np.array(want).transpose(0, 2, 1).tobytes(), (name, window)


@pytest.mark.parametrize("n", [5, 100, 257, 1024])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lanes_one_after_another_have_the_bits_of_each_lane(n, dtype):
    # Lanes along the last axis of a C-order array (the first of a Fortran one, strided rows)
    # are copied in blocks into tables and moved side by side: each lane's output must be the
    # bits of that lane moved alone, outliers (watched sums starting again), NaN, infinities
    # and values too large to square (lanes then moved one by one) included.
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((75, n)) * 10 + 1e3).astype(dtype)
    x[3, n // 2] = 1e15 if dtype == "float64" else 1e30
    x[40, 0] = np.nan
    x[41, n - 1] = np.inf
    if dtype == "float64":
        x[42, 1 % n] = 1e200
    layouts = {
        "C": x,
        "F axis 0": np.asfortranarray(x.T),
        "reversed": x[::-1, ::-1],
        "strided": np.repeat(x, 2, axis=1)[:, ::2],
        "cube": x[:72].reshape(6, 12, n),
    }
    for name in ("move_sum", "move_mean", "move_var", "move_std"):
        f = getattr(nc, name)
        for window in sorted({1, 3, n}):
            for layout, a in layouts.items():
                axis = 0 if layout == "F axis 0" else -1
                got = np.moveaxis(f(a, window, axis=axis, min_count=1), axis, -1)
                lanes = np.moveaxis(a, axis, -1).reshape(-1, n)
                want = [f(np.ascontiguousarray(lane), window, min_count=1) for lane in lanes]
                assert got.reshape(-1, n).tobytes() == np.array(want).tobytes(), (
                    name,
                    window,
                    layout,
                )
