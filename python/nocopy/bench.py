"""Measure nocopy against NumPy and the installed peers on this machine.

Run ``python -m nocopy.bench`` (``--quick`` for fewer, smaller runs; ``--json FILE`` to save the
results; ``--plot FILE.png`` for a speedup-versus-size chart, with matplotlib; ``--sweep`` to add
the sweep of every reduction, describe, the quantiles and the moving windows over shapes, axes,
orders and dtypes, worst cells first; ``--sweep-only`` for the sweep alone). Each workload runs
alternately with its peer in one process; the table shows median times, the speedup, and for
streaming kernels the achieved read bandwidth as a share of the machine's, measured first by a
probe that reads memory and does almost no arithmetic.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

import nocopy as nc
from nocopy import _native

GB = 1e9


@dataclass
class Row:
    """One measured workload."""

    workload: str
    nocopy_s: float
    peer: str
    peer_s: float
    bytes_read: int = 0
    goal: str = ""
    flops: int = 0

    @property
    def speedup(self) -> float:
        return self.peer_s / self.nocopy_s


def alternate(ours: Callable[[], Any], theirs: Callable[[], Any], repeat: int, inner: int = 1):
    """Median seconds per call of each, measured turn about so both see the same machine."""
    ours(), theirs()  # warm up caches, pages and thread pools
    a, b = [], []
    for _ in range(repeat):
        for f, out in ((ours, a), (theirs, b)):
            start = time.perf_counter()
            for _ in range(inner):
                f()
            out.append((time.perf_counter() - start) / inner)
    return statistics.median(a), statistics.median(b)


def probe(nbytes: int, repeat: int) -> float:
    """The machine's read bandwidth in bytes per second, on nocopy's threads."""
    words = np.ones(nbytes // 8, dtype=np.uint64)
    _native._read_probe(words)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        _native._read_probe(words)
        times.append(time.perf_counter() - start)
    return words.nbytes / statistics.median(times)


def fma_peak() -> tuple[float, float]:
    """The machine's float32 fused multiply-add throughput in FLOP/s on nocopy's threads, in
    256-bit (AVX2, what the GEMM uses) and 512-bit (AVX-512) registers; 0 where absent."""
    peaks = []
    for wide in (False, True):
        _native._fma_probe(1000, wide)
        times, done = [], 0
        for _ in range(3):
            start = time.perf_counter()
            done = _native._fma_probe(5_000_000, wide)
            times.append(time.perf_counter() - start)
        peaks.append(done / min(times))
    return peaks[0], peaks[1]


# Run first in the children below: the resident size and its high-water mark, from the child's
# own memory map. `ru_maxrss` will not do: Linux carries the parent's high-water mark into a
# child across `exec` (a bench process holding 3 GB of arrays made knn "peak" at 2.8 GB), and
# a child whose inherited mark is above its own peak would show no growth at all.
_PEAK = """
def resident(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) * 1024
def start_peak():
    # Writing 5 to clear_refs resets the high-water mark to the resident size now.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return resident("VmRSS")
"""


def peak_memory_of_knn(n_base: int, n_queries: int) -> tuple[int, int]:
    """(base bytes, extra peak bytes) of knn over a float32 base of 128 columns, k=10, in a
    child process; the result arrays are counted."""
    code = f"""{_PEAK}
import numpy as np, nocopy as nc
rng = np.random.default_rng(0)
base = rng.standard_normal(({n_base}, 128), dtype=np.float32)
queries = rng.standard_normal(({n_queries}, 128), dtype=np.float32)
before = start_peak()
nc.knn(base, queries, 10)
print(resident("VmHWM") - before)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return n_base * 128 * 4, int(out.stdout.strip())


