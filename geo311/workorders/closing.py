"""Closing a work order: its open reports close with one state, note and notification."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from geo311.city.catalogue import Catalogue
from geo311.city.profile import default_city
from geo311.db.store import Store
from geo311.errors import ConflictError, InputError
from geo311.model import WorkOrder
from geo311.notify import Event, enqueue
from geo311.requests import repo as request_repo
from geo311.workorders import repo as work_order_repo
from geo311.workorders.grouping import default_catalogue, lock_work_order, request_close_time

__all__ = ["Closure", "close_work_order"]


def _default_note(state_code: str, label: str, group: str, wid: int, day: str) -> str:
    if group == "fixed":
        return f"Repaired by crew on {day}"
    if state_code == "duplicate":
        return f"Duplicate of an existing report; closed with work order {wid} on {day}"
    return f"{label} on {day} (work order {wid})"


@dataclass(frozen=True, kw_only=True)
class Closure:
    """How a work order is closed: the state, category and note its reports close with.

    Parameters
    ----------
    status : str
        A catalogue state of the ``fixed`` or ``closed`` group (e.g. ``fixed``, ``duplicate``).
    closure_category : str
        The closure category written on every member (e.g. ``Case Resolved``).
    at : datetime
        When the work was closed (timezone-aware).
    note : str, optional
        Status note a citizen reads; default e.g. "Repaired by crew on 2015-10-06".
    media_url : str
        A photo of the finished work (e.g. the crew's): the closing update of every member
        carries it, and it becomes the ``media_url`` of the members that had no photo.
    """

    status: str
    closure_category: str
    at: datetime
    note: str | None = None
    media_url: str = ""


def close_work_order(
    store: Store,
    work_order_id: int,
    closure: Closure,
    *,
    catalogue: Catalogue | None = None,
    timezone: str | None = None,
) -> WorkOrder:
    """Close an open work order and every open member request with the same state and note.

    Parameters
    ----------
    store
        The store.
    work_order_id
        The work order.
    closure
        The closing state, category, time, note and photo (:class:`Closure`).
    catalogue
        States; default the embedded ``data/services.toml``.
    timezone
        Local time zone of the date in the default note (default: the city profile's).

    Returns
    -------
    WorkOrder
        The closed work order.

    Raises
    ------
    InputError
        If ``status`` is unknown or open, ``closure_category`` is empty, or ``at`` is naive or
        before the work order opened.
    NotFoundError
        If the work order does not exist.
    ConflictError
        If the work order is already closed.
    """
    status, closure_category, at = closure.status, closure.closure_category, closure.at
    note, media_url = closure.note, closure.media_url
    cat = catalogue or default_catalogue()
    state = cat.state(status)
    if state.is_open:
        closing = ", ".join(s.code for s in cat.states.values() if not s.is_open)
        raise InputError(
            f"status {status!r} is an open state; close with one of: {closing}", field="status"
        )
    if not closure_category.strip():
        raise InputError(
            "closure_category is empty; give the closure category, e.g. 'Case Resolved'",
            field="closure_category",
        )
    if at.tzinfo is None:
        raise InputError("at must be timezone-aware (e.g. 2015-10-06T14:00-04:00)", field="at")
    with store.begin() as conn:
        lock_work_order(store, conn, cat, work_order_id)
        wo = work_order_repo.get_work_order(store, work_order_id)
        wo_state = cat.states.get(wo.status)
        if wo.closed_datetime is not None or (wo_state is not None and not wo_state.is_open):
            raise ConflictError(
                f"work order {work_order_id} is already {wo.status}"
                + (f" since {wo.closed_datetime.isoformat()}" if wo.closed_datetime else "")
                + "; it cannot be closed again"
            )
        if at < wo.opened:
            raise InputError(
                f"at {at.isoformat()} is before work order {work_order_id} opened "
                f"({wo.opened.isoformat()}); give a later time",
                field="at",
            )
        day = at.astimezone(ZoneInfo(timezone or default_city().timezone)).date().isoformat()
        text = note or _default_note(state.code, state.label, state.group, work_order_id, day)
        members = work_order_repo.work_order_members(store, conn, [work_order_id])[work_order_id]
        open_ids = [m.service_request_id for m in members if request_close_time(m, cat) is None]
        request_repo.update_requests_in(
            store,
            conn,
            open_ids,
            status=state.code,
            closure_category=closure_category,
            status_notes=text,
            closed_datetime=at,
            updated_datetime=at,
            update_media_url=media_url,
        )
        if media_url:  # a reporter's own photo stays the request's photo
            bare = [m.service_request_id for m in members if not m.media_url]
            request_repo.update_requests_in(
                store, conn, [i for i in open_ids if i in bare], media_url=media_url
            )
        _tell_closed(conn, open_ids, work_order_id, status=state.code, note=text, at=at)
        earlier = [c for m in members if (c := request_close_time(m, cat)) is not None]
        work_order_repo.update_work_orders(
            store,
            conn,
            [
                {
                    "work_order_id": work_order_id,
                    "status": state.code,
                    "closure_category": closure_category,
                    "status_notes": text,
                    "closed_datetime": max([at, *earlier]),
                }
            ],
        )
    return work_order_repo.get_work_order(store, work_order_id)


def _tell_closed(
    conn: Any,
    request_ids: Sequence[str],
    work_order_id: int,
    *,
    status: str,
    note: str,
    at: datetime,
) -> None:
    """Queue the "closed" notification of each request closed now, in the closing transaction."""
    for rid in request_ids:
        event = Event(
            type="closed",
            service_request_id=rid,
            work_order_id=work_order_id,
            occurred_at=at,
            status=status,
            note=note,
        )
        enqueue(conn, event)
