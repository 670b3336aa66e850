"""The planner dashboard's filters: a period of receipt, a service and a neighbourhood.

Every table, chart and map of the dashboard shows the requests that pass the same filters;
the CSV links carry them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import pandas as pd

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.requests import repo as request_repo
from geo311.requests.performance import Period, parse_period, select_requests

OUTSIDE = "outside named neighbourhoods"
"""Shown for the requests whose neighbourhood is empty (outside every named one)."""
_COLUMNS = (
    "service_request_id",
    "service_code",
    "neighborhood",
    "status",
    "requested_datetime",
    "sla_target_datetime",
    "closed_datetime",
    "lat",
    "lon",
)


def requests_with_points(store: Store) -> pd.DataFrame:
    """Return every request's metric columns and its point (times tz-aware UTC).

    The columns of :func:`geo311.requests.metrics.requests_frame` plus ``lat`` and ``lon``.
    """
    frame = pd.DataFrame(
        request_repo.requests_frame_rows(store, list(_COLUMNS)), columns=list(_COLUMNS)
    )
    for col in ("requested_datetime", "sla_target_datetime", "closed_datetime"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    frame["neighborhood"] = frame["neighborhood"].fillna("")
    return frame


def chosen_period(start: str | None, end: str | None) -> Period | None:
    """Return the period the planner chose (ISO dates), or None for every request.

    Raises
    ------
    InputError
        Naming ``from`` or ``to`` (see :func:`geo311.requests.performance.parse_period`).
    """
    if not start and not end:
        return None
    return parse_period(start, end, latest=None)


@dataclass(frozen=True)
class PlannerFilters:
    """What the planner chose: requests received in ``period``, of ``service``, in an area.

    Attributes
    ----------
    period
        None: every request.
    service
        A service code; empty: every service.
    neighbourhood
        A neighbourhood's name (:data:`OUTSIDE` for the empty one); empty: everywhere.
    """

    period: Period | None = None
    service: str = ""
    neighbourhood: str = ""

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return the requests of the chosen service and neighbourhood (any time)."""
        area = "" if self.neighbourhood == OUTSIDE else self.neighbourhood
        return select_requests(
            frame,
            services=[self.service] if self.service else (),
            neighbourhoods=[area] if self.neighbourhood else (),
        )

    def query(self) -> str:
        """Return the filters as a query string (``from=...&to=...``; empty: none)."""
        pairs = {
            "from": self.period.start.isoformat() if self.period else "",
            "to": self.period.end.isoformat() if self.period else "",
            "service": self.service,
            "neighbourhood": self.neighbourhood,
        }
        return urlencode({k: v for k, v in pairs.items() if v})

    def describe(self, names: Mapping[str, str]) -> str:
        """Return the filters in words (``""`` with none), e.g. ``", received ... to ..."``."""
        parts = []
        if self.period is not None:
            parts.append(f"received {self.period.start} to {self.period.end}")
        if self.service:
            parts.append(names.get(self.service, self.service))
        if self.neighbourhood:
            parts.append(f"in {self.neighbourhood}")
        return "".join(f", {p}" for p in parts)


def parse_filters(
    *,
    start: str | None,
    end: str | None,
    service: str | None,
    neighbourhood: str | None,
    catalogue: Catalogue,
) -> PlannerFilters:
    """Return the planner's filters from the page's query.

    Raises
    ------
    InputError
        Naming ``from``, ``to`` or ``service`` (a code the catalogue does not have).
    """
    code = (service or "").strip()
    if code and code not in catalogue.services:
        raise InputError(
            f"service: {code!r} is not a service of the catalogue; choose one from the list",
            field="service",
        )
    return PlannerFilters(chosen_period(start, end), code, (neighbourhood or "").strip())


def neighbourhood_choices(frame: pd.DataFrame) -> list[str]:
    """Return the neighbourhoods of the requests, by name, :data:`OUTSIDE` last when present."""
    names = sorted({str(n) for n in frame["neighborhood"] if n})
    return names + ([OUTSIDE] if (frame["neighborhood"] == "").any() else [])
