"""Every instruction-set level gives the same bits as the baseline (NOCOPY_SIMD forces one)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = """
import hashlib, numpy as np, nocopy as nc
rng = np.random.default_rng(4)
x = rng.standard_normal((3000, 7)) * 1e3 + 1e6
x[::13, 2] = np.nan
ints = rng.integers(-1000, 1000, (5000, 3)).astype(np.int32)
# Wide tables and a cube: lanes side by side, read row by row; ties and NaN in columns.
wide = (rng.standard_normal((2500, 150)) * 10).round()
wide[rng.random(wide.shape) < 0.01] = np.nan
cube = rng.integers(-50, 50, (20, 30, 40)).astype(np.int64)
h = hashlib.sha256()
for a in (x, np.asfortranarray(x), x[::-1, ::2], x.astype(np.float32), ints, wide,
          wide[:, ::-1].astype(np.float32), cube, cube.astype(np.float64)):
    for axis in (None, 0, 1):
        for f in (nc.sum, nc.nansum, nc.mean, nc.nanvar, nc.std, nc.min, nc.nanmax, nc.argmin,
                  nc.argmax, nc.nanargmin, nc.anynan):
            h.update(np.asarray(f(a, axis=axis)).tobytes())
        s = nc.describe(a, axis=axis, skipna=True)
        for v in (s.count, s.mean, s.var, s.min, s.max):
            h.update(np.asarray(v).tobytes())
# Moving sums of lanes side by side and of lanes one after another (both run as tables),
# watched (short lanes, an outlier) or not.
series = rng.standard_normal((40, 300)) * 1e3
series[5, 150] = 1e14
for a in (series, series.T.copy(), series[:, :100], series.astype(np.float32)):
    for axis in (0, 1):
        for f in (nc.move_sum, nc.move_mean, nc.move_std):
            h.update(f(a, 7, axis=axis).tobytes())
# Histogram bins found four at a time or one by one: values on and beside every edge.
edges = np.linspace(-3.7, 4.1, 101)
near = np.concatenate([edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf)])
for a in (np.concatenate([near, rng.standard_normal(9999), [np.nan, np.inf, -np.inf]]),
          near.astype(np.float32), ints):
    for bins in (100, 7, 1):
        b = a[np.isfinite(a)] if bins == 7 else a
        h.update(nc.histogram(b, bins, range=(-3.7, 4.1))[0].tobytes())
# Scaling: statistics and the transform, along rows and down columns, in and out of place.
for a in (x, np.asfortranarray(x), x.astype(np.float32), ints, wide):
    h.update(nc.standardize(a).tobytes())
    h.update(nc.standardize(a, axis=1, ddof=1).tobytes())
    h.update(nc.minmax_scale(a, feature_range=(-1, 3)).tobytes())
    inplace = a.astype(np.float64)
    nc.standardize(inplace, out=inplace)
    h.update(inplace.tobytes())
print(h.hexdigest())
"""


def digest(level: str) -> str:
    env = {**os.environ, "NOCOPY_SIMD": level}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize("level", ["avx2", "avx512"])
def test_every_level_matches_the_baseline_bit_for_bit(level):
    # A level the CPU lacks is lowered to one it has, which must agree all the same.
    assert digest(level) == digest("baseline")
