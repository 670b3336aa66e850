"""The public API: every name geo311 exports is importable from the package itself."""

from __future__ import annotations

import importlib

import pytest

import geo311


@pytest.mark.parametrize("name", [n for n in geo311.__all__ if n != "__version__"])
def test_every_exported_name_is_the_defining_modules_object(name: str) -> None:
    exported = getattr(geo311, name)
    module = importlib.import_module(geo311._EXPORTS[name])
    assert exported is getattr(module, name)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        geo311.no_such_thing  # noqa: B018


def test_all_lists_every_export() -> None:
    assert set(geo311.__all__) == {"__version__", *geo311._EXPORTS}
