"""Former home of the shared map pieces, now the public :mod:`maps.base`.

Kept only while ``api/_plans.py`` still imports ``base_map`` from here; import from
``maps.base`` instead.
"""

from __future__ import annotations

from maps.base import (
    OSM_ATTRIBUTION,
    OSM_TILES,
    BulkMarkerCluster,
    Legend,
    add_boundary,
    base_map,
    fa_class,
    write_map,
)

__all__ = [
    "OSM_ATTRIBUTION",
    "OSM_TILES",
    "BulkMarkerCluster",
    "Legend",
    "add_boundary",
    "base_map",
    "fa_class",
    "write_map",
]
