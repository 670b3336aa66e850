"""The work orders open at a moment, as the dispatcher's console and the maps see them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.model import WorkOrder
from geo311.workorders import repo as work_order_repo
from geo311.workorders.grouping import default_catalogue

__all__ = ["merged_report_count", "open_work_orders_at"]


def open_work_orders_at(
    store: Store,
    at: datetime,
    *,
    groups: Sequence[str] | None = None,
    catalogue: Catalogue | None = None,
) -> list[WorkOrder]:
    """Return the work orders open at a moment, as they stood then.

    Members reported after ``at`` are left out (``member_ids``, ``report_count`` and ``sla_due``
    count only earlier reports) and an order closed later shows as open. ``sla_due`` is the
    members' earliest SLA target: a plan published since (its ETAs) changes nothing here.

    Parameters
    ----------
    store
        The store.
    at
        The moment (timezone-aware), e.g. a busy autumn 2015 morning.
    groups
        Keep only these service groups.
    catalogue
        Service SLAs for members without an SLA target; default the embedded catalogue.

    Returns
    -------
    list of WorkOrder
        Oldest first.
    """
    if at.tzinfo is None:
        raise InputError("at must be timezone-aware (e.g. 2015-10-06T08:00-04:00)", field="at")
    cat = catalogue or default_catalogue()
    out: list[WorkOrder] = []
    for wo, members in work_order_repo.work_orders_open_at(store, at, groups=groups):
        mem = [m for m in members if m.requested_datetime <= at] or members[:1]
        sla_due = min(cat.sla_target(m) for m in mem) if mem else wo.sla_due
        changes: dict[str, Any] = {
            "member_ids": tuple(m.service_request_id for m in mem),
            "report_count": len(mem) or wo.report_count,
            "sla_due": sla_due,
        }
        if wo.closed_datetime is not None:
            changes.update(
                status="open", closed_datetime=None, closure_category="", status_notes=""
            )
        out.append(replace(wo, **changes))
    return out


def merged_report_count(work_orders: Iterable[WorkOrder]) -> int:
    """Return how many reports were merged into other reports' work orders.

    Parameters
    ----------
    work_orders
        Work orders.

    Returns
    -------
    int
        The sum of ``report_count - 1``.
    """
    return sum(max(0, wo.report_count - 1) for wo in work_orders)
