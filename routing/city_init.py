"""Onboarding a city from an OSM file: ``geo311 city init DIR --name NAME --osm FILE --timezone TZ``.

:func:`init_city` writes a city profile folder that can be planned at once: ``city.toml``
(name, jurisdiction, time zone, units — ``--units``, else imperial for a time zone of the
United States and metric elsewhere —, service area from the streets, the files below, the
street graph's metric CRS), ``osm/`` (the streets and address files, copied, and the
geocoder's ``extracts.toml``; with ``--located-reports`` the city's own CSV of located
reports is copied too and named there as the geocoder's known addresses), ``services.toml`` (a copy of the embedded catalogue),
``crews.toml`` (the embedded default crews at one **assumed** yard per district, on its
central street node), ``districts.geojson`` (the given districts, or one district around the streets), and
``cache/`` (the street graph and geocoder index, built now). It returns what a person
should edit next.
"""

from __future__ import annotations

import bz2
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import shapely
from shapely.geometry import MultiPoint, mapping

from geo311.city.crs import utm_crs
from geo311.city.districts import District, Districts, load_districts
from geo311.city.profile import UNITS
from geo311.errors import InputError
from geo311.geocoding.sources import AddressFile
from geo311.settings import REPO_DATA_DIR
from routing.engine.graph import StreetGraph, load_street_graph

__all__ = ["CityInit", "InitOptions", "default_units", "init_city"]

# Countries (ISO 3166) whose road distances are in miles and feet; elsewhere metric.
IMPERIAL_COUNTRIES = frozenset({"US"})

_OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.pbf", ".xml", ".xml.bz2")


@dataclass
class CityInit:
    """What :func:`init_city` wrote.

    Attributes
    ----------
    folder : Path
        The profile folder.
    graph : StreetGraph
        The street graph built (cached in ``folder/cache``).
    yards : dict
        District name -> ``(osm node, lat, lon)`` of its assumed yard.
    districts : list of str
        The districts' names.
    files : list of Path
        The files written.
    next_steps : list of str
        What a person should edit next.
    """

    folder: Path
    graph: StreetGraph
    yards: dict[str, tuple[int, float, float]]
    districts: list[str]
    files: list[Path] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)


def _check_osm(path: Path, arg: str) -> None:
    """Refuse a missing file or one that is not OSM XML / PBF, naming ``arg`` and the fix."""
    if not path.is_file():
        raise InputError(f"{arg} {path} does not exist; give an OSM extract", field=arg)
    name = path.name.lower()
    if not name.endswith(_OSM_SUFFIXES):
        raise InputError(
            f"{arg} {path} is not an OSM file; give a .osm, .osm.bz2 or .osm.pbf extract "
            "(e.g. from Overpass or Geofabrik)",
            field=arg,
        )
    if name.endswith(".pbf"):
        return
    try:
        opener = bz2.open if name.endswith(".bz2") else open
        with opener(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise InputError(
            f"{arg} {path} cannot be read ({exc}); give an OSM extract", field=arg
        ) from None
    if b"<osm" not in head:
        raise InputError(
            f"{arg} {path} is not OSM XML (no <osm> element); give a .osm, .osm.bz2 or "
            ".osm.pbf extract",
            field=arg,
        )


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"--timezone {name!r} is not an IANA time zone; use e.g. America/Los_Angeles",
            field="timezone",
        ) from None


def _zone_countries() -> dict[str, str]:
    """IANA time zone -> ISO country code, from the time zone database's ``zone.tab``."""
    from importlib import resources

    try:
        text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    except (ModuleNotFoundError, OSError):
        try:
            text = Path("/usr/share/zoneinfo/zone.tab").read_text(encoding="utf-8")
        except OSError:
            return {}
    rows = (line.split("\t") for line in text.splitlines() if line and line[0] != "#")
    return {r[2]: r[0] for r in rows if len(r) >= 3}


def default_units(timezone: str) -> str:
    """Return the units a city's maps and itineraries use by default, from its time zone.

    Parameters
    ----------
    timezone
        IANA time zone of the city.

    Returns
    -------
    str
        ``"imperial"`` (feet / miles) for a time zone of a country in
        ``IMPERIAL_COUNTRIES`` (the United States), else ``"metric"`` (metres / km).
    """
    return "imperial" if _zone_countries().get(timezone) in IMPERIAL_COUNTRIES else "metric"


