"""The lazy re-exports of geo311, routing and maps (one helper: geo311.lazy.lazy_exports)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from types import ModuleType

import pytest

import geo311
import maps
import routing

PACKAGES = [geo311, routing, maps]


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_every_re_export_is_its_modules_object_and_listed(package: ModuleType) -> None:
    exports = package._EXPORTS
    assert set(package.__all__) - {"__version__"} == set(exports)
    for name, module in exports.items():
        # a re-export named like its own module would be shadowed by that module once imported
        assert module != f"{package.__name__}.{name}"
        assert getattr(package, name) is getattr(importlib.import_module(module), name)
        assert name in dir(package)
        assert name in vars(package)  # cached after the first look-up


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_an_unknown_name_is_an_attribute_error_naming_the_package(package: ModuleType) -> None:
    with pytest.raises(
        AttributeError, match=rf"module '{package.__name__}' has no attribute 'nope'"
    ):
        package.nope  # noqa: B018
    assert not hasattr(package, "solve_everything")


def test_importing_the_packages_loads_none_of_the_heavy_modules() -> None:
    code = (
        "import sys, geo311, routing, maps\n"
        "heavy = ('geo311.db.store', 'sqlalchemy', 'pandas', 'routing.engine.graph', 'numba', 'folium')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "routing.PlanDocument\n"
        "print('geo311.plans.document' in sys.modules, 'folium' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "True False"
