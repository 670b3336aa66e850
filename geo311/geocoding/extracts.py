"""The city's OSM extracts and address files a geocoder is built from (``extracts.toml``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from geo311.errors import ConfigurationError
from geo311.geocoding.known import (
    KnownAddresses,
    known_addresses_entry,
)
from geo311.geocoding.sources import AddressFile, address_file_entries

if TYPE_CHECKING:
    pass

__all__ = [
    "EXTRACTS_FILE",
    "Extract",
    "load_extract",
]


EXTRACTS_FILE = "extracts.toml"


@dataclass(frozen=True, slots=True)
class Extract:
    """One city's geocoder extract, as listed in ``data/osm/extracts.toml``.

    Attributes
    ----------
    name
        The table's name (``boston_backbay``).
    streets
        The streets extract (every named ``highway`` way is indexed).
    addresses
        The address points extract, ``None`` for a city without address points.
    zip_codes
        ZIP codes whose area overlaps the extract (empty: any ZIP is accepted).
    known_addresses
        The city's own located reports (a CSV and its columns) whose house numbers the
        geocoder knows by default, ``None`` for none.
    address_files
        The city's other address files (OpenAddresses, TIGER/Line ranges, its own CSV; see
        :mod:`geo311.geocoding.sources`): ``[[<name>.address_files]]`` items.
    """

    name: str
    streets: Path
    addresses: Path | None
    zip_codes: frozenset[str]
    known_addresses: KnownAddresses | None = None
    address_files: tuple[AddressFile, ...] = ()


def load_extract(data_dir: Path | str, name: str | None = None) -> Extract:
    """Read one extract's entry of ``<data_dir>/osm/extracts.toml``.

    Parameters
    ----------
    data_dir
        The data folder (``Settings.data_dir``).
    name
        The extract's table name; default the file's ``default`` entry.

    Returns
    -------
    Extract
        File paths (inside ``<data_dir>/osm``) and ZIP codes.

    Raises
    ------
    ConfigurationError
        If the file or the entry is missing or malformed; the message names the fix.
    """
    where = Path(data_dir) / "osm" / EXTRACTS_FILE
    try:
        raw = tomllib.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"{where} does not exist; list the city's OSM extracts there", field="data_dir"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{where} is not valid TOML: {exc}", field="data_dir") from None
    key = name if name is not None else str(raw.get("default", ""))
    entry = raw.get(key)
    if not isinstance(entry, dict) or "streets" not in entry:
        known = sorted(k for k, v in raw.items() if isinstance(v, dict) and "streets" in v)
        raise ConfigurationError(
            f"extract {key!r} is not in {where} (with a 'streets' file); choose one of {known}",
            field="extract",
        )
    folder = where.parent
    return Extract(
        name=key,
        streets=folder / str(entry["streets"]),
        addresses=folder / str(entry["addresses"]) if entry.get("addresses") else None,
        zip_codes=frozenset(str(z).zfill(5) for z in entry.get("zip_codes", [])),
        known_addresses=known_addresses_entry(entry.get("known_addresses"), folder, where),
        address_files=address_file_entries(entry.get("address_files"), folder, where),
    )
