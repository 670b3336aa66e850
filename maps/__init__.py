"""geo311 maps: Folium maps that work with no network.

Public modules: :mod:`maps.base` (base map, legend, district outline, ``write_map``),
:mod:`maps.assets` (the vendored browser assets and the rewriting of folium's CDN links),
:mod:`maps.openwork`, :mod:`maps.hotspots`, :mod:`maps.routes`, :mod:`maps.cli`.
"""
