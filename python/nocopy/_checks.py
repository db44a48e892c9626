"""Checks shared by the functions that take ``out=``."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def same_memory(x: NDArray[Any], y: NDArray[Any]) -> bool:
    """Whether two arrays are views of exactly the same elements (``out=a``)."""
    return (
        x.__array_interface__["data"][0] == y.__array_interface__["data"][0]
        and x.shape == y.shape
        and x.strides == y.strides
        and x.dtype == y.dtype
    )


def check_out(
    out: Any,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    inputs: tuple[NDArray[Any], ...],
    allow_in_place: bool,
    source: str,
) -> bool:
    """Refuses an ``out`` nocopy cannot write the result into, before anything is written;
    says whether it is the first input itself (in place, when allowed)."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, not {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}; the result has shape {shape}")
    if out.dtype != dtype:
        raise TypeError(
            f"out has dtype {out.dtype}; the result of {source} is {dtype} (in native byte order)"
        )
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    if not out.flags.aligned:
        raise ValueError("out is not aligned to its item size")
    if out.size > 1 and 0 in out.strides:
        raise ValueError("out has a zero stride (a broadcast view): it cannot hold the result")
    in_place = allow_in_place and same_memory(out, inputs[0])
    for x in inputs[1:] if in_place else inputs:
        if np.shares_memory(out, x, max_work=10_000):
            allowed = "the input itself (out=a, in place) or " if allow_in_place else ""
            raise ValueError(
                f"out overlaps the input; it may only be {allowed}memory the inputs do not use"
            )
    return in_place
