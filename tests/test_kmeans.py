"""nc.KMeans against scikit-learn's KMeans: same draws, same clustering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans as SkKMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import nocopy as nc


def datasets():
    blobs, _ = make_blobs(n_samples=3000, centers=6, n_features=5, random_state=1)
    far, _ = make_blobs(n_samples=2000, centers=4, n_features=8, random_state=2, cluster_std=0.5)
    stretched = blobs @ np.array([[0.6, -0.6, 0, 0, 0], [-0.4, 0.8, 0, 0, 0]] + [[0] * 5] * 3).T
    return {
        "blobs": (blobs, 6),
        "far from the origin": (far + 1e4, 4),  # moved tiles, not the in-place product
        "stretched": (stretched[:, :2] + blobs[:, 2:4], 5),
    }


def assert_same_fit(ours, theirs, rtol):
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.inertia_, theirs.inertia_, rtol=rtol)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, rtol=rtol, atol=1e-9)
    assert ours.cluster_centers_.dtype == theirs.cluster_centers_.dtype
    assert ours.labels_.dtype == np.int32


@pytest.mark.parametrize("name", list(datasets()))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("init", ["k-means++", "random", "array"])
def test_same_clustering_as_scikit_learn(name, dtype, init):
    X, k = datasets()[name]
    X = X.astype(dtype)
    if init == "array":
        init = X[::97][:k].copy()
    for seed in (0, 1):
        ours = nc.KMeans(k, init=init, random_state=seed).fit(X)
        theirs = SkKMeans(k, init=init, random_state=seed).fit(X)
        assert_same_fit(ours, theirs, rtol=1e-10 if dtype == np.float64 else 2e-5)


def test_sample_weights_as_scikit_learn():
    X, k = datasets()["blobs"]
    w = np.random.default_rng(3).uniform(0.1, 5.0, len(X))
    w[::10] = 0.0
    for init in ("k-means++", "random", X[:k]):
        ours = nc.KMeans(k, init=init, n_init=1, random_state=4).fit(X, sample_weight=w)
        theirs = SkKMeans(k, init=init, n_init=1, random_state=4).fit(X, sample_weight=w)
        assert_same_fit(ours, theirs, rtol=1e-10)
    # Integer weights are repeated rows.
    reps = np.arange(len(X)) % 3
    a = nc.KMeans(k, init=X[:k]).fit(X, sample_weight=reps)
    b = nc.KMeans(k, init=X[:k]).fit(np.repeat(X, reps, axis=0))
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-12)
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=1e-12)


def test_digits_ten_runs_within_one_percent_of_scikit_learn():
    X = load_digits().data
    ours = nc.KMeans(10, n_init=10, random_state=0).fit(X)
    theirs = SkKMeans(10, n_init=10, random_state=0).fit(X)
    assert abs(ours.inertia_ - theirs.inertia_) <= 0.01 * theirs.inertia_
    assert_same_fit(ours, theirs, rtol=1e-10)  # the same draws give the same runs


def test_empty_clusters_are_relocated_as_scikit_learn():
    X, _ = datasets()["blobs"]
    init = np.vstack([X[:3], np.full((2, 5), 1e3)])  # two centres no point is near
    ours = nc.KMeans(5, init=init).fit(X)
    theirs = SkKMeans(5, init=init, n_init=1).fit(X)
    assert np.unique(ours.labels_).size == 5
    assert_same_fit(ours, theirs, rtol=1e-10)


def test_same_result_on_any_thread_count():
    X = np.random.default_rng(5).standard_normal((20_000, 12)).astype(np.float32)
    fits = []
    for threads in (1, 2):
        with nc.threads(threads):
            fits.append(nc.KMeans(7, random_state=6, n_init=2).fit(X))
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    assert fits[0].inertia_ == fits[1].inertia_


def test_layouts_and_dtypes():
    X, k = datasets()["blobs"]
    want = nc.KMeans(k, random_state=0).fit(X)
    for layout in (np.asfortranarray(X), np.repeat(X, 2, axis=0)[::2], X[:, ::-1][:, ::-1]):
        got = nc.KMeans(k, random_state=0).fit(layout)
        np.testing.assert_array_equal(got.labels_, want.labels_)
        np.testing.assert_allclose(got.cluster_centers_, want.cluster_centers_, rtol=1e-12)
    ints = np.round(X * 10).astype(np.int32)
    got = nc.KMeans(k, random_state=0).fit(ints)
    assert got.cluster_centers_.dtype == np.float64
    assert_same_fit(got, SkKMeans(k, random_state=0).fit(ints), rtol=1e-10)


def test_predict_transform_score_and_the_function():
    X, k = datasets()["blobs"]
    ours = nc.KMeans(k, random_state=0).fit(X)
    theirs = SkKMeans(k, random_state=0).fit(X)
    new = X[::7] + 0.3
    np.testing.assert_array_equal(ours.predict(new), theirs.predict(new))
    np.testing.assert_allclose(ours.transform(new), theirs.transform(new), rtol=1e-10)
    np.testing.assert_allclose(ours.score(new), theirs.score(new), rtol=1e-10)
    np.testing.assert_array_equal(
        nc.KMeans(k, random_state=0).fit_predict(X), theirs.fit_predict(X)
    )
    np.testing.assert_allclose(
        nc.KMeans(k, random_state=0).fit_transform(X), theirs.fit_transform(X), rtol=1e-10
    )
    centers, labels, inertia, n_iter = nc.kmeans(X, k, random_state=0)
    np.testing.assert_array_equal(labels, theirs.labels_)
    np.testing.assert_array_equal(centers, ours.cluster_centers_)
    assert (inertia, n_iter) == (ours.inertia_, ours.n_iter_)
    with pytest.raises(nc.NotFittedError):
        nc.KMeans(2).predict(X)
    with pytest.raises(ValueError, match="X has 4 features, but KMeans is expecting 5"):
        ours.predict(X[:, :4])


def test_scikit_learn_accepts_the_estimator():
    X, _ = datasets()["blobs"]
    km = nc.KMeans(3, random_state=0, n_init=2)
    copy = clone(km)
    assert copy.get_params() == km.get_params() and copy is not km
    assert repr(km) == "KMeans(n_clusters=3, n_init=2, random_state=0)"
    pipe = make_pipeline(StandardScaler(), nc.KMeans(4, random_state=0)).fit(X)
    assert pipe.predict(X[:5]).shape == (5,)
    grid = GridSearchCV(nc.KMeans(random_state=0), {"n_clusters": [2, 6]}, cv=2).fit(X)
    assert grid.best_params_ == {"n_clusters": 6}
    assert km.set_params(n_clusters=5) is km and km.n_clusters == 5
    with pytest.raises(ValueError, match="Invalid parameter 'clusters'"):
        km.set_params(clusters=2)


def test_verbose_prints_scikit_learn_lines(capsys):
    X, k = datasets()["blobs"]
    nc.KMeans(k, random_state=0, verbose=1).fit(X)
    ours = capsys.readouterr().out.splitlines()
    SkKMeans(k, random_state=0, verbose=1).fit(X)
    theirs = capsys.readouterr().out.splitlines()
    assert len(ours) == len(theirs) >= 3
    assert ours[0] == "Initialization complete" and ours[-1] == theirs[-1]
    for a, b in zip(ours[1:-1], theirs[1:-1], strict=True):
        head_a, _, value_a = a.rpartition(" ")
        head_b, _, value_b = b.rpartition(" ")
        assert head_a == head_b
        np.testing.assert_allclose(float(value_a.rstrip(".")), float(value_b.rstrip(".")))


def test_n_init_and_warnings():
    X, k = datasets()["blobs"]
    with pytest.warns(RuntimeWarning, match="performing only one init"):
        nc.KMeans(k, init=X[:k], n_init=3).fit(X)
    dup = np.repeat(X[:2], 50, axis=0)
    with pytest.warns(nc.ConvergenceWarning, match="Number of distinct clusters"):
        nc.KMeans(3, random_state=0).fit(dup)
    ten = nc.KMeans(k, init="random", random_state=0).fit(X)
    theirs = SkKMeans(k, init="random", random_state=0).fit(X)  # n_init "auto": 10 runs
    assert_same_fit(ten, theirs, rtol=1e-10)


def test_bad_input():
    X, _ = datasets()["blobs"]
    cases = [
        (lambda: nc.KMeans(3001).fit(X), "n_samples=3000 should be >= n_clusters=3001"),
        (
            lambda: nc.KMeans(2).fit(np.where(np.arange(15.0) == 4, np.nan, 1.0).reshape(5, 3)),
            "NaN",
        ),
        (lambda: nc.KMeans(2).fit(np.array([[1.0, np.inf], [0, 0], [1, 1]])), "infinity"),
        (lambda: nc.KMeans(2).fit(X[:, 0]), "Expected 2D array"),
        (lambda: nc.KMeans(2, init=X[:3]).fit(X), "does not match the number of clusters 2"),
        (lambda: nc.KMeans(2, init=X[:2, :3]).fit(X), "number of features of the data 5"),
        (lambda: nc.KMeans(2).fit(X, sample_weight=np.ones(5)), r"expected \(3000,\)"),
        (lambda: nc.KMeans(2).fit(X, sample_weight=-np.ones(3000)), "Negative values"),
        (lambda: nc.KMeans(0).fit(X), "'n_clusters' parameter"),
        (lambda: nc.KMeans(2, init="first").fit(X), "'init' parameter"),
        (lambda: nc.KMeans(2, max_iter=0).fit(X), "'max_iter' parameter"),
        (lambda: nc.KMeans(2, n_init=0).fit(X), "'n_init' parameter"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    assert np.isfinite(X).all()  # inputs untouched


def test_ctrl_c_stops_a_long_fit_promptly(ctrl_c):
    X = np.random.default_rng(7).standard_normal((100_000, 64), dtype=np.float32)
    km = nc.KMeans(256, init="random", n_init=1, max_iter=300, tol=0.0, random_state=0)
    ctrl_c(0.3)
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        km.fit(X)
    assert time.perf_counter() - start < 1.5
    assert not hasattr(km, "cluster_centers_")
    # Usable afterwards.
    assert nc.KMeans(2, random_state=0).fit(X[:100]).n_iter_ >= 1


LEVEL_SCRIPT = """
import json, numpy as np, nocopy as nc
from sklearn.datasets import make_blobs
X, _ = make_blobs(n_samples=3000, centers=20, n_features=9, random_state=3)
out = []
for dtype in (np.float64, np.float32):
    for k in (3, 20):  # one register of centres, and several blocks
        fit = nc.KMeans(k, random_state=0).fit(X.astype(dtype))
        out.append([fit.labels_.tolist(), fit.inertia_, int(fit.n_iter_)])
print(json.dumps(out))
"""


def test_every_simd_level_finds_the_same_clustering():
    def run(level):
        env = {**os.environ, "NOCOPY_SIMD": level}
        cmd = [sys.executable, "-c", LEVEL_SCRIPT]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    want = run("baseline")
    for level in ("avx2", "avx512"):  # a level the CPU lacks is lowered to one it has
        got = run(level)
        assert len(got) == len(want)
        for (labels, inertia, n_iter), (w_labels, w_inertia, w_iter) in zip(got, want, strict=True):
            assert labels == w_labels and n_iter == w_iter
            np.testing.assert_allclose(inertia, w_inertia, rtol=1e-6)
