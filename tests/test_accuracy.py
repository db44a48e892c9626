"""Accuracy: sums no worse than NumPy's pairwise summation, variance of a large mean."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import nocopy as nc


def adversarial(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "cancellation":
        x = rng.standard_normal(n) * 1e10
        return np.concatenate([x, -x[::-1] + rng.standard_normal(n)])
    if kind == "dynamic-range":
        return rng.standard_normal(n) * 10.0 ** rng.integers(-8, 9, n)
    if kind == "one-big-many-small":
        x = np.full(n, 1e-3)
        x[0] = 1e12
        return x
    return rng.random(n)


@pytest.mark.parametrize("kind", ["cancellation", "dynamic-range", "one-big-many-small", "uniform"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sum_error_no_worse_than_numpy(kind, seed):
    x = adversarial(kind, 200_003, seed)
    exact = math.fsum(x)
    scale = math.fsum(np.abs(x))
    err_nc = abs(float(nc.sum(x)) - exact)
    err_np = abs(float(np.sum(x)) - exact)
    # Equal rounding is allowed to land either side: a few ulps of the total magnitude.
    assert err_nc <= err_np + 4 * np.finfo(np.float64).eps * scale
    # Strided: NumPy sums a column naively; nocopy sums it pairwise all the same.
    col = np.stack([x, x], axis=1)
    err_col = abs(float(nc.sum(col, axis=0)[0]) - exact)
    assert err_col <= abs(float(np.sum(col, axis=0)[0]) - exact) + 4 * 2.2e-16 * scale


def test_float32_sums_accumulate_in_float64():
    x = np.full(10_000_000, 0.1, dtype=np.float32)
    exact = math.fsum(x.astype(np.float64))
    assert nc.sum(x).dtype == np.float32
    assert abs(float(nc.sum(x)) - exact) <= abs(float(np.sum(x)) - exact)
    assert abs(float(nc.sum(x)) - exact) / exact < 1e-7


@pytest.mark.parametrize("offset", [1e6, 1e9, 1e12])
def test_variance_of_a_large_mean(offset):
    rng = np.random.default_rng(3)
    x = offset + rng.standard_normal(100_000)
    exact_mean = Fraction(math.fsum(x)) / len(x)
    exact = float(sum((Fraction(v) - exact_mean) ** 2 for v in x[::1]) / len(x))
    got = float(nc.var(x))
    assert abs(got - exact) / exact < 1e-6 * max(1.0, offset / 1e9)
    s = nc.describe(x)
    assert s.var == nc.var(x)
    # float32 input is accumulated in float64 too.
    x32 = (np.float32(1e4) + rng.standard_normal(100_000).astype(np.float32)).astype(np.float32)
    ref = np.var(x32.astype(np.float64))
    assert abs(float(nc.var(x32)) - ref) / ref < 1e-6
