"""The zero-copy gate seen from Python: the copy policy and `inspect`, layout by layout."""

from __future__ import annotations

import numpy as np
import pytest

import nocopy as nc

from layouts import values, zero_copy_expected

REASONS = {
    "bigendian": "byte order",
    "misaligned": "misaligned",
    "field": "not a multiple of the item size",
}


def test_inspect_reports_each_layout(dtype, layout, make):
    a = make(layout, values(dtype))
    info = nc.inspect(a)
    assert info.dtype == a.dtype
    assert info.shape == a.shape
    assert info.strides == a.strides
    assert info.itemsize == a.itemsize
    assert info.c_contiguous == a.flags.c_contiguous
    assert info.f_contiguous == a.flags.f_contiguous
    assert info.aligned == a.flags.aligned
    assert info.writeable == a.flags.writeable
    assert info.native_byteorder == (a.dtype.isnative or a.dtype.itemsize == 1)
    assert info.zero_copy == zero_copy_expected(layout, dtype)
    assert (info.reason is None) == info.zero_copy
    if not info.zero_copy:
        expected = "float16" if a.dtype.char == "e" else REASONS[layout]
        assert expected in info.reason
    assert "Layout(" in repr(info)


def test_copy_policy_follows_numpy_asarray(dtype, layout, make):
    a = make(layout, values(dtype))
    expected = nc.sum(a, axis=0)
    np.testing.assert_array_equal(nc.sum(a, axis=0, copy=True), expected)
    if zero_copy_expected(layout, dtype):
        np.testing.assert_array_equal(nc.sum(a, axis=0, copy=False), expected)
    else:
        with pytest.raises(nc.CopyRequiredError, match="a copy is required") as err:
            nc.sum(a, axis=0, copy=False)
        assert isinstance(err.value, ValueError)
        assert nc.inspect(a).reason in str(err.value)


def test_copy_false_on_lists_still_converts_them():
    # The list becomes an array in numpy.asarray; that array is then read in place.
    assert nc.sum([1.0, 2.0], copy=False) == 3.0


def test_broadcast_arrays_are_never_materialised():
    # 10^8 elements of 8 bytes read from one: a copy would need 800 MB.
    huge = np.broadcast_to(np.float64(0.5), (10_000, 10_000))
    assert nc.inspect(huge).zero_copy
    assert nc.max(huge, copy=False) == 0.5
    assert nc.describe(huge[:1000], axis=1, copy=False).count.shape == (1000,)


def test_float16_is_converted_and_results_are_float16():
    a = np.array([1.5, 2.5, -1.0], dtype=np.float16)
    assert not nc.inspect(a).zero_copy
    with pytest.raises(nc.CopyRequiredError, match="float16"):
        nc.mean(a, copy=False)
    assert nc.mean(a).dtype == np.float16
    assert nc.mean(a) == np.mean(a)


@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.bool_])
def test_one_byte_types_are_always_aligned_and_native(dt):
    a = values(dt, (6, 4))
    rec = np.zeros(a.shape, dtype=[("x", dt), ("y", "u1"), ("z", "u1")])
    rec["x"] = a
    field = rec["x"]  # stride 3: a multiple of the item size 1
    assert nc.inspect(field).zero_copy
    np.testing.assert_array_equal(nc.sum(field, axis=0, copy=False), np.sum(a, axis=0))


def test_copy_argument_is_keyword_only_and_typed():
    with pytest.raises(TypeError):
        nc.sum(np.ones(2), None, False, None)  # type: ignore[misc]
    with pytest.raises(TypeError):
        nc.sum(np.ones(2), copy="yes")  # type: ignore[arg-type]
