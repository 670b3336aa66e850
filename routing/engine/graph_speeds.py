"""Speed settings (data/speeds.toml), ``maxspeed`` parsing and edge travel times."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from geo311.errors import ConfigurationError, InputError
from geo311.settings import REPO_DATA_DIR

MPH_TO_KPH = 1.609344
KNOTS_TO_KPH = 1.852
MIN_TRAVEL_TIME_S = 1e-3  # a zero-length edge still takes a tick; keeps weights positive

DEFAULT_SPEEDS_FILE = REPO_DATA_DIR / "speeds.toml"

_SPEED_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph|knots)?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SpeedSettings:
    """Default speeds per highway class (km/h), hourly congestion factors and the snap limit."""

    defaults_kph: dict[str, float]
    fallback_kph: float
    congestion: tuple[float, ...]
    max_snap_distance_m: float
    source: str = ""

    def default_kph(self, highway: Any) -> float:
        """Return the default speed (km/h) for one class or a list of classes (their mean)."""
        classes = highway if isinstance(highway, list) else [highway]
        speeds = [self._class_kph(str(h)) for h in classes if h is not None]
        return sum(speeds) / len(speeds) if speeds else self.fallback_kph

    def _class_kph(self, highway: str) -> float:
        if highway in self.defaults_kph:
            return self.defaults_kph[highway]
        if highway.endswith("_link") and highway[: -len("_link")] in self.defaults_kph:
            return self.defaults_kph[highway[: -len("_link")]]
        return self.fallback_kph

    def congestion_factor(self, hour: int | None) -> float:
        """Return the travel-time multiplier for a local hour (1.0 when ``hour`` is None)."""
        if hour is None:
            return 1.0
        if not isinstance(hour, int) or not 0 <= hour <= 23:
            raise InputError(
                f"congestion_hour={hour!r} is not an hour of day; pass an integer 0..23 or None",
                field="congestion_hour",
            )
        return self.congestion[hour]


def load_speed_settings(path: str | Path | None = None) -> SpeedSettings:
    """Read and validate a speeds file (default ``data/speeds.toml``)."""
    file = Path(path) if path is not None else DEFAULT_SPEEDS_FILE
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"speeds file {file} does not exist; pass speeds_file= or restore data/speeds.toml",
            field="speeds_file",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            f"speeds file {file} is not valid TOML: {exc}", field="speeds_file"
        ) from exc
    unit = str(raw.get("unit", "kph")).lower()
    if unit not in ("mph", "kph", "km/h"):
        raise ConfigurationError(
            f"{file}: unit={unit!r} is not supported; use 'mph' or 'kph'", field="unit"
        )
    factor = MPH_TO_KPH if unit == "mph" else 1.0
    defaults = dict(raw.get("defaults", {}))
    speeds: dict[str, float] = {}
    for name, value in defaults.items():
        if not isinstance(value, int | float) or value <= 0:
            raise ConfigurationError(
                f"{file}: defaults.{name}={value!r} must be a positive speed in {unit}",
                field=f"defaults.{name}",
            )
        speeds[name] = float(value) * factor
    fallback = speeds.pop("fallback", 30.0)
    factors = raw.get("congestion", {}).get("factors", [1.0] * 24)
    if len(factors) != 24 or not all(isinstance(f, int | float) and f >= 1.0 for f in factors):
        raise ConfigurationError(
            f"{file}: congestion.factors must be 24 numbers >= 1.0 (one per hour 0..23)",
            field="congestion.factors",
        )
    snap = float(raw.get("snap", {}).get("max_distance_m", 150.0))
    if snap <= 0:
        raise ConfigurationError(
            f"{file}: snap.max_distance_m={snap} must be positive", field="snap.max_distance_m"
        )
    return SpeedSettings(speeds, fallback, tuple(float(f) for f in factors), snap, str(file))


def parse_maxspeed(value: Any) -> float | None:
    """Parse an OSM ``maxspeed`` (``"25 mph"``, ``"40"``, ``"30 knots"``, or a list) to km/h.

    A bare number is km/h (the OSM convention). A list gives the mean of its parsable items.
    Values such as ``"signals"``, ``"none"`` or ``"US:urban"`` give None (use the class default).
    """
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 and math.isfinite(value) else None
    if isinstance(value, list | tuple):
        parsed = [p for p in (parse_maxspeed(v) for v in value) if p is not None]
        return sum(parsed) / len(parsed) if parsed else None
    text = str(value)
    if text.startswith("[") and text.endswith("]"):  # a list that went through GraphML
        items = [t.strip().strip("'\"") for t in text[1:-1].split(",")]
        return parse_maxspeed(items)
    if ";" in text or "|" in text:
        return parse_maxspeed(re.split(r"[;|]", text))
    match = _SPEED_RE.match(text)
    if not match:
        return None
    speed = float(match.group(1))
    unit = (match.group(2) or "").lower()
    if unit == "mph":
        speed *= MPH_TO_KPH
    elif unit == "knots":
        speed *= KNOTS_TO_KPH
    return speed if speed > 0 else None


def add_travel_times(
    graph: nx.MultiDiGraph, settings: SpeedSettings, *, congestion_hour: int | None
) -> None:
    """Set ``speed_kph``, ``speed_source`` and ``travel_time`` (seconds) on every edge in place."""
    factor = settings.congestion_factor(congestion_hour)
    for _, _, data in graph.edges(data=True):
        speed = parse_maxspeed(data.get("maxspeed"))
        data["speed_source"] = "maxspeed" if speed is not None else "default"
        if speed is None:
            speed = settings.default_kph(_as_list(data.get("highway")))
        length = float(data.get("length", 0.0))
        data["length"] = length
        data["speed_kph"] = speed
        data["travel_time"] = max(length / (speed / 3.6) * factor, MIN_TRAVEL_TIME_S)


def _as_list(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        return [t.strip().strip("'\"") for t in value[1:-1].split(",")]
    return value


def first_text(value: Any) -> str:
    """Return a display string for an OSM tag that may be a list (names joined by ' / ')."""
    value = _as_list(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, Iterable) and not isinstance(value, str):
        return " / ".join(dict.fromkeys(str(v) for v in value))
    return str(value)
