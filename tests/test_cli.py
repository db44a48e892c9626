"""The `nocopy` command end to end on generated .npy and .npz files, corrupt ones included."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import nocopy as nc


def _binary() -> str:
    path = os.environ.get("NOCOPY_CLI") or shutil.which("nocopy")
    if not path:
        candidate = Path(__file__).resolve().parents[1] / "target" / "release" / "nocopy"
        path = str(candidate) if candidate.exists() else None
    if not path:
        pytest.fail("the nocopy binary was not found: run `make test`, or set NOCOPY_CLI")
    return path


CLI = _binary()


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.fixture
def table(tmp_path: Path) -> np.ndarray:
    rng = np.random.default_rng(11)
    a = rng.standard_normal((1000, 4)) * [1, 10, 100, 1e6] + [0, 5, -3, 1e9]
    a[::17, 1] = np.nan
    return a


def test_describe_json_matches_nocopy_and_numpy(tmp_path, table):
    path = tmp_path / "t.npy"
    np.save(path, table)
    out = run("describe", path, "--axis", "0", "--skipna", "--json", "--ddof", "1")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["zero_copy"] is True and doc["copy_reason"] is None
    assert doc["shape"] == [1000, 4] and doc["result_shape"] == [4]
    expected = nc.describe(table, axis=0, ddof=1, skipna=True)
    for key in ("count", "mean", "std", "min", "max", "var"):
        np.testing.assert_array_equal(doc["stats"][key], getattr(expected, key))
    np.testing.assert_allclose(doc["stats"]["std"], np.nanstd(table, axis=0, ddof=1), rtol=1e-9)


def test_describe_overall_table_for_people(tmp_path, table):
    path = tmp_path / "t.npy"
    np.save(path, table)
    out = run("describe", path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "float64 (1000, 4)" in lines[0] and "read in place" in lines[0]
    assert lines[1].split() == ["count", "mean", "std", "min", "max", "var"]
    assert lines[2].split()[0] == "4000" and lines[2].split()[1] == "nan"


def test_fortran_files_are_read_in_place_big_endian_ones_copied(tmp_path, table):
    np.save(tmp_path / "f.npy", np.asfortranarray(table))
    np.save(tmp_path / "b.npy", table.astype(">f8"))
    f = json.loads(run("inspect", tmp_path / "f.npy", "--json").stdout)
    assert f["order"] == "Fortran" and f["zero_copy"] is True and f["memory_mapped"] is True
    b = json.loads(run("inspect", tmp_path / "b.npy", "--json").stdout)
    assert b["zero_copy"] is False and "byte order" in b["reason"]
    human = run("inspect", tmp_path / "b.npy").stdout
    assert "zero-copy  no: non-native byte order" in human
    for name in ("f.npy", "b.npy"):
        doc = json.loads(run("describe", tmp_path / name, "--axis", "1", "--json").stdout)
        np.testing.assert_allclose(
            doc["stats"]["mean"][1:6], np.mean(table[1:6], axis=1), rtol=1e-12
        )
        assert doc["stats"]["mean"][0] is None  # NaN row: JSON has no NaN


@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool", "float32", "float16", "int16"])
def test_every_dtype(tmp_path, dtype):
    a = (np.arange(60).reshape(6, 10) % 7).astype(dtype)
    np.save(tmp_path / "a.npy", a)
    doc = json.loads(run("describe", tmp_path / "a.npy", "--json").stdout)
    assert doc["dtype"] == dtype
    assert doc["stats"]["count"] == 60
    assert doc["stats"]["min"] == a.min().item()
    assert doc["stats"]["max"] == a.max().item()
    np.testing.assert_allclose(doc["stats"]["mean"], np.mean(a.astype(np.float64)), rtol=1e-6)


def test_exact_64_bit_integers(tmp_path):
    a = np.array([2**62 + 1, -(2**62) - 3], dtype=np.int64)
    np.save(tmp_path / "a.npy", a)
    doc = json.loads(run("describe", tmp_path / "a.npy", "--json").stdout)
    assert doc["stats"]["min"] == -(2**62) - 3 and doc["stats"]["max"] == 2**62 + 1


def test_npz_members(tmp_path, table):
    np.savez_compressed(tmp_path / "z.npz", x=table, y=np.arange(5))
    doc = json.loads(run("describe", f"{tmp_path / 'z.npz'}:y", "--json").stdout)
    assert doc["stats"]["mean"] == 2.0
    missing = run("describe", f"{tmp_path / 'z.npz'}:nope")
    assert missing.returncode == 1
    assert 'has no array "nope"' in missing.stderr and "x, y" in missing.stderr
    bare = run("describe", tmp_path / "z.npz")
    assert bare.returncode == 1 and "NAME.npz:ARRAY" not in bare.stderr and ":ARRAY" in bare.stderr


def test_threads_flag_gives_identical_results(tmp_path):
    a = np.random.default_rng(2).standard_normal(3_000_000) + 1e8
    np.save(tmp_path / "a.npy", a)
    one = run("describe", tmp_path / "a.npy", "--json", "--threads", "1").stdout
    three = run("describe", tmp_path / "a.npy", "--json", "--threads", "3").stdout
    assert one == three


def one_line_error(out: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert out.returncode == code, (out.returncode, out.stderr)
    assert out.stdout == ""
    assert out.stderr.startswith("nocopy: ") and out.stderr.count("\n") == 1, out.stderr
    assert text in out.stderr
    assert "panicked" not in out.stderr and "RUST_BACKTRACE" not in out.stderr


def test_errors_are_one_line_with_exit_code_1(tmp_path, table):
    good = tmp_path / "t.npy"
    np.save(good, table)
    raw = good.read_bytes()
    (tmp_path / "truncated.npy").write_bytes(raw[: len(raw) - 100])
    (tmp_path / "garbage.npy").write_bytes(b"this is not an array file at all")
    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "header.npy").write_bytes(raw[:40])
    np.save(tmp_path / "complex.npy", np.ones(3, dtype=np.complex128))
    np.save(tmp_path / "record.npy", np.zeros(3, dtype=[("a", "<f8"), ("b", "<i4")]))
    np.save(tmp_path / "text.npy", np.array(["a", "b"]))
    one_line_error(run("describe", tmp_path / "missing.npy"), 1, "cannot open")
    one_line_error(run("describe", tmp_path / "truncated.npy"), 1, "truncated")
    one_line_error(run("describe", tmp_path / "garbage.npy"), 1, "not a valid .npy file")
    one_line_error(run("inspect", tmp_path / "empty.npy"), 1, "not a valid .npy file")
    one_line_error(run("describe", tmp_path / "header.npy"), 1, "truncated header")
    one_line_error(run("describe", tmp_path / "complex.npy"), 1, "unsupported dtype")
    one_line_error(run("describe", tmp_path / "record.npy"), 1, "unsupported dtype")
    one_line_error(run("describe", tmp_path / "text.npy"), 1, "unsupported dtype")
    one_line_error(run("describe", good, "--axis", "2"), 1, "axis 2 is out of bounds")
    one_line_error(run("describe", tmp_path / "nope.npz:x"), 1, "cannot open")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 broken")
    one_line_error(run("describe", f"{tmp_path / 'bad.npz'}:x"), 1, "not a valid .npz archive")


def test_usage_errors_exit_with_2(tmp_path):
    assert run().returncode == 2
    assert run("describe").returncode == 2
    assert run("describe", "x.npy", "--threads", "0").returncode == 2
    assert run("frobnicate").returncode == 2
    helped = run("describe", "--help")
    assert helped.returncode == 0 and "--skipna" in helped.stdout


@pytest.mark.parametrize("func", ["sum", "mean", "std", "min", "argmax", "median", "rank"])
def test_move_writes_what_the_python_function_returns(tmp_path, func):
    a = np.random.default_rng(5).standard_normal((300, 4)).astype(np.float32)
    a[7, 1] = np.nan
    np.save(tmp_path / "a.npy", a)
    out = tmp_path / "out.npy"
    r = run(
        "move",
        func,
        tmp_path / "a.npy",
        "--window",
        "20",
        "--min-count",
        "5",
        "--axis",
        "0",
        "-o",
        out,
    )
    assert r.returncode == 0, r.stderr
    got = np.load(out)
    want = getattr(nc, f"move_{func}")(a, 20, min_count=5, axis=0)
    assert got.dtype == want.dtype == np.float32
    assert got.tobytes() == want.tobytes()


def test_move_errors_are_one_line(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(5.0))
    r = run("move", "mean", tmp_path / "a.npy", "--window", "9", "-o", tmp_path / "o.npy")
    assert r.returncode == 1
    assert r.stderr.strip() == "nocopy: Moving window (=9) must between 1 and 5, inclusive"
    assert not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
def test_hist_json_matches_numpy(tmp_path, dtype):
    a = (np.random.default_rng(6).standard_normal(50_000) * 40).astype(dtype)
    np.save(tmp_path / "a.npy", a)
    for extra, kwargs in (([], {}), (["--range", "-50", "75.5"], {"range": (-50, 75.5)})):
        r = run("hist", tmp_path / "a.npy", "--bins", "37", "--json", *extra)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        counts, edges = np.histogram(a, 37, **kwargs)
        assert doc["counts"] == counts.tolist()
        assert doc["edges"] == edges.astype(np.float64).tolist()


def test_hist_draws_bars_and_refuses_nan_ranges(tmp_path):
    a = np.array([0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 3.0])
    np.save(tmp_path / "a.npy", a)
    r = run("hist", tmp_path / "a.npy", "--bins", "3")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "7 values in 3 bins" in lines[0]
    assert [line.split()[2] for line in lines[1:]] == ["1", "2", "4"]
    assert lines[3].split()[-1] == "\u2588" * 50  # the largest bin fills the bar
    np.save(tmp_path / "n.npy", np.array([1.0, np.nan]))
    r = run("hist", tmp_path / "n.npy")
    assert r.returncode == 1
    assert r.stderr.strip() == "nocopy: autodetected range of [NaN, NaN] is not finite"


@pytest.mark.parametrize("method", ["linear", "nearest", "midpoint"])
def test_quantile_json_matches_numpy(tmp_path, table, method):
    np.save(tmp_path / "t.npy", table)
    r = run(
        "quantile",
        tmp_path / "t.npy",
        "-q",
        "0.1,0.5,0.99",
        "--axis",
        "0",
        "--skipna",
        "--method",
        method,
        "--json",
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    want = np.nanquantile(table, [0.1, 0.5, 0.99], axis=0, method=method)
    assert doc["result_shape"] == [3, 4]
    assert doc["quantiles"] == want.tolist()
    r = run("quantile", tmp_path / "t.npy", "-q", "0.5", "--json")
    assert json.loads(r.stdout)["quantiles"] == [None]  # a NaN, as np.quantile
    r = run("quantile", tmp_path / "t.npy", "-q", "0.5", "--method", "bogus")
    assert r.returncode == 1 and "unknown method" in r.stderr


@pytest.mark.parametrize("minmax", [False, True])
def test_scale_writes_what_the_python_function_returns(tmp_path, minmax):
    a = np.random.default_rng(7).standard_normal((500, 3)).astype(np.float32) * 5 + 2
    np.save(tmp_path / "a.npy", a)
    extra = ["--minmax", "--feature-range", "-1", "1"] if minmax else []
    r = run("scale", tmp_path / "a.npy", "-o", tmp_path / "o.npy", *extra)
    assert r.returncode == 0, r.stderr
    got = np.load(tmp_path / "o.npy")
    want = nc.minmax_scale(a, feature_range=(-1, 1)) if minmax else nc.standardize(a)
    assert got.dtype == want.dtype == np.float32
    assert got.tobytes() == want.tobytes()
    np.save(tmp_path / "c.npy", np.zeros((2, 2, 2)))
    r = run("scale", tmp_path / "c.npy", "-o", tmp_path / "x.npy")
    assert r.returncode == 1 and "1-d or 2-d" in r.stderr


@pytest.mark.parametrize("metric", ["euclidean", "cityblock", "cosine"])
def test_cdist_writes_what_the_python_function_returns(tmp_path, metric):
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((40, 6)), rng.standard_normal((25, 6))
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", np.asfortranarray(b))
    r = run(
        "cdist",
        tmp_path / "a.npy",
        tmp_path / "b.npy",
        "--metric",
        metric,
        "-o",
        tmp_path / "d.npy",
    )
    assert r.returncode == 0, r.stderr
    got = np.load(tmp_path / "d.npy")
    want = nc.cdist(a, b, metric)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    np.save(tmp_path / "c.npy", rng.standard_normal((3, 5)))
    r = run("cdist", tmp_path / "a.npy", tmp_path / "c.npy", "-o", tmp_path / "x.npy")
    assert r.returncode == 1 and "same number of columns" in r.stderr
    r = run(
        "cdist",
        tmp_path / "a.npy",
        tmp_path / "b.npy",
        "--metric",
        "bogus",
        "-o",
        tmp_path / "x.npy",
    )
    assert r.returncode == 1 and "Unknown Distance Metric" in r.stderr


@pytest.mark.parametrize("metric", ["sqeuclidean", "ip"])
def test_knn_writes_an_npz_of_what_the_python_function_returns(tmp_path, metric):
    rng = np.random.default_rng(9)
    base = rng.standard_normal((3000, 8)).astype(np.float32)
    queries = rng.standard_normal((2500, 8)).astype(np.float32)  # two batches
    np.save(tmp_path / "b.npy", base)
    np.save(tmp_path / "q.npy", queries)
    out = tmp_path / "r.npz"
    r = run("knn", tmp_path / "b.npy", tmp_path / "q.npy", "-k", "5", "--metric", metric, "-o", out)
    assert r.returncode == 0, r.stderr
    d, i = nc.knn(base, queries, 5, metric=metric)
    with np.load(out) as z:
        assert z["indices"].dtype == np.int64 and z["distances"].dtype == np.float32
        np.testing.assert_array_equal(z["indices"], i)
        assert z["distances"].tobytes() == d.tobytes()
    r = run("knn", tmp_path / "b.npy", tmp_path / "q.npy", "-k", "3001", "-o", tmp_path / "x.npz")
    assert r.returncode == 1 and "k must be between 1 and the number of base rows" in r.stderr
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kmeans_writes_centres_and_labels_near_scikit_learns(tmp_path, dtype):
    from sklearn.cluster import KMeans
    from sklearn.datasets import load_digits

    x = load_digits().data.astype(dtype)
    np.save(tmp_path / "x.npy", x)
    out, labels = tmp_path / "c.npy", tmp_path / "l.npy"
    r = run("kmeans", tmp_path / "x.npy", "-k", "10", "--n-init", "10", "--seed", "3", "-o", out,
            "--labels", labels)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "iteration" in r.stderr and "inertia" in r.stderr
    centres, assigned = np.load(out), np.load(labels)
    assert centres.shape == (10, 64) and centres.dtype == dtype
    assert assigned.shape == (1797,) and assigned.dtype == np.int32
    # The summary's inertia is the labels' against the centres, near scikit-learn's.
    inertia = float(r.stdout.split("inertia ")[1].split(",")[0])
    np.testing.assert_allclose(((x - centres[assigned]) ** 2).sum(), inertia, rtol=1e-5)
    theirs = KMeans(10, n_init=10, random_state=0).fit(x).inertia_
    assert abs(inertia - theirs) <= 0.01 * theirs
    # Every row's label is its nearest centre.
    np.testing.assert_array_equal(assigned, nc.KMeans(10, init=centres, max_iter=1).fit(x).labels_)


def test_kmeans_refuses_bad_input(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((5, 2)))
    r = run("kmeans", tmp_path / "x.npy", "-k", "6", "-o", tmp_path / "c.npy")
    assert r.returncode == 1 and "n_samples=5 should be >= n_clusters=6" in r.stderr
    assert not (tmp_path / "c.npy").exists()
    bad = np.ones((5, 2))
    bad[2, 1] = np.nan
    np.save(tmp_path / "n.npy", bad)
    r = run("kmeans", tmp_path / "n.npy", "-k", "2", "-o", tmp_path / "c.npy")
    assert r.returncode == 1 and "NaN or infinity" in r.stderr
