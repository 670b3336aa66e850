"""The address files cities actually have, read as address points for the geocoder.

Besides OSM (:func:`geo311.geocoding.osm.read_address_points`), a city's geocoder takes:

- **OpenAddresses** (https://openaddresses.io, `batch.openaddresses.io`): a CSV with the
  columns ``LON, LAT, NUMBER, STREET, UNIT, CITY, DISTRICT, REGION, POSTCODE``, or its
  GeoJSON lines (one ``Feature`` per line, a ``Point`` and ``number``/``street``/``postcode``
  properties), plain or gzipped;
- **US Census TIGER/Line address ranges** (``ADDRFEAT``: https://www2.census.gov/geo/tiger/,
  one file per county, shapefile ``.shp``/``.zip`` or a GeoPackage ``.gpkg``): street lines
  with ``FULLNAME``, ``LFROMHN``, ``LTOHN``, ``RFROMHN``, ``RTOHN``, ``ZIPL``, ``ZIPR``. Each
  side's range becomes two points, its first and last numbers at the two ends of the line,
  ``TIGER_SIDE_OFFSET_M`` to that side; the geocoder interpolates between them along the
  street, by side and parity (odd and even numbers are on opposite sides);
- **a city's own address-point file**: any CSV whose columns are named in a mapping, as
  ``geo311 import --mapping`` does for requests: ``number``, ``street``, ``lat``, ``lon``
  (``postcode`` optional), or ``address`` (the whole address text, parsed) with ``lat`` and
  ``lon``.

``geo311 city init --addresses FILE`` copies such files into the profile and lists them in
``osm/extracts.toml`` (``[[<extract>.address_files]]`` with ``file``, ``format`` and, for a
city's CSV, ``columns``); see ``data/README.md`` for where a city gets them.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo311.city.crs import utm_crs
from geo311.errors import ConfigurationError, InputError
from geo311.geocoding.osm import OsmAddress, read_address_points

FORMATS = ("osm", "openaddresses", "tiger", "csv")
OPENADDRESSES_COLUMNS = ("LON", "LAT", "NUMBER", "STREET")
TIGER_COLUMNS = ("FULLNAME", "LFROMHN", "LTOHN", "RFROMHN", "RTOHN")
# The columns a city's CSV mapping names: number + street, or address; lat and lon.
MAPPING_KEYS = ("number", "street", "address", "lat", "lon", "postcode")
# How far from the centre line a TIGER range's points go (a house's side of the street).
TIGER_SIDE_OFFSET_M = 10.0
_OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.pbf", ".pbf", ".xml", ".xml.bz2")


@dataclass(frozen=True, slots=True)
class AddressFile:
    """One address file of a city and how to read it.

    Attributes
    ----------
    path
        The file.
    format
        ``osm``, ``openaddresses``, ``tiger`` or ``csv`` (see the module docstring).
    columns
        For ``csv``: mapping key (``number``, ``street``, ``address``, ``lat``, ``lon``,
        ``postcode``) -> the file's column.
    """

    path: Path
    format: str
    columns: Mapping[str, str] = field(default_factory=dict)


def detect_format(path: Path | str, *, columns: Mapping[str, str] | None = None) -> str:
    """Return the format of an address file from its name and header.

    Parameters
    ----------
    path
        The file.
    columns
        A column mapping: the file is then a city's own CSV.

    Returns
    -------
    str
        One of ``FORMATS``.

    Raises
    ------
    InputError
        When the file is none of them; the message names the formats.
    """
    path = Path(path)
    name = path.name.lower()
    if columns:
        return "csv"
    if name.endswith(_OSM_SUFFIXES):
        return "osm"
    if name.endswith((".shp", ".gpkg", ".zip")):
        return "tiger"
    if name.endswith((".geojson", ".geojsonl", ".geojson.gz", ".geojsonl.gz", ".jsonl")):
        return "openaddresses"
    if name.endswith((".csv", ".csv.gz")):
        header = {h.strip().upper() for h in _header(path)}
        if set(OPENADDRESSES_COLUMNS) <= header:
            return "openaddresses"
        raise InputError(
            f"--addresses {path.name}: a CSV without the OpenAddresses columns "
            f"{', '.join(OPENADDRESSES_COLUMNS)}; name its columns with --address-columns "
            "number=...,street=...,lat=...,lon=... (or address=...,lat=...,lon=...)",
            field="addresses",
        )
    raise InputError(
        f"--addresses {path.name} is not an address file geo311 reads: give OSM (.osm, "
        ".osm.bz2, .osm.pbf), OpenAddresses (.csv, .geojson lines), TIGER/Line ADDRFEAT "
        "(.shp, .zip, .gpkg) or a CSV with --address-columns",
        field="addresses",
    )


def parse_columns(text: str) -> dict[str, str]:
    """Read ``number=HOUSE_NO,street=STREET,lat=Y,lon=X`` into a column mapping.

    Parameters
    ----------
    text
        ``key=column`` pairs separated by commas.

    Returns
    -------
    dict
        Mapping key -> column.

    Raises
    ------
    InputError
        For an unknown key or a mapping without the needed keys.
    """
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, column = part.partition("=")
        if not sep or key.strip() not in MAPPING_KEYS or not column.strip():
            raise InputError(
                f"--address-columns {part!r}: write key=column with key one of "
                f"{', '.join(MAPPING_KEYS)}",
                field="address_columns",
            )
        out[key.strip()] = column.strip()
    _check_mapping(out, "--address-columns")
    return out


def _check_mapping(columns: Mapping[str, str], where: str) -> None:
    has_street = ("number" in columns and "street" in columns) or "address" in columns
    if not has_street or "lat" not in columns or "lon" not in columns:
        raise InputError(
            f"{where}: name the columns of number and street (or address), lat and lon, e.g. "
            "number=HOUSE_NO,street=STREET,lat=Y,lon=X",
            field="address_columns",
        )


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.lower().endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115


def _header(path: Path) -> list[str]:
    with _open_text(path) as fh:
        return next(csv.reader(fh), [])


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with _open_text(path) as fh:
        yield from csv.DictReader(fh)


def _point(lon: Any, lat: Any) -> tuple[float, float] | None:
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
        return None
    return (x, y) if (x, y) != (0.0, 0.0) else None


def _address(
    number: Any, street: Any, postcode: Any, xy: tuple[float, float] | None
) -> OsmAddress | None:
    number, street = str(number or "").strip(), str(street or "").strip()
    if xy is None or not number or not street or not any(c.isdigit() for c in number):
        return None
    return OsmAddress(number, street, str(postcode or "").strip(), xy[0], xy[1])


def read_openaddresses(path: Path | str) -> list[OsmAddress]:
    """Read an OpenAddresses CSV or GeoJSON-lines file (see the module docstring).

    Parameters
    ----------
    path
        The file (``.csv``, ``.geojson`` lines; ``.gz`` too).

    Returns
    -------
    list of OsmAddress
        Its address points (rows without a number, a street or a point are left out).
    """
    path = Path(path)
    out = []
    if ".csv" in path.name.lower():
        for row in _rows(path):
            up = {k.strip().upper(): v for k, v in row.items() if k}
            xy = _point(up.get("LON"), up.get("LAT"))
            a = _address(up.get("NUMBER"), up.get("STREET"), up.get("POSTCODE"), xy)
            if a is not None:
                out.append(a)
        return out
    with _open_text(path) as fh:
        for k, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                feature = json.loads(line)
                props = {str(p).lower(): v for p, v in (feature.get("properties") or {}).items()}
                lon, lat = (feature.get("geometry") or {}).get("coordinates", (None, None))[:2]
            except (ValueError, TypeError, AttributeError):
                raise InputError(
                    f"--addresses {path.name} line {k} is not a GeoJSON Point feature; give "
                    "OpenAddresses GeoJSON lines (one feature per line)",
                    field="addresses",
                ) from None
            xy = _point(lon, lat)
            a = _address(props.get("number"), props.get("street"), props.get("postcode"), xy)
            if a is not None:
                out.append(a)
    return out


def read_mapped_csv(path: Path | str, columns: Mapping[str, str]) -> list[OsmAddress]:
    """Read a city's own address-point CSV through a column mapping.

    Parameters
    ----------
    path
        The CSV (``.csv`` or ``.csv.gz``) with a header row.
    columns
        Mapping key -> column (``number`` and ``street``, or ``address``; ``lat``, ``lon``;
        ``postcode`` optional).

    Returns
    -------
    list of OsmAddress
        The address points.

    Raises
    ------
    InputError
        When a mapped column is not in the file; the message lists the file's columns.
    """
    from geo311.geocoding.address import parse_address

    path = Path(path)
    _check_mapping(columns, f"address columns of {path.name}")
    header = _header(path)
    missing = [c for c in columns.values() if c not in header]
    if missing:
        raise InputError(
            f"--addresses {path.name} has no column {', '.join(map(repr, missing))}; its "
            f"columns are {', '.join(header)}",
            field="address_columns",
        )
    out = []
    for row in _rows(path):
        xy = _point(row.get(columns["lon"]), row.get(columns["lat"]))
        postcode = row.get(columns["postcode"], "") if "postcode" in columns else ""
        if "number" in columns and "street" in columns:
            a = _address(row.get(columns["number"]), row.get(columns["street"]), postcode, xy)
        else:
            parsed = parse_address(row.get(columns["address"], "") or "")
            number = parsed.number_low if parsed.kind == "address" else None
            a = _address(number, parsed.street, postcode or parsed.zipcode, xy)
        if a is not None:
            out.append(a)
    return out


def _number(value: Any) -> int | None:
    text = str(value or "").strip()
    digits = "".join(c for c in text if c.isdigit())
    return int(digits) if digits and text[:1].isdigit() else None


def read_tiger(path: Path | str) -> list[OsmAddress]:
    """Read TIGER/Line ADDRFEAT address ranges as points at the ends of each side's range.

    Parameters
    ----------
    path
        Shapefile (``.shp`` or a ``.zip`` of it) or GeoPackage of street lines with
        ``FULLNAME``, ``LFROMHN``, ``LTOHN``, ``RFROMHN``, ``RTOHN`` (``ZIPL``/``ZIPR``
        optional).

    Returns
    -------
    list of OsmAddress
        Two points per side range (its first and last numbers), ``TIGER_SIDE_OFFSET_M`` to
        that side of the line, in EPSG:4326.

    Raises
    ------
    InputError
        When the file cannot be read or lacks the columns.
    """
    import geopandas as gpd

    path = Path(path)
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - GDAL raises many kinds
        raise InputError(
            f"--addresses {path.name} cannot be read as TIGER/Line ADDRFEAT ({exc}); give the "
            "county's ADDRFEAT shapefile, its .zip or a GeoPackage",
            field="addresses",
        ) from None
    frame.columns = [c.upper() if c != "geometry" else c for c in frame.columns]
    missing = [c for c in TIGER_COLUMNS if c not in frame.columns]
    if missing or frame.crs is None or frame.empty:
        raise InputError(
            f"--addresses {path.name} lacks the ADDRFEAT columns {', '.join(missing) or 'CRS'}; "
            "give a TIGER/Line ADDRFEAT file",
            field="addresses",
        )
    lonlat = frame.to_crs("EPSG:4326")
    c = lonlat.geometry.union_all().centroid
    metric = lonlat.to_crs(utm_crs(float(c.x), float(c.y)))
    out: list[OsmAddress] = []
    for row, line in zip(frame.itertuples(index=False), metric.geometry, strict=True):
        out.extend(_tiger_points(row, line, metric.crs))
    return out


def _tiger_points(row: Any, line: Any, crs: Any) -> list[OsmAddress]:
    """Return the two ends of each side's range of one ADDRFEAT line, in EPSG:4326."""
    from pyproj import Transformer

    if line is None or line.is_empty or not str(row.FULLNAME or "").strip():
        return []
    if line.geom_type == "MultiLineString":
        import shapely

        line = shapely.line_merge(line)
        if line.geom_type != "LineString":
            line = max(line.geoms, key=lambda g: g.length)
    to_wgs = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    out = []
    for side, sign in (("L", 1.0), ("R", -1.0)):
        first, last = _number(getattr(row, f"{side}FROMHN")), _number(getattr(row, f"{side}TOHN"))
        if first is None or last is None:
            continue
        postcode = str(getattr(row, f"ZIP{side}", "") or "")
        shifted = line.offset_curve(sign * TIGER_SIDE_OFFSET_M)
        if shifted.is_empty or shifted.geom_type != "LineString":
            shifted = line
        # offset_curve keeps the direction of the line (shapely >= 2), left or right.
        for n, at in ((first, 0.0), (last, 1.0)):
            p = shifted.interpolate(at, normalized=True)
            lon, lat = to_wgs.transform(p.x, p.y)
            out.append(OsmAddress(str(n), str(row.FULLNAME).strip(), postcode, lon, lat))
    return out


