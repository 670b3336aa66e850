"""Domain types of geo311: service requests (Open311 GeoReport v2 fields) and work orders.

Plain frozen dataclasses; database rows stay in :mod:`geo311.db.store`. Every datetime is
timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from geo311.city.profile import City, default_city

OPEN311_SOURCE = "open311"
"""The ``source`` of requests posted through Open311 (their ``source_id`` is the POST's token)."""


def is_placeholder_point(lat: float | None, lon: float | None, *, city: City | None = None) -> bool:
    """Return whether a point is one of the city's "no location" placeholders (City Hall).

    Parameters
    ----------
    lat, lon
        The point, in degrees; ``None`` is never a placeholder.
    city
        The city profile (default :func:`geo311.city.profile.default_city`).

    Returns
    -------
    bool
        True when the point equals a placeholder of ``city.toml`` to 4 decimals.
    """
    return (city or default_city()).is_placeholder(lat, lon)


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """One 311 service request: the Open311 GeoReport v2 fields plus where it came from.

    Attributes
    ----------
    service_request_id
        Open311 id (for Boston records, the ``CASE_ENQUIRY_ID``).
    service_code
        Catalogue service code (``other`` for an unmapped Boston type).
    status
        Catalogue state code (``open``, ``fixed``, ``duplicate`` ...).
    requested_datetime, updated_datetime, expected_datetime, closed_datetime
        Report time, last change, expected time (Open311: the ETA of the latest published
        plan, else the SLA target) and closure time (timezone-aware).
    sla_target_datetime
        The service-level target: the City's due time, else ``requested_datetime`` plus the
        catalogue SLA. No plan moves it; SLA counts, breaches and priorities read it.
    lat, long
        Location in EPSG:4326; ``None`` until geocoded when ``needs_geocoding``.
    source, source_id
        Source system (``boston``, ``open311``) and its id; re-imports upsert on these.
    """

    service_request_id: str
    service_code: str
    status: str
    requested_datetime: datetime
    source: str
    source_id: str
    service_name: str = ""
    status_notes: str = ""
    description: str = ""
    updated_datetime: datetime | None = None
    expected_datetime: datetime | None = None
    sla_target_datetime: datetime | None = None
    closed_datetime: datetime | None = None
    address: str = ""
    zipcode: str = ""
    lat: float | None = None
    long: float | None = None
    media_url: str = ""
    channel: str = ""
    neighborhood: str = ""
    closure_category: str = ""
    source_type: str = ""
    needs_geocoding: bool = False
    geocode_match_type: str = ""
    geocode_score: float | None = None
    work_order_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def with_changes(self, **changes: Any) -> ServiceRequest:
        """Return a copy with some fields changed."""
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class WorkOrder:
    """Nearby open reports of one defect, merged into one job for a crew.

    Attributes
    ----------
    work_order_id
        Store id.
    service_group
        Catalogue group (``potholes``, ``streetlights``).
    service_code
        Service of the first report (decides on-site time and skill).
    lat, lon
        Representative point, snapped to the street network (EPSG:4326).
    opened
        Earliest request time of the members.
    sla_due
        Earliest SLA target of the members (``sla_target_datetime``; never a plan's ETA).
    report_count
        Number of member requests.
    status
        Catalogue state code.
    member_ids
        ``service_request_id`` of every member.
    """

    work_order_id: int
    service_group: str
    service_code: str
    lat: float
    lon: float
    opened: datetime
    sla_due: datetime
    report_count: int
    status: str
    member_ids: tuple[str, ...] = ()
    address: str = ""
    closed_datetime: datetime | None = None
    closure_category: str = ""
    status_notes: str = ""
    failed_repair_of: int | None = None
