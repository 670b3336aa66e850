"""Logic of the citizen's public pages: nearby open reports and a request's public timeline.

No personal detail of any reporter leaves here: reports are shown by service, address, time
and the city's notes. A request's own page shows its description and photo (public in the
Open311 API too; the report page says so next to those fields); comments are not shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from geo311.city.catalogue import Catalogue
from geo311.city.profile import City
from geo311.db.store import Store
from geo311.errors import NotFoundError
from geo311.i18n import Localizer
from geo311.model import ServiceRequest
from geo311.requests import repo as request_repo
from geo311.requests import updates as update_log
from geo311.workorders import repo as work_order_repo

NEARBY_WINDOW = timedelta(days=90)
NEARBY_LIMIT = 10
_M_PER_DEG = 111_320.0


def nearby_open(
    store: Store,
    catalogue: Catalogue,
    *,
    service_code: str,
    lat: float,
    lon: float,
    now: datetime,
) -> list[dict[str, Any]]:
    """Return open reports of a service within its duplicate radius of a point, nearest first.

    Each item: ``service_request_id``, ``address``, ``requested_datetime`` (ISO), ``distance_m``,
    ``lat``, ``long``, ``url`` (the public timeline). At most :data:`NEARBY_LIMIT`.
    """
    service = catalogue.service(service_code)
    radius = service.duplicate_radius_m
    dlat = radius / _M_PER_DEG
    dlon = radius / (_M_PER_DEG * max(math.cos(math.radians(lat)), 0.01))
    open_states = [code for code, s in catalogue.states.items() if s.is_open]
    found = request_repo.query_requests(
        store,
        request_repo.RequestFilters(
            service_codes=[service_code],
            statuses=open_states,
            start=now - NEARBY_WINDOW,
            end=now + timedelta(minutes=1),
            bbox=(lon - dlon, lat - dlat, lon + dlon, lat + dlat),
            limit=200,
        ),
    )
    out: list[dict[str, Any]] = []
    for req in found:
        if req.lat is None or req.long is None:
            continue
        dy = (req.lat - lat) * _M_PER_DEG
        dx = (req.long - lon) * _M_PER_DEG * math.cos(math.radians(lat))
        dist = math.hypot(dx, dy)
        if dist <= radius:
            out.append(
                {
                    "service_request_id": req.service_request_id,
                    "address": req.address or "",
                    "requested_datetime": req.requested_datetime.isoformat(timespec="seconds"),
                    "distance_m": round(dist),
                    "lat": req.lat,
                    "long": req.long,
                    "url": f"/requests/{req.service_request_id}",
                }
            )
    out.sort(key=lambda item: float(item["distance_m"]))
    return out[:NEARBY_LIMIT]


def question_sets(catalogue: Catalogue, city: City) -> list[dict[str, Any]]:
    """Return the services' Open311 attributes as the report page's questions, per group.

    Each item: ``group``, ``services`` (the service codes that ask them, space-separated) and
    ``questions`` (the attribute definitions in their ``order``; ``attribute[CODE]`` in the
    POST). Groups without attributes are left out.
    """
    by_group: dict[str, list[str]] = {}
    for service in catalogue.services.values():
        by_group.setdefault(service.group, []).append(service.code)
    out = []
    for group, codes in sorted(by_group.items()):
        questions = sorted(city.attributes.get(group, []), key=lambda a: a.get("order", 0))
        if questions:
            out.append(
                {"group": group, "services": " ".join(sorted(codes)), "questions": questions}
            )
    return out


def reported(
    description: str, questions: list[dict[str, Any]]
) -> tuple[str, list[tuple[str, str]]]:
    """Split a request's description into the reporter's text and the answers to the questions.

    The Open311 handler appends each ``attribute[CODE]`` answer as a ``CODE: value`` line;
    those of the service's questions come back as ``(question, answer)`` in plain words.
    """
    defs = {str(q["code"]): q for q in questions}
    text_lines, answers = [], []
    for line in description.splitlines():
        code, sep, value = line.partition(": ")
        q = defs.get(code.strip()) if sep else None
        if q is None:
            text_lines.append(line)
            continue
        names = {str(v["key"]): str(v["name"]) for v in q.get("values") or []}
        answers.append((str(q["description"]), names.get(value.strip(), value.strip())))
    return "\n".join(text_lines).strip(), answers


@dataclass(frozen=True)
class TimelineEvent:
    """One line of a request's public timeline."""

    kind: str
    title: str
    when: datetime
    text: str = ""
    photo: str = ""


def _when(t: datetime, tz: ZoneInfo) -> datetime:
    return t.astimezone(tz)


def timeline(
    store: Store,
    catalogue: Catalogue,
    service_request_id: str,
    *,
    tz: ZoneInfo,
    i18n: Localizer | None = None,
) -> tuple[ServiceRequest, list[TimelineEvent], int]:
    """Return a request, its public timeline (oldest first) and how many neighbours reported it.

    Events: received; merged with N neighbours' reports; every status change with the city's
    note; scheduled (the ETA window) and unscheduled; fixed/closed with the crew's note and
    photo. Citizens' comments are not shown (they may name people). Titles are in the
    language of ``i18n`` (default English); the city's state labels and notes are its data
    and stay as written.

    Raises
    ------
    NotFoundError
        If no request has this id.
    """
    tr = i18n or Localizer("en", "en_US", str(tz))
    req = request_repo.get_request(store, service_request_id)
    received = tr.gettext("Report received")
    events = [TimelineEvent("received", received, _when(req.requested_datetime, tz))]
    neighbours = 0
    if req.work_order_id is not None:
        try:
            neighbours = max(
                work_order_repo.get_work_order(store, req.work_order_id).report_count - 1, 0
            )
        except NotFoundError:
            neighbours = 0
    if neighbours:
        merged = tr.ngettext(
            "Merged: %(n)d neighbour reported it too",
            "Merged: %(n)d neighbours reported it too",
            neighbours,
        ) % {"n": neighbours}
        events.append(
            TimelineEvent(
                "merged",
                merged,
                _when(req.requested_datetime, tz),
                tr.gettext("The city handles these reports as one job."),
            )
        )
    for u in update_log.request_updates_of(store, service_request_id):
        if u["kind"] == "comment":
            continue
        state = catalogue.states.get(u["status"])
        label = tr.city(state.label if state is not None else str(u["status"]))
        title = {
            "scheduled": tr.gettext("Scheduled"),
            "unscheduled": tr.gettext("No longer scheduled"),
            "note": tr.gettext("Note from the city"),
        }.get(u["kind"], label)
        events.append(
            TimelineEvent(
                str(u["kind"] if u["kind"] != "status" else u["status"]),
                title,
                _when(u["updated_datetime"], tz),
                str(u["description"] or ""),
                str(u["media_url"] or ""),
            )
        )
    return req, events, neighbours


def is_scheduled(events: list[TimelineEvent]) -> bool:
    """Tell whether the request's latest schedule event is a published ETA (not a clearing)."""
    last = [e.kind for e in events if e.kind in ("scheduled", "unscheduled")]
    return bool(last) and last[-1] == "scheduled"
