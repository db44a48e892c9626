"""Shared fixtures: every dtype nocopy reads, and every layout NumPy can produce."""

from __future__ import annotations

import _thread
import signal
import threading
import time
from collections.abc import Callable, Iterator
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


@pytest.fixture
def ctrl_c() -> Iterator[Callable[[float], None]]:
    """``ctrl_c(after)`` presses Ctrl-C ``after`` seconds from now, from another thread. Python's
    own SIGINT handler is installed meanwhile, even where the runner ignores SIGINT (background
    jobs, CI), so that the key reaches the interpreter as it does in a terminal."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)

    def press(after: float) -> None:
        def later() -> None:
            time.sleep(after)
            _thread.interrupt_main()

        threading.Thread(target=later).start()

    yield press
    signal.signal(signal.SIGINT, previous)
