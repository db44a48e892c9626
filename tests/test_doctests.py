"""Every docstring example of the public API runs and shows what it says."""

from __future__ import annotations

import doctest

import pytest

import nocopy as nc

PUBLIC = [getattr(nc, name) for name in nc.__all__ if callable(getattr(nc, name))]


@pytest.mark.parametrize("obj", PUBLIC, ids=lambda o: o.__name__)
def test_docstring_examples(obj):
    finder = doctest.DocTestFinder(recurse=False)
    tests = finder.find(obj, obj.__name__, globs={})
    examples = [t for t in tests if t.examples]
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for t in examples:
        runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.failed == 0
    if obj.__name__[0].islower():
        assert examples, f"{obj.__name__} has no example in its docstring"


def test_every_public_name_is_documented():
    for name in nc.__all__:
        assert getattr(nc, name).__doc__, name
