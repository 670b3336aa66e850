"""Publishing a plan from the API: ``POST /plans/{id}/publish`` and the dispatcher's console.

A thin caller of :func:`geo311.plans.publishing.publish`, which writes the publication, the
reports' ETAs, their updates, the ``scheduled`` notifications and the audit row in one
transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from geo311.db.store import Store
from geo311.plans.publishing import publish


def publish_for_crews(
    store: Store,
    plan_id: int,
    *,
    by: str,
    tz: ZoneInfo,
    audit: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Publish a plan to the crews (their itineraries) and to the citizens (ETAs, e-mails).

    The ``plan.publish`` audit row (by ``by``, ``after`` = ``audit`` + the counts) is written
    in the same transaction.

    Returns
    -------
    dict
        ``plan_id``, ``scheduled`` (reports given an ETA) and ``cleared`` (reports whose ETA
        an earlier published plan gave and this one no longer has).

    Raises
    ------
    NotFoundError
        If no plan has this id.
    ConflictError
        If the plan is published already.
    """
    return publish(store, plan_id, by=by, tz=tz, audit=audit or {}).counts()