def default_locale(timezone: str) -> str:
    """Return a city's default locale from its time zone: its country's main official language.

    Parameters
    ----------
    timezone
        IANA time zone of the city.

    Returns
    -------
    str
        E.g. ``"en_US"`` for America/Chicago, ``"fi_FI"`` for Europe/Helsinki (the CLDR's most
        spoken official language of the country); ``"en_US"`` when the zone has no country.
    """
    from babel.core import get_global

    country = _zone_countries().get(timezone, "")
    spoken = dict(get_global("territory_languages")).get(country, {})
    official = {
        lang: float(facts.get("population_percent", 0))
        for lang, facts in spoken.items()
        if "official" in str(facts.get("official_status", ""))
    }
    if not official:
        return "en_US"
    best = max(official, key=lambda lang: official[lang])
    return f"{best}_{country}"


def _check_locale(locale: str) -> str:
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(locale))
    except (UnknownLocaleError, ValueError):
        raise InputError(
            f"--locale {locale!r} is not a known locale; use e.g. en_US, es_MX or fi_FI",
            field="locale",
        ) from None


def _spoken() -> tuple[str, ...]:
    from geo311.i18n import available_languages

    return available_languages()


def _languages_line(locale: str) -> str:
    from geo311.i18n import SOURCE_LANGUAGE, available_languages

    language = locale.split("_")[0]
    own = language if language in available_languages() else SOURCE_LANGUAGE
    return f"languages = [{json.dumps(own)}]"


def _check_units(units: str) -> None:
    if units not in UNITS:
        raise InputError(
            f"--units {units!r} is not one of {', '.join(UNITS)}; use imperial (feet / miles) "
            "or metric (metres / km)",
            field="units",
        )


def _copy_located(root: Path, located: str | Path | None) -> tuple[str, ...]:
    """Copy the city's CSV of located reports into the profile; its name and columns."""
    if located is None:
        return ()
    from geo311.geocoding.batch import located_report_columns

    src = Path(located)
    if not src.is_file():
        raise InputError(
            f"--located-reports {str(src)!r} does not exist; pass the city's CSV export of "
            "reports with address, lat and lon columns",
            field="located_reports",
        )
    columns = located_report_columns(src)
    if src.resolve() != (root / src.name).resolve():
        shutil.copyfile(src, root / src.name)
    return (src.name, *columns)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "city"


def _load_graph(streets: Path, cache: Path, crs: str) -> StreetGraph:
    try:
        graph = load_street_graph(streets, cache_dir=cache, metric_crs=crs)
    except (InputError, ValueError) as exc:
        raise InputError(
            f"--osm {streets.name}: {exc}; give an extract that holds drivable streets",
            field="osm",
        ) from None
    if graph.summary.nodes < 2:
        raise InputError(
            f"--osm {streets.name} is an empty extract (no connected drivable streets); "
            "give a larger area",
            field="osm",
        )
    return graph


def _districts(given: Path | None, name: str, graph: StreetGraph) -> Districts:
    """Return the districts given (each must cover streets), else one around the streets."""
    pts = shapely.points(graph.node_lon, graph.node_lat)
    if given is None:
        hull = MultiPoint(list(zip(graph.node_lon, graph.node_lat, strict=True))).convex_hull
        hull = hull.buffer(0.001)
        return Districts([District(name, hull)], source="the streets' outline")
    districts = load_districts(given)
    empty = [d.name for d in districts if not np.any(shapely.contains(d.geometry, pts))]
    if empty:
        raise InputError(
            f"--districts {given}: {empty} hold no street of the extract (outside the streets); "
            "give districts inside the --osm area, in EPSG:4326 (longitude, latitude)",
            field="districts",
        )
    return districts


def _write_districts(districts: Districts, path: Path) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": d.name}, "geometry": mapping(d.geometry)}
            for d in districts
        ],
    }
    path.write_text(json.dumps(doc) + "\n", encoding="utf-8")


