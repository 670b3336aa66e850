"""The metric coordinate system of a place: the WGS 84 / UTM zone it lies in."""

from __future__ import annotations

__all__ = ["utm_crs"]


def utm_crs(lon: float, lat: float) -> str:
    """Return the WGS 84 / UTM zone CRS (metres) of a point, e.g. ``EPSG:32619`` (zone 19 north).

    Parameters
    ----------
    lon, lat
        The point in degrees (longitude 180 is zone 1, as -180).

    Returns
    -------
    str
        ``EPSG:326zz`` (north) or ``EPSG:327zz`` (south).
    """
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"