def kmeans_agreement() -> None:
    """Inertia of nc.KMeans and scikit-learn's against each other (digits, k=10, n_init=10;
    and the explicit-init benchmark data)."""
    try:
        from sklearn.cluster import KMeans as SkKMeans
        from sklearn.datasets import load_digits
    except ImportError:
        return
    x = load_digits().data
    ours = nc.KMeans(10, n_init=10, random_state=0).fit(x).inertia_
    theirs = SkKMeans(10, n_init=10, random_state=0).fit(x).inertia_
    print(
        f"\nkmeans on digits, k=10, n_init=10: inertia {ours:.1f} against scikit-learn's "
        f"{theirs:.1f} ({ours / theirs - 1:+.2e} relative; goal within 1%)"
    )
    kx = np.random.default_rng(0).standard_normal((100_000, 32)).astype(np.float32)
    fixed = {"init": kx[:: 100_000 // 16][:16].copy(), "n_init": 1, "max_iter": 50, "tol": 0.0}
    ours = nc.KMeans(16, **fixed).fit(kx).inertia_
    theirs = SkKMeans(16, **fixed).fit(kx).inertia_
    print(
        "kmeans (1e5, 32) f32, k=16, 50 iterations from one init: inertia "
        f"{ours / theirs - 1:+.2e} relative to scikit-learn's (goal within 1e-4)"
    )


def numpy_four(a: np.ndarray, axis: int | None = None) -> None:
    np.mean(a, axis=axis), np.std(a, axis=axis), np.min(a, axis=axis), np.max(a, axis=axis)


def peak_memory_of_describe(nbytes: int) -> tuple[int, int]:
    """(input bytes, extra peak bytes) of describe on a fresh array, in a child process."""
    code = f"""{_PEAK}
import numpy as np, nocopy as nc
x = np.ones({nbytes // 8}, dtype=np.float64); x[::7] = 2.0
before = start_peak()
nc.describe(x)
print(resident("VmHWM") - before)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return nbytes, int(out.stdout.strip())


def workloads(quick: bool) -> list[Row]:
    repeat = 5 if quick else 15
    rng = np.random.default_rng(0)
    n = 10_000_000
    x64 = rng.standard_normal(n) * 3 + 100
    x32 = x64.astype(np.float32)
    xnan = x64.copy()
    xnan[rng.random(n) < 0.1] = np.nan
    table = rng.standard_normal((1_000_000, 32))
    table_f = np.asfortranarray(table)
    tiny = np.arange(10.0)
    rows: list[Row] = []

    def add(name, ours, theirs, peer, nbytes=0, goal="", inner=1, times=None, flops=0):
        t_ours, t_theirs = alternate(ours, theirs, times or repeat, inner)
        rows.append(Row(name, t_ours, peer, t_theirs, nbytes, goal, flops))

    add("sum 1e7 float64", lambda: nc.sum(x64), lambda: np.sum(x64), "np.sum", x64.nbytes, ">=1.8x")
    add("sum 1e7 float32", lambda: nc.sum(x32), lambda: np.sum(x32), "np.sum", x32.nbytes, ">=1.8x")
    add(
        "mean 1e7 float64",
        lambda: nc.mean(x64),
        lambda: np.mean(x64),
        "np.mean",
        x64.nbytes,
        ">=1.8x",
    )
    add(
        "mean 1e7 float32",
        lambda: nc.mean(x32),
        lambda: np.mean(x32),
        "np.mean",
        x32.nbytes,
        ">=1.8x",
    )
    add("var 1e7 float64", lambda: nc.var(x64), lambda: np.var(x64), "np.var", x64.nbytes, ">=5x")
    add("std 1e7 float64", lambda: nc.std(x64), lambda: np.std(x64), "np.std", x64.nbytes, ">=5x")
    add(
        "describe 1e7 float64",
        lambda: nc.describe(x64),
        lambda: numpy_four(x64),
        "np mean,std,min,max",
        x64.nbytes,
        ">=10x",
    )
    add(
        "describe(axis=0) (1e6, 32) C",
        lambda: nc.describe(table, axis=0),
        lambda: numpy_four(table, 0),
        "np mean,std,min,max",
        table.nbytes,
        ">=20x",
    )
    add(
        "var(axis=1) (1e6, 32)",
        lambda: nc.var(table, axis=1),
        lambda: np.var(table, axis=1),
        "np.var",
        table.nbytes,
        ">=5x",
    )
    add(
        "mean(axis=0) (1e6, 32) Fortran",
        lambda: nc.mean(table_f, axis=0),
        lambda: np.mean(table_f, axis=0),
        "np.mean",
        table.nbytes,
        ">=1.5x",
    )
    add("min 1e7 float64", lambda: nc.min(x64), lambda: np.min(x64), "np.min", x64.nbytes, ">=1.3x")
    add("max 1e7 float64", lambda: nc.max(x64), lambda: np.max(x64), "np.max", x64.nbytes, ">=1.3x")
    try:
        import bottleneck as bn

        add(
            "nanmean 1e7, 10% NaN",
            lambda: nc.nanmean(xnan),
            lambda: bn.nanmean(xnan),
            "bottleneck",
            xnan.nbytes,
            ">=1.5x",
        )
        add(
            "nanstd 1e7, 10% NaN",
            lambda: nc.nanstd(xnan),
            lambda: bn.nanstd(xnan),
            "bottleneck",
            xnan.nbytes,
            ">=1.5x",
        )
        narrow = table[:, :16]  # (1e6, 16): rows of 16 of the 32 columns
        narrow = np.ascontiguousarray(narrow)
        for name in ("move_mean", "move_sum", "move_std"):
            add(
                f"{name} 1e7, window 100",
                lambda f=name: getattr(nc, f)(x64, 100),
                lambda f=name: getattr(bn, f)(x64, 100),
                "bottleneck",
                goal=">=1.5x",
            )
            add(
                f"{name} (1e6, 16) axis 0, window 50",
                lambda f=name: getattr(nc, f)(narrow, 50, axis=0),
                lambda f=name: getattr(bn, f)(narrow, 50, axis=0),
                "bottleneck",
                goal=">=2x",
            )
        walk = x64[:1_000_000]
        add(
            "move_median 1e6, window 101",
            lambda: nc.move_median(walk, 101),
            lambda: bn.move_median(walk, 101),
            "bottleneck",
            goal=">=1.5x",
        )
        for name in ("move_min", "move_max"):
            add(
                f"{name} 1e7, window 100",
                lambda f=name: getattr(nc, f)(x64, 100),
                lambda f=name: getattr(bn, f)(x64, 100),
                "bottleneck",
                goal=">=2x",
            )
    except ImportError:
        print("(bottleneck is not installed: its rows are skipped; pip install bottleneck)")
    out = np.empty_like(table)
    add(
        "standardize (1e6, 32), out=",
        lambda: nc.standardize(table, out=out),
        lambda: (table - table.mean(0)) / table.std(0),
        "np (X - mean) / std",
        table.nbytes,
        ">=4x",
    )
    add(
        "histogram 1e7, 100 bins",
        lambda: nc.histogram(x64, 100),
        lambda: np.histogram(x64, 100),
        "np.histogram",
        x64.nbytes,
        ">=5x",
    )
    add(
        "percentile 1e7, [50, 90, 99]",
        lambda: nc.percentile(x64, [50, 90, 99]),
        lambda: np.percentile(x64, [50, 90, 99]),
        "np.percentile",
        x64.nbytes,
        ">=2x",
    )
    rows_100 = rng.standard_normal((100_000, 100))
    add(
        "median(axis=1) (1e5, 100)",
        lambda: nc.median(rows_100, axis=1),
        lambda: np.median(rows_100, axis=1),
        "np.median",
        rows_100.nbytes,
        ">=3x",
    )
    rows_nan = rows_100.copy()
    rows_nan[rng.random(rows_nan.shape) < 0.1] = np.nan
    add(
        "nanquantile(0.9, axis=1) (1e5, 100), 10% NaN",
        lambda: nc.nanquantile(rows_nan, 0.9, axis=1),
        lambda: np.nanquantile(rows_nan, 0.9, axis=1),
        "np.nanquantile",
        rows_nan.nbytes,
        ">=5x",
        times=3,  # NumPy takes seconds: it loops over the rows in Python
    )
    try:
        from scipy.spatial.distance import cdist as scipy_cdist

        pa = rng.standard_normal((4000, 128))
        pb = rng.standard_normal((4000, 128))
        pout = np.empty((4000, 4000))
        flops = 2 * 4000 * 4000 * 128
        for metric, goal in (("euclidean", ">=5x"), ("cityblock", ">=4x"), ("cosine", ">=5x")):
            add(
                f"cdist {metric} 4000x4000x128 float64",
                lambda m=metric: nc.cdist(pa, pb, m, out=pout),
                lambda m=metric: scipy_cdist(pa, pb, m),
                "scipy cdist",
                goal=goal,
                times=3,
                flops=flops if metric != "cityblock" else 0,
            )
        from sklearn.metrics.pairwise import euclidean_distances

        add(
            "cdist euclidean 4000x4000x128 float64",
            lambda: nc.cdist(pa, pb, out=pout),
            lambda: euclidean_distances(pa, pb),
            "sklearn euclidean_distances",
            goal=">=1x",
            flops=flops,
        )
        pa32, pb32 = pa.astype(np.float32), pb.astype(np.float32)
        pout32 = np.empty((4000, 4000), np.float32)
        add(
            "cdist sqeuclidean 4000x4000x128 float32",
            lambda: nc.cdist(pa32, pb32, "sqeuclidean", out=pout32),
            lambda: euclidean_distances(pa32, pb32, squared=True),
            "sklearn euclidean_distances",
            goal=">=1x",
            flops=flops,
        )
        from sklearn.neighbors import NearestNeighbors

        kb = rng.standard_normal((100_000, 128)).astype(np.float32)
        kq = rng.standard_normal((1000, 128)).astype(np.float32)
        knn_flops = 2 * 100_000 * 1000 * 128
        brute = NearestNeighbors(n_neighbors=10, algorithm="brute").fit(kb)
        add(
            "knn 100000x128 base, 1000 queries, k=10, float32",
            lambda: nc.knn(kb, kq, 10),
            lambda: brute.kneighbors(kq),
            "sklearn brute",
            goal=">=1.5x",
            times=5,
            flops=knn_flops,
        )
        try:
            import faiss

            flat = faiss.IndexFlatL2(128)
            flat.add(kb)
            same = np.array_equal(nc.knn(kb, kq, 10)[1], flat.search(kq, 10)[1])
            add(
                "knn as above" + ("" if same else " (NEIGHBOURS DIFFER)"),
                lambda: nc.knn(kb, kq, 10),
                lambda: flat.search(kq, 10),
                "faiss IndexFlatL2",
                goal=">=1x",
                times=7,
                flops=knn_flops,
            )
        except ImportError:
            print("(faiss-cpu is not installed: the faiss row is skipped; make bench installs it)")
        from sklearn.cluster import KMeans as SkKMeans

        kx = rng.standard_normal((100_000, 32)).astype(np.float32)
        kinit = kx[:: 100_000 // 16][:16].copy()
        fixed = {"init": kinit, "n_init": 1, "max_iter": 50, "tol": 0.0}
        add(
            "kmeans (1e5, 32) f32, k=16, 50 iter, same init",
            lambda: nc.KMeans(16, **fixed).fit(kx),
            lambda: SkKMeans(16, **fixed).fit(kx),
            "sklearn KMeans",
            goal=">=1.5x",
            times=5,
        )
        add(
            "kmeans (1e5, 32) f32, k=16, k-means++, full fit",
            lambda: nc.KMeans(16, random_state=0).fit(kx),
            lambda: SkKMeans(16, random_state=0).fit(kx),
            "sklearn KMeans",
            goal=">=1.5x",
            times=3,
        )
    except ImportError:
        print("(scipy or scikit-learn is not installed: the distance and k-means rows are skipped)")
    add(
        "sum of 10 float64, per call",
        lambda: nc.sum(tiny),
        lambda: np.sum(tiny),
        "np.sum",
        goal=">=1.5x",
        inner=2000,
    )
    top = 7 if quick else 8
    for e in range(3, top + 1):
        a = x64[: 10**e] if 10**e <= n else np.ones(10**e)
        add(
            f"zero-copy view vs copy=True, 1e{e}",
            lambda a=a: nc.sum(a),
            lambda a=a: nc.sum(a, copy=True),
            "nocopy copy=True",
            a.nbytes,
        )
    return rows


def sizes_series(quick: bool) -> dict[str, list[tuple[int, float]]]:
    """Speedups of sum and describe against NumPy at growing sizes, for the chart."""
    repeat = 5 if quick else 9
    series: dict[str, list[tuple[int, float]]] = {"sum": [], "describe": []}
    for e in range(2, 8):
        a = np.random.default_rng(e).standard_normal(10**e)
        inner = max(1, 10**5 // 10**e)
        t, u = alternate(lambda a=a: nc.sum(a), lambda a=a: np.sum(a), repeat, inner)
        series["sum"].append((10**e, u / t))
        t, u = alternate(lambda a=a: nc.describe(a), lambda a=a: numpy_four(a), repeat, inner)
        series["describe"].append((10**e, u / t))
    return series


def plot(path: str, series: dict[str, list[tuple[int, float]]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"--plot needs matplotlib (pip install matplotlib); {path} was not written")
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, points in series.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"nc.{name}")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("elements (float64)")
    ax.set_ylabel("speedup over NumPy")
    ax.set_title(f"nocopy {nc.__version__} on {nc.get_num_threads()} threads")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"chart written to {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nocopy.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer and smaller runs")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--plot", metavar="FILE.png", help="draw speedup against size")
    parser.add_argument("--sweep", action="store_true", help="add the sweep over shapes")
    parser.add_argument("--sweep-only", action="store_true", help="the sweep alone")
    args = parser.parse_args(argv)

    machine = {
        "nocopy": nc.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "threads": nc.get_num_threads(),
        "simd": os.environ.get("NOCOPY_SIMD", "auto"),
    }
    print(", ".join(f"{k} {v}" for k, v in machine.items()))
    bandwidth = probe(200_000_000 if args.quick else 800_000_000, 5)
    print(f"read bandwidth probe: {bandwidth / GB:.1f} GB/s on {nc.get_num_threads()} threads\n")

    cells = []
    if args.sweep or args.sweep_only:
        from nocopy import _sweep

        cells = _sweep.sweep(args.quick)
        print(_sweep.report(cells), "\n")
    if args.sweep_only:
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"machine": machine, "sweep": [asdict(c) | {"ratio": c.ratio}
                                                         for c in cells]}, f, indent=2)  # fmt: skip
        return 0
    rows = workloads(args.quick)
    print(
        f"{'workload':<36} {'nocopy':>11} {'peer':>11} {'speedup':>8} {'goal':>7}  "
        f"{'GB/s':>6} {'probe':>6}  peer"
    )
    for r in rows:
        gbs = r.bytes_read / r.nocopy_s / GB if r.bytes_read else 0.0
        share = f"{r.bytes_read / r.nocopy_s / bandwidth:>5.0%}" if r.bytes_read else "     "
        print(
            f"{r.workload:<36} {r.nocopy_s * 1e3:>9.4f}ms {r.peer_s * 1e3:>9.4f}ms "
            f"{r.speedup:>7.2f}x {r.goal:>7}  {gbs:>6.1f} {share:>6}  {r.peer}"
        )

    peak256, peak512 = fma_peak()
    print(
        f"\nfloat32 FMA probe: {peak256 / GB:.0f} GFLOP/s in 256-bit registers (the GEMM's), "
        f"{peak512 / GB:.0f} in 512-bit; float64 is half"
    )
    print(f"{'workload':<44} {'GFLOP/s':>8} {'of 256':>7} {'of 512':>7} {'peer':>8}")
    for r in rows:
        if r.flops:
            half = 2 if "float64" in r.workload else 1
            gf = r.flops / r.nocopy_s
            # No 512-bit registers (or none the machine lets us use): no share of them.
            of512 = f"{gf * half / peak512:>7.0%}" if peak512 > 0 else f"{'-':>7}"
            print(
                f"{r.workload:<44} {gf / GB:>8.1f} {gf * half / peak256:>7.0%} "
                f"{of512} {r.flops / r.peer_s / GB:>8.1f}  {r.peer}"
            )

    nbytes = 100_000_000 if args.quick else 800_000_000
    size, extra = peak_memory_of_describe(nbytes)
    print(
        f"\npeak memory of describe on a {size / 1e6:.0f} MB array: "
        f"{extra / 1e6:.2f} MB above the input ({extra / size:.2%}; goal < 1%)"
    )
    kmeans_agreement()
    n_base, n_queries = (100_000, 1000) if args.quick else (1_000_000, 10_000)
    knn_base, knn_extra = peak_memory_of_knn(n_base, n_queries)
    print(
        f"peak memory of knn, base {n_base}x128 float32 ({knn_base / 1e6:.0f} MB), "
        f"{n_queries} queries, k=10: {knn_extra / 1e6:.1f} MB above the inputs (goal < 64 MB)"
    )

    series = sizes_series(args.quick) if (args.plot or args.json) else {}
    if args.plot:
        plot(args.plot, series)
    if args.json:
        doc = {
            "machine": machine,
            "read_bandwidth_bytes_per_s": bandwidth,
            "rows": [asdict(r) | {"speedup": r.speedup} for r in rows],
            "describe_peak_extra_bytes": {"input": size, "extra": extra},
            "knn_peak_extra_bytes": {"base": knn_base, "extra": knn_extra},
            "fma_peak_flops": {"256": peak256, "512": peak512},
            "speedup_by_size": series,
            "sweep": [asdict(c) | {"ratio": c.ratio} for c in cells],
        }
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