def _crews_toml(timezone: str, yards: dict[str, tuple[int, float, float]]) -> str:
    """Return the crew file: the embedded crews at one assumed yard per district."""
    embedded = (REPO_DATA_DIR / "crews.toml").read_text(encoding="utf-8")
    first = re.search(r"^\[crews\.", embedded, flags=re.M)
    crews = embedded[first.start() :] if first else ""
    parts = [
        "# Crews and yards of this city, written by `geo311 city init`. The yards are ASSUMED:\n"
        "# a central street node of each district. Move them to the real depots and edit the\n"
        "# crews (geo311's defaults, copied once per district's yard).\n\n"
        f'timezone = "{timezone}"\n'
    ]
    for k, (district, (node, lat, lon)) in enumerate(yards.items()):
        yard_id = "yard" if len(yards) == 1 else f"yard-{k + 1}"
        parts.append(
            f"\n[yards.{yard_id}]\n"
            f"district = {json.dumps(district)}\n"
            f'label = "Assumed yard: central street node {node}"\n'
            "assumed = true\n"
            f'note = "assumed: written by geo311 city init at the street node nearest the middle '
            f"of the district (OSM node {node}); replace it with the city's depot\"\n"
            f"lat = {lat:.7f}\nlon = {lon:.7f}\nosm_node = {node}\n"
            'open = "06:30"\nclose = "17:00"\n'
        )
        ours = crews if len(yards) == 1 else _crews_at(crews, yard_id, k + 1)
        parts.append("\n" + ours)
    return "".join(parts)


def _crews_at(crews: str, yard_id: str, k: int) -> str:
    """Return the crews' tables with ids suffixed ``-k`` starting and ending at ``yard_id``."""
    text = re.sub(r"^\[crews\.([A-Za-z0-9_-]+)\]", rf"[crews.\g<1>-{k}]", crews, flags=re.M)
    text = re.sub(r'^(start_yard|end_yard) = "yard"', rf'\g<1> = "{yard_id}"', text, flags=re.M)
    return re.sub(r'^label = "(.*)"', rf'label = "\g<1> ({yard_id})"', text, flags=re.M)


def _yards(graph: StreetGraph, areas: Districts) -> dict[str, tuple[int, float, float]]:
    """Return, per district, the street node nearest the middle of its streets."""
    pts = shapely.points(graph.node_lon, graph.node_lat)
    out = {}
    for d in areas:
        inside = np.flatnonzero(shapely.contains(d.geometry, pts))
        lat0, lon0 = np.median(graph.node_lat[inside]), np.median(graph.node_lon[inside])
        k = np.cos(np.radians(lat0))
        d2 = (graph.node_lat[inside] - lat0) ** 2 + ((graph.node_lon[inside] - lon0) * k) ** 2
        i = int(inside[int(np.argmin(d2))])
        out[d.name] = (int(graph.node_ids[i]), float(graph.node_lat[i]), float(graph.node_lon[i]))
    return out


def _attributes_toml() -> str:
    embedded = (REPO_DATA_DIR / "city.toml").read_text(encoding="utf-8")
    at = embedded.find("[[attributes.")
    # the embedded city's own texts in other languages ([translations.LANG]) are not a new city's
    end = embedded.find("\n# The city's own texts", at)
    return embedded[at : end if end >= 0 else None] if at >= 0 else ""


@dataclass(frozen=True)
class _ProfileFacts:
    """What ``city.toml`` says of a city: its names, clock, units and street files."""

    name: str
    jurisdiction: str
    timezone: str
    graph: StreetGraph
    streets: str
    addresses: str
    crs: str
    units: str
    locale: str = "en_US"


