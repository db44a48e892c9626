"""The `nocopy` command on hostile files and options: a one-line error (exit 1, or 2 for usage)
or NumPy's answer, under a memory cap and a timeout -- never an abort, a hang, a panic's text
or a reading NumPy would not make."""

from __future__ import annotations

import json
import random
import resource
import struct
import subprocess
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_cli import CLI

#: The address space the command may use.
MEMORY_CAP = 2 << 30


def cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run(*args: str | Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [CLI, *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=cap_memory,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"hang: nocopy {' '.join(map(str, args))}")


def assert_clean(
    out: subprocess.CompletedProcess[str], codes: set[int] = frozenset({0, 1})
) -> None:
    """Exit 0, or the given error codes with one line on stderr, never a crash or panic text."""
    assert out.returncode in codes, (out.returncode, out.stderr[-500:])
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        if out.returncode == 1:
            assert len(lines) == 1, out.stderr
        assert "panicked" not in out.stderr and "internal error" not in out.stderr, out.stderr
        assert "RUST_BACKTRACE" not in out.stderr


def npy(header: str, data: bytes = b"", version: int = 1) -> bytes:
    """A .npy file with this header dict text (padded as NumPy pads) and data."""
    h = header.encode("latin1")
    prefix = 10 if version == 1 else 12
    h += b" " * ((-(prefix + len(h) + 1)) % 64) + b"\n"
    size = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + size + h + data


HUGE_SHAPES = {
    "empty-rows": "(0, 1099511627776)",
    "empty-columns": "(1099511627776, 0)",
    "million-rows-no-columns": "(1048576, 0)",
    "zero-d-of-nothing": "(0,)",
}

COMMANDS = [
    ("inspect", "{f}"),
    ("describe", "{f}"),
    ("describe", "{f} --axis 0"),
    ("describe", "{f} --axis 1 --json"),
    ("quantile", "{f} -q 0.5 --axis 0"),
    ("quantile", "{f} -q 0.5 --axis 1"),
    ("hist", "{f} --bins 10"),
    ("scale", "{f} -o {o}.npy"),
    ("cdist", "{f} {f} -o {o}.npy"),
    ("knn", "{f} {f} -k 1 -o {o}.npz"),
    ("kmeans", "{f} -k 2 -o {o}.npy"),
    ("move", "mean {f} --window 2 --axis 0 -o {o}.npy"),
]


@pytest.mark.parametrize("shape", HUGE_SHAPES)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: f"{c[0]} {c[1]}")
def test_every_command_refuses_outputs_it_cannot_have_at_once(tmp_path, shape, command):
    f = tmp_path / "h.npy"
    f.write_bytes(
        npy(f"{{'descr': '<f8', 'fortran_order': False, 'shape': {HUGE_SHAPES[shape]}, }}")
    )
    name, args = command
    out = run(name, *args.format(f=f, o=tmp_path / "out").split(), timeout=20)
    assert_clean(out)


@pytest.mark.parametrize(
    "args",
    [
        "hist {x} --bins 4294967295",
        "hist {x} --bins 4294967295 --json",
        "hist {x} --bins 100000000 --range 0 1e-300",
        "knn {x} {x} -k 1099511627776 -o {o}.npz",
        "knn {x} {x} -k 4611686018427387904 -o {o}.npz",
        "kmeans {x} -k 1099511627776 -o {o}.npy",
        "move median {x} --window 1099511627776 -o {o}.npy",
        "describe {x} --threads 4294967295",
        "quantile {x} -q 1e300",
    ],
)
def test_numeric_options_are_checked_against_what_can_be_done(tmp_path, args):
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(0).standard_normal((100, 4)))
    start = time.perf_counter()
    out = run(*args.format(x=x, o=tmp_path / "out").split())
    assert_clean(out, {1, 2})
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(
    ("args", "numpy"),
    [
        ("describe {x} --ddof -1 --json", lambda a: np.var(a, ddof=-1)),
        ("quantile {x} -q -0.1", None),
        ("cdist {x} {x} --metric minkowski --p -1 -o {o}.npy", None),
        ("kmeans {x} -k 2 --tol -1 -o {o}.npy", None),
        ("move mean {x} --window -2 -o {o}.npy", None),
    ],
)
def test_negative_numbers_are_values_then_checked(tmp_path, args, numpy):
    x = tmp_path / "x.npy"
    a = np.random.default_rng(0).standard_normal((100, 4))
    np.save(x, a)
    out = run(*args.format(x=x, o=tmp_path / "out").split())
    if numpy is None:
        # Refused by the check of the value (exit 1), not by the argument parser (exit 2).
        assert out.returncode == 1, out.stderr
        assert "tip" not in out.stderr
    else:
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["stats"]["var"] == pytest.approx(numpy(a), rel=1e-12)


# -- the .npy header, read as NumPy reads it or refused ------------------------------------------


