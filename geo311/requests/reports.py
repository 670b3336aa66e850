"""A citizen's report as the city receives it: built, acknowledged and put in a work order.

The Open311 POST (:mod:`api.open311.router`) and the city's report page check the form; here
the checked report (:class:`NewRequest`) becomes the stored request, its reporter's contact and
"received" acknowledgement are kept in the same transaction (:func:`acknowledge`), and it joins
or opens a work order (:func:`assign_stored`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.model import OPEN311_SOURCE, ServiceRequest
from geo311.notify import Event, enqueue, save_contact
from geo311.requests import repo as request_repo
from geo311.workorders.grouping import assign_request

__all__ = [
    "Intake",
    "NewRequest",
    "acknowledge",
    "assign_stored",
    "build_request",
    "find_by_token",
    "new_request_id",
]


@dataclass(frozen=True)
class NewRequest:
    """A validated ``POST requests`` body (the contact fields are kept apart, never public)."""

    service_code: str
    lat: float | None
    long: float | None
    address_string: str
    description: str
    media_url: str
    attributes: dict[str, str]
    contact: dict[str, str] = field(default_factory=dict)


def acknowledge(conn: Any, req: ServiceRequest, contact: Mapping[str, str]) -> None:
    """Keep the reporter's contact and queue the "received" acknowledgement (POST's transaction).

    Parameters
    ----------
    conn
        The connection of the transaction that stores the request.
    req
        The new request.
    contact
        ``email``, ``first_name``, ``last_name``, ``phone`` as posted and ``language`` (the
        language its e-mails are written in); empty values ignored.
    """
    given = {k: v.strip() for k, v in contact.items() if v and v.strip()}
    if given:
        save_contact(conn, req.service_request_id, **given)
    enqueue(
        conn,
        Event(
            type="received",
            service_request_id=req.service_request_id,
            occurred_at=req.requested_datetime,
        ),
    )


def new_request_id() -> str:
    """Return a fresh, unguessable service_request_id for a request posted through Open311."""
    return "G" + secrets.token_hex(8)


def find_by_token(store: Store, token: str) -> str | None:
    """Return the service_request_id of the request posted with this token (None if unknown)."""
    with store.begin() as conn:
        found = request_repo.existing_hashes(store, conn, OPEN311_SOURCE, [token])
    hit = found.get(token)
    return hit[0] if hit else None


def build_request(
    new: NewRequest,
    catalogue: Catalogue,
    *,
    token: str,
    now: datetime,
    geocoded: tuple[float, float, str, float | None] | None,
) -> ServiceRequest:
    """Return the ServiceRequest to store for a validated POST."""
    service = catalogue.service(new.service_code)
    lat, lon = new.lat, new.long
    match_type, score = "", None
    if geocoded is not None:
        lat, lon, match_type, score = geocoded
    extra_text = "".join(f"\n{k}: {v}" for k, v in sorted(new.attributes.items()))
    return ServiceRequest(
        service_request_id=new_request_id(),
        service_code=service.code,
        service_name=service.name,
        status="open",
        requested_datetime=now,
        updated_datetime=now,
        expected_datetime=now + service.sla,
        sla_target_datetime=now + service.sla,
        source=OPEN311_SOURCE,
        source_id=token,
        description=(new.description + extra_text).strip(),
        address=new.address_string,
        lat=lat,
        long=lon,
        media_url=new.media_url,
        channel="open311",
        geocode_match_type=match_type or ("client" if new.lat is not None else ""),
        geocode_score=score,
    )


@dataclass(frozen=True)
class Intake:
    """What happened to a posted request: its id and the notice for the citizen."""

    service_request_id: str
    service_notice: str
    work_order_id: int | None
    joined: bool


def assign_stored(store: Store, catalogue: Catalogue, req: ServiceRequest) -> Intake:
    """Put a posted request, stored already, in a work order (joining a nearby open one).

    Parameters
    ----------
    store
        The store holding ``req``.
    catalogue
        Decides the service group and duplicate radius.
    req
        The new request.

    Returns
    -------
    Intake
        The id and the ``service_notice`` (says when the report joined an existing job).
    """
    assignment = assign_request(store, req, catalogue)
    return Intake(
        service_request_id=req.service_request_id,
        service_notice=str(assignment.message),
        work_order_id=assignment.work_order_id,
        joined=bool(assignment.joined),
    )