def _city_toml(facts: _ProfileFacts) -> str:
    name, jurisdiction, timezone, graph = (
        facts.name,
        facts.jurisdiction,
        facts.timezone,
        facts.graph,
    )
    streets, addresses, crs, units = facts.streets, facts.addresses, facts.crs, facts.units
    south, west, north, east = graph.summary.bbox
    lines = [
        f"# The city profile of {name}, written by `geo311 city init`; edit it freely.",
        f"name = {json.dumps(name)}",
        f"jurisdiction_id = {json.dumps(jurisdiction)}",
        f"agency = {json.dumps(name + ' Public Works')}",
        f'timezone = "{timezone}"',
        f'units = "{units}"',
        "# How dates and numbers are written (a CLDR locale), and the interface languages",
        f"# offered to citizens, the default first (geo311 speaks: {', '.join(_spoken())}).",
        f'locale = "{facts.locale}"',
        _languages_line(facts.locale),
        "# [min_lon, min_lat, max_lon, max_lat]: the streets' box, 0.01 degree wider.",
        f"service_area = [{west - 0.01:.4f}, {south - 0.01:.4f}, {east + 0.01:.4f}, "
        f"{north + 0.01:.4f}]",
        "",
        "[files]",
        'services = "services.toml"',
        'crews = "crews.toml"',
        'districts = "districts.geojson"',
        "",
        "[osm]",
        f'streets = "osm/{streets}"',
        *([f'addresses = "osm/{addresses}"'] if addresses else []),
        f'metric_crs = "{crs}"',
        "",
        "[open311]",
        f"contact = {json.dumps(name + ' 311 service desk')}",
        'key_service = "ask the service desk for an api_key"',
        'changeset = "2025-01-01T00:00:00Z"',
        "",
        "# No placeholder points yet: add [[placeholders]] name/lat/lon if the city's exports",
        "# put requests without a location on one point (e.g. city hall).",
        "",
    ]
    return "\n".join(lines) + _attributes_toml()


def _extracts_toml(name: str, streets: str, addresses: str, located: tuple[str, ...]) -> str:
    slug = _slug(name)
    text = (
        "# The geocoder's extract of this city (written by `geo311 city init`).\n"
        f'default = "{slug}"\n\n[{slug}]\ncity = {json.dumps(name)}\n'
        f'streets = "{streets}"\n' + (f'addresses = "{addresses}"\n' if addresses else "")
    )
    if located:
        file, address, lat, lon = located
        text += (
            "\n# The city's own located reports: their house numbers are known address points\n"
            "# where OSM has none (`geo311 city init --located-reports`).\n"
            f"[{slug}.known_addresses]\nfile = {json.dumps('../' + file)}\n"
            f"address = {json.dumps(address)}\nlat = {json.dumps(lat)}\nlon = {json.dumps(lon)}\n"
        )
    return text


def _address_inputs(
    addresses: str | Path | Sequence[str | Path] | None,
    columns: Mapping[str, str] | str | None,
) -> tuple[Path | None, list[AddressFile]]:
    """Sort the ``--addresses`` files: the OSM one, and the others with their formats.

    Each file is recognised by its name and header
    (:func:`geo311.geocoding.sources.detect_format`); a CSV without the OpenAddresses columns
    is the city's own file, read through ``columns`` (``--address-columns``).
    """
    from geo311.geocoding.sources import detect_format, parse_columns

    given = [addresses] if isinstance(addresses, str | Path) else list(addresses or [])
    mapping = parse_columns(columns) if isinstance(columns, str) else dict(columns or {})
    osm_file: Path | None = None
    others: list[AddressFile] = []
    for item in given:
        path = Path(item)
        if not path.is_file():
            raise InputError(f"--addresses {path} does not exist; give the file", field="addresses")
        try:
            fmt = detect_format(path)
        except InputError:
            if not mapping or not path.name.lower().endswith((".csv", ".csv.gz")):
                raise
            fmt = "csv"  # not OpenAddresses: the city's own CSV, read by its columns
        if fmt == "osm" and osm_file is None:
            _check_osm(path, "--addresses")
            osm_file = path
        else:
            others.append(AddressFile(path, fmt, mapping if fmt == "csv" else {}))
    return osm_file, others


def _address_files_toml(name: str, files: Sequence[AddressFile]) -> str:
    """Return the ``[[<extract>.address_files]]`` items of the city's other address files."""
    slug = _slug(name)
    text = ""
    for spec in files:
        text += (
            f"\n[[{slug}.address_files]]\nfile = {json.dumps(spec.path.name)}\n"
            f"format = {json.dumps(spec.format)}\n"
        )
        if spec.columns:
            pairs = ", ".join(f"{k} = {json.dumps(v)}" for k, v in spec.columns.items())
            text += f"columns = {{ {pairs} }}\n"
    return text


