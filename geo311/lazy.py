"""Lazy re-exports for a package's ``__init__`` (PEP 562): a name's module loads on first use.

``geo311``, ``routing`` and ``maps`` re-export their public API this way, so that importing
the package (or one of its modules, e.g. in a worker process) does not load every heavy
dependency::

    _EXPORTS = {"Store": "geo311.db.store", ...}
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

Type checkers see the names through ``if TYPE_CHECKING:`` imports next to the mapping.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a package's module-level ``__getattr__`` and ``__dir__`` for lazy re-exports.

    Parameters
    ----------
    package
        The package's ``__name__`` (it must be imported, as it is while its ``__init__`` runs).
    exports
        Public name -> the module that defines it.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__)``: the first imports a name's module on first use and caches
        the value in the package's namespace (later look-ups do not call it again); the
        second lists the package's own names with the re-exported ones.
    """
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    __getattr__.__doc__ = f"Import a name re-exported by {package} on first use (PEP 562)."
    __dir__.__doc__ = f"List {package}'s own names with the re-exported ones."
    return __getattr__, __dir__