def read_address_file(spec: AddressFile) -> list[OsmAddress]:
    """Read one address file of any supported format.

    Parameters
    ----------
    spec
        The file, its format and (for ``csv``) its columns.

    Returns
    -------
    list of OsmAddress
        Its address points (EPSG:4326).
    """
    if not spec.path.is_file():
        raise InputError(
            f"address file {str(spec.path)!r} does not exist; fix the path in extracts.toml",
            field="addresses",
        )
    if spec.format == "osm":
        return read_address_points(spec.path)
    if spec.format == "openaddresses":
        return read_openaddresses(spec.path)
    if spec.format == "tiger":
        return read_tiger(spec.path)
    return read_mapped_csv(spec.path, spec.columns)


def address_file_entries(raw: Any, folder: Path, where: Path) -> tuple[AddressFile, ...]:
    """Read the ``address_files`` list of an extract's entry in ``extracts.toml``.

    Parameters
    ----------
    raw
        The entry's ``address_files`` value (a list of tables), or ``None``.
    folder
        The folder the files are relative to (``<data_dir>/osm``).
    where
        The ``extracts.toml`` path (for messages).

    Returns
    -------
    tuple of AddressFile
        The files.

    Raises
    ------
    ConfigurationError
        When an item has no ``file`` or an unknown ``format``.
    """
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if not isinstance(item, dict) or "file" not in item:
            raise ConfigurationError(
                f"{where}: each address_files item needs a file (and a format)", field="extract"
            )
        path = folder / str(item["file"])
        columns = {str(k): str(v) for k, v in (item.get("columns") or {}).items()}
        fmt = str(item.get("format") or detect_format(path, columns=columns))
        if fmt not in FORMATS:
            raise ConfigurationError(
                f"{where}: address file {item['file']!r} has format {fmt!r}; use one of "
                f"{', '.join(FORMATS)}",
                field="extract",
            )
        out.append(AddressFile(path, fmt, columns))
    return tuple(out)


__all__ = [
    "FORMATS",
    "AddressFile",
    "address_file_entries",
    "detect_format",
    "parse_columns",
    "read_address_file",
    "read_mapped_csv",
    "read_openaddresses",
    "read_tiger",
]
