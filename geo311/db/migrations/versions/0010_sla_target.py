"""The service-level target apart from the expected time: ``service_requests.sla_target_datetime``.

Until now ``expected_datetime`` held both the City's due time (filled at import) and, once a plan
was published, the stop's ETA, and SLA counts read it. The new column holds the target only;
``expected_datetime`` stays the Open311 field (the latest published ETA, else the target).
Every row is kept. The backfill:

* a request whose expected time no published plan set (``expected_plan_id`` NULL) and that has
  one: the target is that time (the City's due time as imported, or the catalogue's);
* a request whose expected time is a published plan's ETA (``expected_plan_id`` set) and that
  is the only report of its work order: the work order's ``sla_due`` is the request's due time
  when the order was last summarised, the City's due time unless that was an ETA: it is taken
  when it is no ETA any published plan gave that work order (the plans' stored ``arrival``
  times);
* any other request whose expected time a plan overwrote or cleared (NULL): the store keeps no
  other copy of the City's due time (no raw column), so the target is ``requested_datetime``
  plus the SLA of its service in the city profile's service catalogue (read here as plain
  TOML, so later changes to :mod:`geo311.city.catalogue` cannot break this revision);
* a cleared expected time (NULL) becomes the target (the Open311 field when no plan has an ETA);
* each work order's ``sla_due`` becomes its members' earliest target again (a work order
  summarised after a publication had taken an ETA as its due time).

Revision ID: 0010
Revises: 0008
"""

from __future__ import annotations

import contextlib
import json
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic import op

# Spelt out as in 0001: what geo311.db.schema.UTCDateTime stores.
UTCDateTime = sa.DateTime(timezone=True)

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_requests = sa.table(
    "service_requests",
    sa.column("service_request_id", sa.String),
    sa.column("service_code", sa.String),
    sa.column("requested_datetime", UTCDateTime),
    sa.column("expected_datetime", UTCDateTime),
    sa.column("sla_target_datetime", UTCDateTime),
    sa.column("expected_plan_id", sa.Integer),
    sa.column("work_order_id", sa.Integer),
)
_work_orders = sa.table(
    "work_orders", sa.column("work_order_id", sa.Integer), sa.column("sla_due", UTCDateTime)
)
# The catalogue's code for a type it does not know (geo311.city.catalogue.OTHER_SERVICE_CODE).
_OTHER = "other"


def upgrade() -> None:
    """Add ``sla_target_datetime``, fill it, restore cleared expected times and due times."""
    op.add_column("service_requests", sa.Column("sla_target_datetime", UTCDateTime))
    conn = op.get_bind()
    r = _requests.c
    conn.execute(
        _requests.update()
        .where(r.expected_plan_id.is_(None), r.expected_datetime.is_not(None))
        .values(sla_target_datetime=r.expected_datetime)
    )
    _fill_from_lone_work_orders(conn)
    _fill_from_catalogue(conn)
    conn.execute(
        _requests.update()
        .where(r.expected_datetime.is_(None))
        .values(expected_datetime=r.sla_target_datetime)
    )
    _restore_work_order_due_times(conn)


def _fill_from_lone_work_orders(conn: sa.Connection) -> None:
    """Give a scheduled request alone in its work order that order's due time, if no ETA."""
    r, w = _requests.c, _work_orders.c
    sizes = (
        sa.select(r.work_order_id, sa.func.count().label("n"))
        .where(r.work_order_id.is_not(None))
        .group_by(r.work_order_id)
        .subquery()
    )
    rows = conn.execute(
        sa.select(r.service_request_id, w.work_order_id, w.sla_due, r.expected_datetime)
        .join(_work_orders, w.work_order_id == r.work_order_id)
        .join(sizes, sizes.c.work_order_id == r.work_order_id)
        .where(r.expected_plan_id.is_not(None), sizes.c.n == 1)
    ).all()
    if not rows:
        return
    etas = _published_etas(conn)
    found = [
        {"_id": rid, "_target": due}
        for rid, wid, due, expected in rows
        if due is not None
        and (expected is None or _utc(due) != _utc(expected))
        and _utc(due) not in etas.get(int(wid), set())
    ]
    if found:
        conn.execute(
            _requests.update()
            .where(r.service_request_id == sa.bindparam("_id"))
            .values(sla_target_datetime=sa.bindparam("_target")),
            found,
        )


