"""The docstring examples of the edge code run as written (they are the quickest way to learn a module)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import detector

# modules that need the train extra's heavy imports or write files as a side effect are left to their own tests
SKIP_PREFIXES = ("detector.training", "detector.__main__")
MODULES = sorted(m.name for m in pkgutil.walk_packages(detector.__path__, "detector.")
                 if not m.name.startswith(SKIP_PREFIXES))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring examples failed"
