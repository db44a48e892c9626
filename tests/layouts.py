"""Every dtype nocopy reads, and every layout NumPy can produce, as test data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

DTYPES = [
    np.bool_,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
]

SHAPE = (7, 5)


def values(dtype: type, shape: tuple[int, ...] = SHAPE, seed: int = 0) -> np.ndarray:
    """Deterministic test values of `dtype`: small integers, or floats of mixed sign."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) < 0.4
    if dt.kind == "u":
        return rng.integers(0, 100, shape).astype(dt)
    if dt.kind == "i":
        return rng.integers(-50, 50, shape).astype(dt)
    if dt == np.float16:
        return (rng.integers(-40, 40, shape) / 4).astype(dt)
    return (rng.standard_normal(shape) * 10 + 3).astype(dt)


def _c(a: np.ndarray, _: Path) -> np.ndarray:
    return np.ascontiguousarray(a)


def _fortran(a: np.ndarray, _: Path) -> np.ndarray:
    return np.asfortranarray(a)


def _strided(a: np.ndarray, _: Path) -> np.ndarray:
    big = np.zeros((a.shape[0] * 2, a.shape[1] * 3), dtype=a.dtype)
    big[::2, ::3] = a
    return big[::2, ::3]


def _negative(a: np.ndarray, _: Path) -> np.ndarray:
    big = np.zeros((a.shape[0], a.shape[1] * 2), dtype=a.dtype)
    big[::-1, ::-2] = a
    return big[::-1, ::-2]


def _broadcast(a: np.ndarray, _: Path) -> np.ndarray:
    return np.broadcast_to(a[0], a.shape)


def _offset(a: np.ndarray, _: Path) -> np.ndarray:
    big = np.zeros((a.shape[0] + 1, a.shape[1] + 2), dtype=a.dtype)
    big[1:, 2:] = a
    return big[1:, 2:]


def _readonly(a: np.ndarray, _: Path) -> np.ndarray:
    r = a.copy()
    r.flags.writeable = False
    return r


def _memmap(a: np.ndarray, tmp: Path) -> np.ndarray:
    m = np.memmap(tmp / f"m-{a.dtype.str[1:]}.dat", dtype=a.dtype, mode="w+", shape=a.shape)
    m[...] = a
    m.flush()
    return np.memmap(m.filename, dtype=a.dtype, mode="r", shape=a.shape)


def _bigendian(a: np.ndarray, _: Path) -> np.ndarray:
    return a.astype(a.dtype.newbyteorder(">"))


def _misaligned(a: np.ndarray, _: Path) -> np.ndarray:
    buf = np.zeros(a.nbytes + 1, dtype=np.uint8)
    m = buf[1:].view(a.dtype).reshape(a.shape)
    m[...] = a
    return m


def _field(a: np.ndarray, _: Path) -> np.ndarray:
    rec = np.zeros(a.shape, dtype=[("x", a.dtype), ("pad", "u1")])
    rec["x"] = a
    return rec["x"]


Layout = Callable[[np.ndarray, Path], np.ndarray]

LAYOUTS: dict[str, Layout] = {
    "C": _c,
    "F": _fortran,
    "strided": _strided,
    "negative": _negative,
    "broadcast": _broadcast,
    "offset": _offset,
    "readonly": _readonly,
    "memmap": _memmap,
    "bigendian": _bigendian,
    "misaligned": _misaligned,
    "field": _field,
}


def zero_copy_expected(layout: str, dtype: type) -> bool:
    """Whether the gate should read this layout in place."""
    itemsize = np.dtype(dtype).itemsize
    if np.dtype(dtype) == np.float16:
        return False
    if layout in ("bigendian", "misaligned", "field"):
        return itemsize == 1
    return True