def _published_etas(conn: sa.Connection) -> dict[int, set[datetime]]:
    """Return ``work_order_id -> every ETA (UTC) a published plan's job steps gave it``."""
    plans = sa.table("plans", sa.column("payload", sa.Text), sa.column("published_at", UTCDateTime))
    etas: dict[int, set[datetime]] = {}
    published = sa.select(plans.c.payload).where(plans.c.published_at.is_not(None))
    for (payload,) in conn.execute(published):
        for ref, arrival in _job_arrivals(payload):
            with contextlib.suppress(ValueError):  # not ISO 8601: not an ETA anyone was given
                etas.setdefault(ref, set()).add(_utc(arrival))
    return etas


def _job_arrivals(payload: str) -> Iterator[tuple[int, str]]:
    """Yield ``(work_order_id, arrival)`` of the job steps of a stored plan document."""
    try:
        doc = json.loads(payload)
    except (TypeError, ValueError):
        return
    routes = doc.get("routes") if isinstance(doc, dict) else None
    for route in routes if isinstance(routes, list) else []:
        steps = route.get("steps") if isinstance(route, dict) else None
        for step in steps if isinstance(steps, list) else []:
            if not isinstance(step, dict):
                continue
            ref, arrival = step.get("ref"), step.get("arrival")
            if isinstance(ref, str) and ref.isdigit() and isinstance(arrival, str):
                yield int(ref), arrival


def _utc(value: datetime | str) -> datetime:
    # SQLite hands back naive UTC datetimes (or the stored text); PostgreSQL aware ones.
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _fill_from_catalogue(conn: sa.Connection) -> None:
    """Give the requests still without a target ``requested_datetime`` + their service's SLA."""
    r = _requests.c
    rows = conn.execute(
        sa.select(r.service_request_id, r.service_code, r.requested_datetime).where(
            r.sla_target_datetime.is_(None)
        )
    ).all()
    if not rows:
        return
    sla_of = _catalogue_sla()
    conn.execute(
        _requests.update()
        .where(r.service_request_id == sa.bindparam("_id"))
        .values(sla_target_datetime=sa.bindparam("_target")),
        [{"_id": rid, "_target": _target(at, sla_of(code))} for rid, code, at in rows],
    )


def _target(requested: datetime | str, sla: timedelta) -> datetime:
    # SQLite may hand back the stored text; it is UTC like every stored time.
    at = datetime.fromisoformat(requested) if isinstance(requested, str) else requested
    return at + sla


def _catalogue_sla() -> Callable[[str], timedelta]:
    """Return ``service_code -> SLA`` from the city profile's service catalogue file."""
    from geo311.city.profile import default_city  # the profile in use (GEO311_CITY_DIR or embedded)

    path = default_city().file("services")
    try:
        raw = tomllib.loads(Path(str(path)).read_text(encoding="utf-8"))
        hours = {code: float(e["sla_hours"]) for code, e in raw["services"].items()}
    except (OSError, KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise RuntimeError(
            f"migration 0010 reads each service's sla_hours from the catalogue {path} to "
            f"give reports whose due time a plan overwrote their SLA target, and could not: "
            f"{exc}; fix the catalogue file (or GEO311_CITY_DIR) and open the store again"
        ) from exc
    if _OTHER not in hours:
        raise RuntimeError(f"the catalogue {path} has no {_OTHER!r} service; add it")

    def sla(code: str) -> timedelta:
        return timedelta(hours=hours.get(code, hours[_OTHER]))

    return sla


def _restore_work_order_due_times(conn: sa.Connection) -> None:
    """Set each work order's ``sla_due`` to its members' earliest target."""
    r, w = _requests.c, _work_orders.c
    earliest = (
        sa.select(sa.func.min(r.sla_target_datetime))
        .where(r.work_order_id == w.work_order_id)
        .scalar_subquery()
    )
    has_members = sa.exists().where(
        r.work_order_id == w.work_order_id, r.sla_target_datetime.is_not(None)
    )
    conn.execute(_work_orders.update().where(has_members).values(sla_due=earliest))


def downgrade() -> None:
    """Drop ``sla_target_datetime`` (expected times and due times stay as they are)."""
    with op.batch_alter_table("service_requests") as batch:
        batch.drop_column("sla_target_datetime")