@dataclass(frozen=True, kw_only=True)
class InitOptions:
    """The optional inputs of :func:`init_city`: more address files, districts, profile facts.

    Parameters
    ----------
    addresses : str, Path or sequence, optional
        A second OSM file with the address points (default: the streets file's own, XML or
        PBF, when it has ``addr:housenumber`` tags: nodes, and building ways and relations by
        their centroid). More address files may be given (a list): an OpenAddresses CSV or
        GeoJSON lines, TIGER/Line ADDRFEAT ranges (``.shp``, ``.zip``, ``.gpkg``) or the
        city's own CSV (with ``address_columns``); they are copied into ``osm/`` and listed
        in ``extracts.toml`` (see :mod:`geo311.geocoding.sources`).
    districts : str or Path, optional
        GeoJSON polygons with a ``name`` (default: one district around the streets).
    jurisdiction : str, optional
        Open311 ``jurisdiction_id`` (default ``<name>.example``, to be edited).
    units : str, optional
        ``imperial`` (feet / miles) or ``metric`` (metres / km) for maps and itineraries;
        default imperial for a time zone of the United States, metric elsewhere.
    located_reports : str or Path, optional
        The city's own CSV of located reports (address, lat and lon columns): copied into
        the profile and named as the geocoder's known addresses (house numbers OSM lacks).
    build_geocoder : bool
        Build the geocoder index into ``folder/cache`` now.
    address_columns : mapping or str, optional
        The columns of the city's own address CSV: ``{"number": ..., "street": ..., "lat":
        ..., "lon": ...}`` (or ``address`` for the whole text), or the same written
        ``number=HOUSE_NO,street=STREET,lat=Y,lon=X``.
    locale : str, optional
        How dates and numbers are written (``fi_FI``); default the main official language
        of the time zone's country (:func:`default_locale`). The interface language is the
        locale's when geo311 has its catalogue, else English.
    """

    addresses: str | Path | Sequence[str | Path] | None = None
    districts: str | Path | None = None
    jurisdiction: str | None = None
    units: str | None = None
    located_reports: str | Path | None = None
    build_geocoder: bool = True
    address_columns: Mapping[str, str] | str | None = None
    locale: str | None = None


def init_city(
    folder: str | Path,
    *,
    name: str,
    osm: str | Path,
    timezone: str,
    options: InitOptions | None = None,
) -> CityInit:
    """Write a city profile folder from an OSM extract (see the module docstring).

    Parameters
    ----------
    folder
        The profile folder (created; existing profile files are overwritten).
    name
        The city's name.
    osm
        The streets (``.osm``, ``.osm.bz2``, ``.osm.pbf``); address points may be in it too.
    timezone
        IANA time zone of the city.
    options
        Address files, districts, jurisdiction, units, located reports, locale, whether to
        build the geocoder now (:class:`InitOptions`; its defaults when omitted).

    Returns
    -------
    CityInit
        The folder, graph, assumed yard, districts, files and the next steps.

    Raises
    ------
    InputError
        For a file that is not OSM, an empty extract, an unknown time zone or units,
        districts outside the streets or a located-reports CSV without its columns; the
        message names the argument and the fix.
    """
    opts = options or InitOptions()
    addresses, districts, jurisdiction = opts.addresses, opts.districts, opts.jurisdiction
    located_reports, address_columns = opts.located_reports, opts.address_columns
    build_geocoder = opts.build_geocoder
    _check_timezone(timezone)
    units = opts.units or default_units(timezone)
    _check_units(units)
    locale = _check_locale(opts.locale or default_locale(timezone))
    streets_src = Path(osm)
    _check_osm(streets_src, "--osm")
    addr_src, other_files = _address_inputs(addresses, address_columns)
    root = Path(folder)
    (root / "osm").mkdir(parents=True, exist_ok=True)
    located = _copy_located(root, located_reports)
    for spec in other_files:
        if spec.path.resolve() != (root / "osm" / spec.path.name).resolve():
            shutil.copyfile(spec.path, root / "osm" / spec.path.name)
    streets = root / "osm" / streets_src.name
    if streets_src.resolve() != streets.resolve():
        shutil.copyfile(streets_src, streets)
    addr_name = streets.name if addr_src is None and _has_addresses(streets) else ""
    if addr_src is not None:
        addr_name = addr_src.name
        if addr_src.resolve() != (root / "osm" / addr_name).resolve():
            shutil.copyfile(addr_src, root / "osm" / addr_name)
    lat0, lon0 = _first_point(streets)
    crs = utm_crs(lon0, lat0)
    graph = _load_graph(streets, root / "cache", crs)
    areas = _districts(Path(districts) if districts is not None else None, name, graph)
    yards = _yards(graph, areas)
    facts = _ProfileFacts(
        name=name,
        jurisdiction=jurisdiction or f"{_slug(name).replace('_', '')}.example",
        timezone=timezone,
        graph=graph,
        streets=streets.name,
        addresses=addr_name,
        crs=crs,
        units=units,
        locale=locale,
    )
    written = _write_profile(
        root, facts, areas=areas, yards=yards, located=located, address_files=other_files
    )
    if build_geocoder:
        from geo311.geocoding.geocoder import Geocoder

        Geocoder.from_data_dir(root, cache_dir=root / "cache")
    steps = _next_steps(root, areas, addresses, has_points=bool(addr_name or other_files))
    return CityInit(root, graph, yards, areas.names, written, steps)


