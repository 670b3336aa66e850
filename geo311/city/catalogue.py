"""The service catalogue: Open311 service codes, their groups, SLAs, skills and map styles.

The catalogue is data (``data/services.toml``) loaded into small frozen objects. Categories
decide who does the work (the crew ``skill``) and how duplicates are merged.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from geo311.embedded import EMBEDDED_DATA_DIR
from geo311.errors import ConfigurationError

OTHER_SERVICE_CODE = "other"
STATE_GROUPS = ("open", "closed", "fixed")


@dataclass(frozen=True, slots=True)
class State:
    """A request or work-order state (FixMyStreet style): a name in a group."""

    code: str
    group: str
    open311: str
    label: str

    @property
    def is_open(self) -> bool:
        """Whether the state counts as open work."""
        return self.group == "open"


@dataclass(frozen=True, slots=True)
class Service:
    """One catalogue entry: an Open311 service and how the city handles it."""

    code: str
    name: str
    description: str
    group: str
    sla_hours: float
    on_site_minutes: float
    per_extra_report_minutes: float
    skill: str
    demand: float
    duplicate_radius_m: float
    failed_repair_days: float
    color: str
    icon: str
    keywords: tuple[str, ...]
    boston_types: tuple[str, ...]

    @property
    def sla(self) -> timedelta:
        """The SLA as a duration."""
        return timedelta(hours=self.sla_hours)

    def on_site_minutes_for(self, report_count: int) -> float:
        """Return the on-site time for a work order merging ``report_count`` reports.

        Parameters
        ----------
        report_count
            Number of reports in the work order (at least 1).

        Returns
        -------
        float
            Minutes on site.
        """
        extra = max(0, report_count - 1)
        return self.on_site_minutes + extra * self.per_extra_report_minutes


class Targeted(Protocol):
    """What :meth:`Catalogue.sla_target` reads of a request."""

    @property
    def service_code(self) -> str: ...  # noqa: D102

    @property
    def requested_datetime(self) -> datetime: ...  # noqa: D102

    @property
    def sla_target_datetime(self) -> datetime | None: ...  # noqa: D102


@dataclass(frozen=True, slots=True)
class Catalogue:
    """All services and states, with look-ups by code and by Boston type."""

    services: dict[str, Service]
    states: dict[str, State]
    groups: dict[str, str]

    def service(self, code: str) -> Service:
        """Return the service with this code.

        Parameters
        ----------
        code
            Open311 service code.

        Returns
        -------
        Service
            The catalogue entry.

        Raises
        ------
        ConfigurationError
            If no service has this code.
        """
        try:
            return self.services[code]
        except KeyError:
            known = ", ".join(sorted(self.services))
            raise ConfigurationError(
                f"service_code {code!r} is not in the catalogue; use one of: {known}",
                field="service_code",
            ) from None

    def state(self, code: str) -> State:
        """Return the state with this code, raising ``ConfigurationError`` if unknown.

        Parameters
        ----------
        code
            State code such as ``open`` or ``fixed``.

        Returns
        -------
        State
            The state.
        """
        try:
            return self.states[code]
        except KeyError:
            known = ", ".join(self.states)
            raise ConfigurationError(
                f"status {code!r} is unknown; use one of: {known}", field="status"
            ) from None

    def service_for_boston_type(self, boston_type: str) -> Service | None:
        """Return the service a Boston ``TYPE`` maps to, or ``None`` when it maps to none.

        Parameters
        ----------
        boston_type
            The ``TYPE`` column of a Boston export.

        Returns
        -------
        Service or None
            The mapped service.
        """
        return self._boston_index().get(boston_type.strip().lower())

    def _boston_index(self) -> dict[str, Service]:
        return {t.strip().lower(): s for s in self.services.values() for t in s.boston_types}

    def open_state_codes(self) -> list[str]:
        """Return the codes of every state in the open group."""
        return [s.code for s in self.states.values() if s.is_open]

    def services_in_group(self, group: str) -> list[Service]:
        """Return the services of one group (e.g. ``potholes``)."""
        return [s for s in self.services.values() if s.group == group]

    def sla_target(self, report: Targeted) -> datetime:
        """Return a report's service-level target (never a plan's ETA).

        Parameters
        ----------
        report
            A request (or its times): ``sla_target_datetime`` (the City's due time, kept at
            import), ``requested_datetime`` and ``service_code``.

        Returns
        -------
        datetime
            ``sla_target_datetime``, else ``requested_datetime`` plus the service's SLA.
        """
        if report.sla_target_datetime is not None:
            return report.sla_target_datetime
        return report.requested_datetime + self.service(report.service_code).sla


# The embedded catalogue: the one place its default path is built.
DEFAULT_CATALOGUE_FILE = EMBEDDED_DATA_DIR / "services.toml"


def _require(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise ConfigurationError(f"{where}: missing key {key!r}; add it to the catalogue file")
    return table[key]


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load and validate a service catalogue TOML file.

    Parameters
    ----------
    path
        The catalogue file (see ``data/services.toml``); default the embedded catalogue.

    Returns
    -------
    Catalogue
        The validated catalogue.

    Raises
    ------
    ConfigurationError
        If the file is missing, malformed or inconsistent; the message names the entry.
    """
    path = Path(path) if path is not None else DEFAULT_CATALOGUE_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"catalogue file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"catalogue file {path} is not valid TOML: {exc}") from None

    groups = {k: str(v.get("name", k)) for k, v in raw.get("groups", {}).items()}
    states: dict[str, State] = {}
    for code, entry in _require(raw, "states", str(path)).items():
        where = f"{path} [states.{code}]"
        group = _require(entry, "group", where)
        if group not in STATE_GROUPS:
            raise ConfigurationError(f"{where}: group {group!r} must be one of {STATE_GROUPS}")
        open311 = _require(entry, "open311", where)
        if open311 not in ("open", "closed"):
            raise ConfigurationError(f"{where}: open311 must be 'open' or 'closed'")
        states[code] = State(code, group, open311, str(entry.get("label", code)))
    for needed in ("open", "closed", "fixed"):
        if needed not in states:
            raise ConfigurationError(f"{path}: the [states] table needs a {needed!r} state")

    services: dict[str, Service] = {}
    seen_types: dict[str, str] = {}
    for code, entry in _require(raw, "services", str(path)).items():
        where = f"{path} [services.{code}]"
        group = _require(entry, "group", where)
        if groups and group not in groups:
            raise ConfigurationError(f"{where}: group {group!r} is not under [groups]")
        numbers = {}
        for key in (
            "sla_hours",
            "on_site_minutes",
            "per_extra_report_minutes",
            "demand",
            "duplicate_radius_m",
            "failed_repair_days",
        ):
            value = entry.get(key, 0)
            if not isinstance(value, int | float) or value < 0:
                raise ConfigurationError(f"{where}: {key} must be a number >= 0, got {value!r}")
            numbers[key] = float(value)
        if numbers["sla_hours"] <= 0:
            raise ConfigurationError(f"{where}: sla_hours must be > 0")
        boston_types = tuple(str(t) for t in entry.get("boston_types", []))
        for t in boston_types:
            if t.lower() in seen_types:
                raise ConfigurationError(
                    f"{where}: Boston type {t!r} is already mapped to {seen_types[t.lower()]!r}"
                )
            seen_types[t.lower()] = code
        services[code] = Service(
            code=code,
            name=str(_require(entry, "name", where)),
            description=str(entry.get("description", "")),
            group=group,
            skill=str(_require(entry, "skill", where)),
            color=str(entry.get("color", "#555555")),
            icon=str(entry.get("icon", "info-sign")),
            keywords=tuple(str(k) for k in entry.get("keywords", [])),
            boston_types=boston_types,
            **numbers,
        )
    if OTHER_SERVICE_CODE not in services:
        raise ConfigurationError(
            f"{path}: the catalogue needs an {OTHER_SERVICE_CODE!r} service for unknown types"
        )
    return Catalogue(services=services, states=states, groups=groups)