def numpy_reading(path: Path) -> tuple[str, list[int], bool] | None:
    """(descr, shape, fortran_order) as NumPy reads the file, or None when it refuses it."""
    import warnings

    from numpy.lib import _format_impl as npformat

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.load(path, mmap_mode="r")  # the data must be there too
            with open(path, "rb") as fp:
                version = npformat.read_magic(fp)
                shape, fortran, dtype = npformat._read_array_header(fp, version)
    except Exception:
        return None
    return dtype.str, list(shape), bool(fortran)


def nocopy_reading(path: Path) -> tuple[str, list[int], bool] | None:
    out = run("inspect", path, "--json")
    assert_clean(out)
    if out.returncode != 0:
        return None
    doc = json.loads(out.stdout)
    return np.dtype(doc["descr"]).str, doc["shape"], doc["order"] == "Fortran"


def test_a_repeated_key_reads_as_numpy_reads_it(tmp_path):
    data = np.arange(3, dtype="<i8").tobytes()
    for header in (
        "{'descr': '<f8', 'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
        "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), 'shape': (2,), }",
    ):
        f = tmp_path / "dup.npy"
        f.write_bytes(npy(header, data))
        assert nocopy_reading(f) == numpy_reading(f)
        out = run("describe", f, "--json")
        assert json.loads(out.stdout)["stats"]["max"] == float(np.load(f).max())


HEADER_PIECES = {
    "descr": ["'<f8'", "'<i8'", "'>i4'", "'|b1'", "'<u2'", "'<f2'", '"<f4"', "'f8'", "'<f08'",
              "'<f+8'", "'float64'", "'<c16'", "[('a', '<f8')]", "'<f8' 'x'", "'<f8\\n'", "8",
              "'<b'", "'=i2'"],
    "fortran_order": ["False", "True", "1", "Tru", "false", "None"],
    "shape": ["(3,)", "(2, 3)", "()", "(0,)", "(3)", "[3]", "(3L,)", "(-1,)", "(007,)", "(3,,)",
              "(1_0,)", "( 2 ,3 ,)", "(2**3,)", "(99999999999999999999999,)", "(2, 3, 0, 5)",
              "(True,)", "(0x3,)"],
}  # fmt: skip


VALID = {
    "descr": ["'<f8'", "'<i8'", "'>i4'", "'|b1'", "'<u2'", "'<f2'", "'>f8'"],
    "fortran_order": ["False", "True"],
    "shape": ["(3,)", "(2, 3)", "()", "(0,)", "(2, 3, 0, 5)", "(4, 2)"],
}


def mutated_header(rng: random.Random) -> str:
    """A header dict with each value drawn from likely and unlikely spellings, keys sometimes
    repeated, missing, extra or reordered, and the text sometimes mutated byte by byte."""
    keys = ["descr", "fortran_order", "shape"]
    rng.shuffle(keys)

    def value(k: str) -> str:
        # Mostly spellings NumPy writes, so that many files are read by both.
        return rng.choice(VALID[k] if rng.random() < 0.75 else HEADER_PIECES[k])

    items = [f"'{k}': {value(k)}" for k in keys]
    if rng.random() < 0.2:
        k = rng.choice(keys)
        items.insert(rng.randrange(len(items) + 1), f"'{k}': {value(k)}")
    if rng.random() < 0.1:
        items.pop(rng.randrange(len(items)))
    if rng.random() < 0.1:
        items.append("'extra': 1")
    text = "{" + ", ".join(items) + (", }" if rng.random() < 0.7 else "}")
    if rng.random() < 0.2:
        pos = rng.randrange(len(text))
        text = text[:pos] + rng.choice(" \t\n#'\",:()[]{}0L-x\x00") + text[pos + 1 :]
    return text


def test_mutated_headers_are_read_as_numpy_reads_them_or_refused(tmp_path):
    rng = random.Random(14)
    tried = agreed = refused = 0
    for i in range(400):
        header = mutated_header(rng)
        version = rng.choice([1, 1, 2, 3])
        f = tmp_path / f"m{i % 8}.npy"
        f.write_bytes(npy(header, bytes(range(256)) * 4, version))
        ours, theirs = nocopy_reading(f), numpy_reading(f)
        tried += 1
        if ours is None:
            refused += 1
            continue
        # Whatever nocopy reads, NumPy reads the same way.
        assert ours == theirs, (header, version, ours, theirs)
        agreed += 1
    assert tried == 400 and agreed > 50


def test_npz_members_with_lying_sizes_and_repeated_names(tmp_path):
    import warnings

    f = tmp_path / "z.npz"
    first = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", b"\0" * 16)
    second = npy("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", b"\1" + b"\0" * 7)
    with zipfile.ZipFile(f, "w") as z, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the repeated name
        z.writestr("a.npy", first)
        z.writestr("a.npy", second)
    out = run("describe", f"{f}:a", "--json")
    assert_clean(out)
    # Python's zipfile (and so np.load) takes the last entry of a repeated name.
    assert json.loads(out.stdout)["dtype"] == np.load(f)["a"].dtype.name
    # A member whose directory claims more bytes than it holds.
    raw = bytearray(f.read_bytes())
    at = raw.rfind(b"PK\x01\x02")
    raw[at + 24 : at + 28] = struct.pack("<I", 1 << 31)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(raw))
    assert_clean(run("describe", f"{bad}:a"))