def _has_addresses(path: Path) -> bool:
    """Return whether an OSM file (XML or PBF) carries address points (``addr:housenumber``)."""
    if path.name.lower().endswith(".pbf"):
        import osmium

        tagged = osmium.FileProcessor(str(path)).with_filter(
            osmium.filter.KeyFilter("addr:housenumber")
        )
        return any(True for _ in tagged)
    opener = bz2.open if path.name.lower().endswith(".bz2") else open
    tail = b""
    with opener(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            if b'k="addr:housenumber"' in tail + chunk:
                return True
            tail = chunk[-32:]
    return False


def _first_point(streets: Path) -> tuple[float, float]:
    """Return a node's (lat, lon) from the file's head (to choose the UTM zone)."""
    if streets.name.lower().endswith(".pbf"):
        raw = load_street_graph(streets)
        return float(np.median(raw.node_lat)), float(np.median(raw.node_lon))
    opener = bz2.open if streets.name.lower().endswith(".bz2") else open
    with opener(streets, "rb") as fh:
        head = fh.read(1 << 20).decode("utf-8", "replace")
    lat = re.search(r'lat="(-?[0-9.]+)"', head)
    lon = re.search(r'lon="(-?[0-9.]+)"', head)
    if lat is None or lon is None:
        raise InputError(
            f"--osm {streets.name} is an empty extract (no nodes); give a larger area", field="osm"
        )
    return float(lat.group(1)), float(lon.group(1))


def _write_profile(
    root: Path,
    facts: _ProfileFacts,
    *,
    areas: Districts,
    yards: dict[str, tuple[int, float, float]],
    located: tuple[str, ...],
    address_files: Sequence[AddressFile] = (),
) -> list[Path]:
    name, timezone, streets, addresses = facts.name, facts.timezone, facts.streets, facts.addresses
    files = {
        root / "city.toml": _city_toml(facts),
        root / "crews.toml": _crews_toml(timezone, yards),
        root / "osm" / "extracts.toml": _extracts_toml(name, streets, addresses, located)
        + _address_files_toml(name, address_files),
    }
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    shutil.copyfile(REPO_DATA_DIR / "services.toml", root / "services.toml")
    _write_districts(areas, root / "districts.geojson")
    return [*files, root / "services.toml", root / "districts.geojson"]


def _next_steps(root: Path, areas: Districts, addresses: object, *, has_points: bool) -> list[str]:
    steps = [
        f"{root / 'crews.toml'}: the yard is ASSUMED (a central street node); put the real "
        "depot(s) there, one or more per district, and the city's crews",
        f"{root / 'city.toml'}: check jurisdiction_id, agency, units, service_area, the "
        "Open311 contact; add [[placeholders]] if exports use a stand-in point",
        f"{root / 'services.toml'}: a copy of geo311's catalogue; map the city's own type "
        "names and status values, SLAs and on-site minutes",
    ]
    if len(areas) == 1:
        steps.append(
            f"{root / 'districts.geojson'}: one district around all the streets; replace it "
            "with the city's districts (GeoJSON polygons with a 'name')"
        )
    if addresses is None and not has_points:
        steps.append(
            "no --addresses file and no address points in the streets file: the geocoder "
            "answers intersections and street-level matches (and places numbers only on the "
            "grid of known reports); give --addresses"
        )
    steps.append(f"then: GEO311_CITY_DIR={root} geo311 import ... (or geo311 --city {root} ...)")
    return steps
