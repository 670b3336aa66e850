"""Fixtures of the routing tests: the tiny hand-made street graph."""

from __future__ import annotations

import pytest

from routing.engine.graph import StreetGraph, build_street_graph

from ._graph_data import tiny_graph


@pytest.fixture(scope="module")
def tiny() -> StreetGraph:
    """The tiny square street graph of :func:`tiny_graph` (module-scoped)."""
    return build_street_graph(tiny_graph(), source="tiny")
