"""Validated status transitions of work orders (the dispatcher's and the crews' workflow).

The domain rule lives here; the API's routers only call :func:`apply_status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from geo311.city.catalogue import Catalogue
from geo311.city.profile import default_city
from geo311.db.store import Store
from geo311.errors import ConflictError
from geo311.model import WorkOrder
from geo311.requests import repo as request_repo
from geo311.workorders import repo as work_order_repo


def check_transition(catalogue: Catalogue, current: str, new: str) -> None:
    """Refuse a transition that the workflow does not allow.

    Open states (open, scheduled, in_progress) may move to any other state; closed and fixed
    work orders are final (a new report opens a new work order, flagged as a failed repair).

    Raises
    ------
    ConfigurationError
        If ``new`` is not a catalogue state.
    ConflictError
        If the work order is already closed, or ``new`` equals the current state.
    """
    target = catalogue.state(new)
    state = catalogue.state(current)
    if not state.is_open:
        raise ConflictError(
            f"status: the work order is already {current!r} (final); a new report opens a new "
            "work order"
        )
    if target.code == state.code:
        raise ConflictError(f"status: the work order is already {current!r}; send another state")


@dataclass(frozen=True, kw_only=True)
class StatusChange:
    """A move of a work order to another state, as a dispatcher or a crew asks for it.

    Parameters
    ----------
    status : str
        Target state code.
    note : str
        Citizen-readable status note (copied to the member requests).
    closure_category : str
        Closure category when closing (default: the state's label).
    at : datetime, optional
        When (default: now).
    media_url : str
        A photo of the finished work, kept with the closing update (closing states only).
    """

    status: str
    note: str = ""
    closure_category: str = ""
    at: datetime | None = None
    media_url: str = ""


def apply_status(
    store: Store,
    catalogue: Catalogue,
    work_order_id: int,
    change: StatusChange,
    *,
    timezone: str | None = None,
) -> WorkOrder:
    """Move a work order to ``status``; a closing state closes every open member request.

    Parameters
    ----------
    store
        The store.
    catalogue
        Gives the states.
    work_order_id
        The work order.
    change
        The target state, note, closure category, time and photo (:class:`StatusChange`).
    timezone
        The city's zone, for the default closing note (default: the city profile's).

    Returns
    -------
    WorkOrder
        The updated work order.

    Raises
    ------
    NotFoundError
        If the work order does not exist.
    ConflictError
        If the transition is not allowed (see :func:`check_transition`).
    """
    from geo311.workorders.closing import Closure, close_work_order
    from geo311.workorders.grouping import lock_work_order

    status, note = change.status, change.note
    at = change.at or datetime.now(UTC)
    target = catalogue.state(status)
    check_transition(catalogue, work_order_repo.get_work_order(store, work_order_id).status, status)
    if not target.is_open:
        closure = Closure(
            status=status,
            closure_category=change.closure_category or target.label,
            note=note or None,
            at=at,
            media_url=change.media_url,
        )
        return close_work_order(
            store,
            work_order_id,
            closure,
            catalogue=catalogue,
            timezone=timezone or default_city().timezone,
        )
    with store.begin() as conn:
        lock_work_order(store, conn, catalogue, work_order_id)
        check_transition(
            catalogue, work_order_repo.get_work_order(store, work_order_id).status, status
        )
        row: dict[str, object] = {"work_order_id": work_order_id, "status": status}
        if note:
            row["status_notes"] = note
        work_order_repo.update_work_orders(store, conn, [row])
        members = work_order_repo.work_order_members(store, conn, [work_order_id])[work_order_id]
        open_ids = [
            m.service_request_id
            for m in members
            if (st := catalogue.states.get(m.status)) is not None and st.is_open
        ]
        values: dict[str, Any] = {"status": status, "updated_datetime": at}
        if note:
            values["status_notes"] = note
        request_repo.update_requests_in(store, conn, open_ids, **values)
    return work_order_repo.get_work_order(store, work_order_id)
