"""Shared fixtures: every dtype nocopy reads, and every layout NumPy can produce."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from layouts import DTYPES, LAYOUTS


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request: pytest.FixtureRequest) -> type:
    return request.param


@pytest.fixture(params=list(LAYOUTS), ids=str)
def layout(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make(tmp_path: Path) -> Callable[[str, np.ndarray], np.ndarray]:
    """Lays out given values in a named layout."""

    def build(name: str, a: np.ndarray) -> np.ndarray:
        out = LAYOUTS[name](np.asarray(a), tmp_path)
        if name != "broadcast":
            np.testing.assert_array_equal(out, a)
        return out

    return build
