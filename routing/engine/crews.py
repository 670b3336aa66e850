"""Crews and yards from a TOML file (``data/crews.toml`` by default), validated.

The file holds clock times ("07:00") in the city's time zone and yard coordinates; a
:class:`CrewConfig` turns them into routing objects for one day with :meth:`CrewConfig.depots`
and :meth:`CrewConfig.crews`, once the caller knows each yard's matrix location index (after
snapping the yard to the street graph).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from geo311.city.profile import default_city
from geo311.errors import ConfigurationError
from geo311.settings import REPO_DATA_DIR
from routing.engine.problem import Break, Crew, Depot, TimeWindow

DEFAULT_CREWS_FILE = REPO_DATA_DIR / "crews.toml"


@dataclass(frozen=True, slots=True)
class BreakSpec:
    """A break as written in the file: minutes and the window of its start (clock times)."""

    id: str
    minutes: float
    windows: tuple[tuple[time, time], ...]


@dataclass(frozen=True, slots=True)
class Yard:
    """A yard (depot) as written in the file.

    Attributes
    ----------
    id, label : str
        Id and name.
    lat, lon : float
        Location, EPSG:4326.
    open, close : datetime.time
        Opening hours (local time).
    assumed : bool
        True when the location is an assumption, not city data.
    note : str
        Where the location comes from.
    osm_node : int or None
        The OSM node id of the point, when it is one.
    district : str
        The district the yard serves (a name of the city's districts; ``""``: every district).
    """

    id: str
    label: str
    lat: float
    lon: float
    open: time
    close: time
    assumed: bool = False
    note: str = ""
    osm_node: int | None = None
    district: str = ""


@dataclass(frozen=True, slots=True)
class CrewSpec:
    """A crew as written in the file (clock times, yard ids)."""

    id: str
    label: str
    skills: frozenset[str]
    shift_start: time
    shift_end: time
    breaks: tuple[BreakSpec, ...]
    capacity: float
    capacity_unit: str
    start_yard: str
    end_yard: str
    cost_per_hour: float


def _seconds(origin: datetime, day: date, t: time) -> float:
    tz = origin.tzinfo
    return (datetime.combine(day, t, tzinfo=tz) - origin).total_seconds()


@dataclass(frozen=True, slots=True)
class CrewConfig:
    """All yards and crews of a crew file.

    Attributes
    ----------
    timezone : str
        IANA time zone of the clock times.
    yards : tuple of Yard
        The yards.
    crews : tuple of CrewSpec
        The crews.
    source : str
        The file it was read from.
    """

    timezone: str
    yards: tuple[Yard, ...]
    crews: tuple[CrewSpec, ...]
    source: str = ""

    @property
    def tz(self) -> ZoneInfo:
        """The time zone object."""
        return ZoneInfo(self.timezone)

    def for_district(self, name: str, *, only: bool = False) -> CrewConfig:
        """Return the yards of district ``name`` and the crews that start from them.

        Parameters
        ----------
        name
            The district's name (a yard's ``district``).
        only
            True: a yard without a district does not count as the district's.

        Returns
        -------
        CrewConfig
            The district's yards and crews (``source`` names the district).

        Raises
        ------
        ConfigurationError
            When no yard serves the district or no crew starts from its yards.
        """
        yards = tuple(y for y in self.yards if y.district == name or (not only and not y.district))
        ids = {y.id for y in yards}
        crews = tuple(c for c in self.crews if c.start_yard in ids)
        if not yards or not crews:
            raise ConfigurationError(
                f"district {name!r} has no yard with crews in the crew file {self.source}; add "
                f'`district = "{name}"` to a yard that crews start from',
                field="district",
            )
        ends = {c.end_yard for c in crews}
        yards += tuple(y for y in self.yards if y.id in ends - ids)
        return CrewConfig(
            timezone=self.timezone, yards=yards, crews=crews, source=f"{self.source}#{name}"
        )

    def origin(self, day: date) -> datetime:
        """Return local midnight of ``day``: the natural problem origin."""
        return datetime.combine(day, time(0), tzinfo=self.tz)

    def depots(self, location_index: dict[str, int], *, origin: datetime) -> tuple[Depot, ...]:
        """Return the yards as depots for the day of ``origin``.

        Parameters
        ----------
        location_index
            Yard id -> matrix location index (after snapping the yard).
        origin
            Problem origin (aware); opening hours are taken on its local date.

        Returns
        -------
        tuple of Depot

        Raises
        ------
        ConfigurationError
            When a yard has no location index.
        """
        day = origin.astimezone(self.tz).date()
        out = []
        for y in self.yards:
            if y.id not in location_index:
                raise ConfigurationError(
                    f"yard {y.id!r} has no location index: pass location_index[{y.id!r}]",
                    field="location_index",
                )
            out.append(
                Depot(
                    id=y.id,
                    location_index=location_index[y.id],
                    open_s=_seconds(origin, day, y.open),
                    close_s=_seconds(origin, day, y.close),
                    label=y.label,
                )
            )
        return tuple(out)

    def crews_for(self, *, origin: datetime, ids: list[str] | None = None) -> tuple[Crew, ...]:
        """Return routing crews for the day of ``origin``.

        Parameters
        ----------
        origin
            Problem origin (aware).
        ids
            Keep only these crews (in this order).

        Returns
        -------
        tuple of Crew

        Raises
        ------
        ConfigurationError
            When an id in ``ids`` is not a crew of the file.
        """
        day = origin.astimezone(self.tz).date()
        by_id = {c.id: c for c in self.crews}
        chosen = list(self.crews)
        if ids is not None:
            missing = [i for i in ids if i not in by_id]
            if missing:
                raise ConfigurationError(
                    f"unknown crew ids {missing}; the crew file has {sorted(by_id)}", field="ids"
                )
            chosen = [by_id[i] for i in ids]
        out = []
        for c in chosen:
            breaks = tuple(
                Break(
                    duration_s=b.minutes * 60.0,
                    windows=tuple(
                        TimeWindow(_seconds(origin, day, a), _seconds(origin, day, z))
                        for a, z in b.windows
                    ),
                    id=b.id,
                )
                for b in c.breaks
            )
            out.append(
                Crew(
                    id=c.id,
                    skills=c.skills,
                    shift=TimeWindow(
                        _seconds(origin, day, c.shift_start), _seconds(origin, day, c.shift_end)
                    ),
                    capacity=c.capacity,
                    start_depot=c.start_yard,
                    end_depot=c.end_yard,
                    breaks=breaks,
                    cost_per_hour=c.cost_per_hour,
                    label=c.label,
                )
            )
        return tuple(out)


def default_crews_file() -> Path:
    """Return the path of the embedded ``data/crews.toml`` (the one default of the crew file)."""
    return DEFAULT_CREWS_FILE


def load_crews(
    path: str | Path | None = None, *, known_skills: set[str] | None = None
) -> CrewConfig:
    """Read and validate a crew file.

    Parameters
    ----------
    path
        The TOML file; default ``data/crews.toml``.
    known_skills
        Valid skills (e.g. the catalogue's); a crew naming another one is an error.

    Returns
    -------
    CrewConfig

    Raises
    ------
    ConfigurationError
        Listing every problem, each naming the crew or yard id and the field.
    """
    p = Path(path) if path is not None else default_crews_file()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"crew file {p} does not exist", field="crews") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"crew file {p} is not valid TOML: {exc}", field="crews") from exc
    return parse_crews(data, source=str(p), known_skills=known_skills)


def parse_crews(
    data: dict[str, Any], *, source: str = "<data>", known_skills: set[str] | None = None
) -> CrewConfig:
    """Validate crew-file data (already parsed TOML or JSON) into a :class:`CrewConfig`.

    Parameters
    ----------
    data
        ``{"timezone": ..., "yards": {id: {...}}, "crews": {id: {...}}}``; the time zone
        defaults to the city profile's (:func:`geo311.city.profile.default_city`).
    source
        Name used in error messages.
    known_skills
        Valid skills.

    Returns
    -------
    CrewConfig
        The yards and crews.

    Raises
    ------
    ConfigurationError
        Listing every problem at once.
    """
    check = _Checker()
    tz_name = data.get("timezone", default_city().timezone)
    try:
        ZoneInfo(str(tz_name))
    except (ZoneInfoNotFoundError, ValueError):
        check.errors.append(
            f"timezone {tz_name!r} is not an IANA time zone (e.g. {default_city().timezone})"
        )
    yards = [_parse_yard(yid, y, check) for yid, y in (data.get("yards") or {}).items()]
    if not yards:
        check.errors.append(f"{source}: no [yards.<id>] table; add at least one yard")
    yard_ids = {y.id for y in yards}
    crews = [
        _parse_crew(cid, c, check, yard_ids=yard_ids, known_skills=known_skills)
        for cid, c in (data.get("crews") or {}).items()
    ]
    if not crews:
        check.errors.append(f"{source}: no [crews.<id>] table; add at least one crew")
    if check.errors:
        raise ConfigurationError(
            f"crew file {source} is invalid ({len(check.errors)} error(s)):\n- "
            + "\n- ".join(check.errors),
            field="crews",
        )
    return CrewConfig(timezone=str(tz_name), yards=tuple(yards), crews=tuple(crews), source=source)


class _Checker:
    """Reads clock times and numbers of a crew file, collecting every problem."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def clock(self, where: str, value: Any) -> time:
        """Return ``value`` as a clock time (``00:00`` after noting an error)."""
        if isinstance(value, time):
            return value
        try:
            return time.fromisoformat(str(value))
        except ValueError:
            self.errors.append(f'{where}: {value!r} is not a clock time; write it as "HH:MM"')
            return time(0)

    def number(self, where: str, value: Any, *, minimum: float = 0.0) -> float:
        """Return ``value`` as a float, noting an error unless finite and >= ``minimum``."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.errors.append(f"{where}: {value!r} must be a number")
            return 0.0
        if not math.isfinite(value) or value < minimum:
            self.errors.append(f"{where}: {value!r} must be a finite number >= {minimum:g}")
        return float(value)


def _parse_yard(yid: str, y: dict[str, Any], check: _Checker) -> Yard:
    """Read one ``[yards.<id>]`` table."""
    w = f"yard {yid!r}"
    lat = check.number(f"{w} field 'lat'", y.get("lat"), minimum=-90)
    lon = check.number(f"{w} field 'lon'", y.get("lon"), minimum=-180)
    if lat > 90 or lon > 180:
        check.errors.append(f"{w}: lat/lon ({lat}, {lon}) out of range")
    o, c = (
        check.clock(f"{w} field 'open'", y.get("open", "00:00")),
        check.clock(f"{w} field 'close'", y.get("close", "23:59")),
    )
    if c <= o:
        check.errors.append(f"{w}: close {c} is not after open {o}")
    return Yard(
        id=yid,
        label=str(y.get("label", yid)),
        lat=lat,
        lon=lon,
        open=o,
        close=c,
        assumed=bool(y.get("assumed", False)),
        note=str(y.get("note", "")),
        osm_node=y.get("osm_node"),
        district=str(y.get("district", "")),
    )


def _parse_crew(
    cid: str,
    c: dict[str, Any],
    check: _Checker,
    *,
    yard_ids: set[str],
    known_skills: set[str] | None,
) -> CrewSpec:
    """Read one ``[crews.<id>]`` table."""
    w = f"crew {cid!r}"
    skills = _skills(w, c.get("skills"), check, known_skills=known_skills)
    shift = c.get("shift")
    if not isinstance(shift, list) or len(shift) != 2:
        check.errors.append(f'{w} field \'shift\': write it as ["07:00", "15:30"]')
        shift = ["00:00", "00:00"]
    s0 = check.clock(f"{w} field 'shift'", shift[0])
    s1 = check.clock(f"{w} field 'shift'", shift[1])
    if s1 <= s0:
        check.errors.append(f"{w} field 'shift': end {s1} is not after start {s0}")
    breaks = [
        _parse_break(f"{w} break {k}", k, b, check) for k, b in enumerate(c.get("breaks", []))
    ]
    for fld in ("start_yard", "end_yard"):
        if c.get(fld, "yard") not in yard_ids:
            check.errors.append(
                f"{w} field {fld!r}: {c.get(fld, 'yard')!r} is not a yard "
                f"(known: {sorted(yard_ids)})"
            )
    return CrewSpec(
        id=cid,
        label=str(c.get("label", cid)),
        skills=frozenset(skills),
        shift_start=s0,
        shift_end=s1,
        breaks=tuple(breaks),
        capacity=check.number(f"{w} field 'capacity'", c.get("capacity")),
        capacity_unit=str(c.get("capacity_unit", "")),
        start_yard=str(c.get("start_yard", "yard")),
        end_yard=str(c.get("end_yard", "yard")),
        cost_per_hour=check.number(f"{w} field 'cost_per_hour'", c.get("cost_per_hour", 0.0)),
    )


def _skills(w: str, skills: Any, check: _Checker, *, known_skills: set[str] | None) -> list[str]:
    """Return a crew's skills: a non-empty list of strings, each known when that is checked."""
    if not isinstance(skills, list) or not skills or not all(isinstance(s, str) for s in skills):
        check.errors.append(
            f"{w} field 'skills': give a non-empty list of skills, e.g. [\"asphalt\"]"
        )
        return []
    if known_skills is not None and set(skills) - known_skills:
        check.errors.append(
            f"{w} field 'skills': {sorted(set(skills) - known_skills)} unknown; "
            f"known skills are {sorted(known_skills)}"
        )
    return skills


def _parse_break(bw: str, k: int, b: dict[str, Any], check: _Checker) -> BreakSpec:
    """Read break ``k`` of a crew: minutes and the window of its start."""
    win = b.get("window")
    if not isinstance(win, list) or len(win) != 2:
        check.errors.append(f'{bw} field \'window\': write it as ["11:00", "13:00"]')
        win = ["00:00", "00:00"]
    a = check.clock(f"{bw} field 'window'", win[0])
    z = check.clock(f"{bw} field 'window'", win[1])
    if z < a:
        check.errors.append(f"{bw} field 'window': end {z} is before start {a}")
    return BreakSpec(
        id=str(b.get("id", f"break{k}")),
        minutes=check.number(f"{bw} field 'minutes'", b.get("minutes")),
        windows=((a, z),),
    )
