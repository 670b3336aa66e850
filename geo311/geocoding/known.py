"""Read a city's own located reports (a CSV export) as known house-number points.

A city's 311 export carries, for most reports, the address text and the point the city's
own system placed it at. Those points are the city's data, not geo311's answers; the
geocoder uses the single-number ones as address points where OpenStreetMap has none (see
:meth:`geo311.geocoding.geocoder.Geocoder.with_known_addresses`). Which file and which columns is
data: the ``known_addresses`` table of an extract in ``data/osm/extracts.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo311.errors import ConfigurationError, InputError

# Column names tried, in order, when a city's CSV is given without naming its columns.
ADDRESS_COLUMNS = ("address", "location", "full_address", "street_address")
LAT_COLUMNS = ("lat", "latitude", "y")
LON_COLUMNS = ("lon", "long", "longitude", "lng", "x")


@dataclass(frozen=True, slots=True)
class KnownAddresses:
    """Where an extract's known addresses are: a CSV file and its three columns.

    Attributes
    ----------
    file
        The CSV (``.csv`` or ``.csv.gz``) of located reports.
    address, lat, lon
        The names of its address-text, latitude and longitude columns (degrees, EPSG:4326).
    """

    file: Path
    address: str
    lat: str
    lon: str


def known_addresses_entry(raw: Any, folder: Path, where: Path) -> KnownAddresses | None:
    """Return the ``known_addresses`` table of an extract entry, or ``None`` when absent.

    Parameters
    ----------
    raw
        The table (``{file, address, lat, lon}``) or ``None``.
    folder
        The folder the file name is relative to (``data/osm``).
    where
        The TOML file, for error messages.

    Returns
    -------
    KnownAddresses or None
        The file and columns.

    Raises
    ------
    ConfigurationError
        When the table lacks one of its four keys.
    """
    if raw is None:
        return None
    missing = [
        k for k in ("file", "address", "lat", "lon") if not isinstance(raw, dict) or k not in raw
    ]
    if missing:
        raise ConfigurationError(
            f"{where}: known_addresses needs {', '.join(missing)}; give the CSV file and "
            "its address, lat and lon column names",
            field="known_addresses",
        )
    return KnownAddresses(
        folder / str(raw["file"]), str(raw["address"]), str(raw["lat"]), str(raw["lon"])
    )


def guess_columns(path: Path | str) -> tuple[str, str, str]:
    """Return the address, latitude and longitude column names of a city's CSV export.

    Parameters
    ----------
    path
        The CSV (``.csv`` or ``.csv.gz``) with a header row.

    Returns
    -------
    (str, str, str)
        The column names as written in the file (matched without regard to case).

    Raises
    ------
    InputError
        When the file cannot be read or one of the three is not found; the message lists
        the file's columns.
    """
    try:
        header = list(pd.read_csv(path, nrows=0).columns)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{Path(path).name} is not a readable CSV with a header row ({exc}); pass the "
            "city's export of located reports",
            field="located_reports",
        ) from None
    lower = {str(c).strip().lower(): str(c) for c in header}
    found: list[str] = []
    for what, names in (("address", ADDRESS_COLUMNS), ("lat", LAT_COLUMNS), ("lon", LON_COLUMNS)):
        hit = next((lower[n] for n in names if n in lower), None)
        if hit is None:
            raise InputError(
                f"{Path(path).name} has no {what} column (tried {', '.join(names)}; it has "
                f"{', '.join(map(str, header))}); rename the column",
                field="located_reports",
            )
        found.append(hit)
    return found[0], found[1], found[2]


def read_known_addresses(
    spec: KnownAddresses, *, is_placeholder: Any = None
) -> tuple[list[str], list[float], list[float]]:
    """Read the located reports: address text and coordinates of the rows that have both.

    Parameters
    ----------
    spec
        The file and its columns.
    is_placeholder
        ``(lat, lon) -> bool``: the city's "no location" points to leave out (e.g. City
        Hall, which a city's export puts reports without a location on).

    Returns
    -------
    (list of str, list of float, list of float)
        Addresses, latitudes and longitudes, in file order.

    Raises
    ------
    ConfigurationError
        When the file or one of the columns is missing.
    """
    if not spec.file.is_file():
        raise ConfigurationError(
            f"known_addresses file {spec.file} does not exist; fix the path in "
            "osm/extracts.toml or remove the known_addresses table",
            field="known_addresses",
        )
    columns = [spec.address, spec.lat, spec.lon]
    try:
        frame = pd.read_csv(spec.file, usecols=columns, dtype={spec.address: str})
    except ValueError as exc:
        raise ConfigurationError(
            f"known_addresses file {spec.file.name}: {exc}; name its address, lat and lon "
            "columns in osm/extracts.toml",
            field="known_addresses",
        ) from None
    lat = pd.to_numeric(frame[spec.lat], errors="coerce").to_numpy(float)
    lon = pd.to_numeric(frame[spec.lon], errors="coerce").to_numpy(float)
    keep = frame[spec.address].notna().to_numpy() & np.isfinite(lat) & np.isfinite(lon)
    if is_placeholder is not None:
        keep &= ~np.array([bool(is_placeholder(a, b)) for a, b in zip(lat, lon, strict=True)])
    return (
        frame[spec.address][keep].astype(str).tolist(),
        lat[keep].tolist(),
        lon[keep].tolist(),
    )
