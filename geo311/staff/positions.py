"""The crews' last shared position: one row per crew, upserted when the crew shares it.

A crew shares its position only when it presses "Share my position" on its phone; the
dispatchers see the last one on the console's map. Functions take the store first and join
the caller's ``store.begin()`` transaction (the audit row of the share commits with it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from geo311.db.schema import crew_positions
from geo311.errors import InputError

if TYPE_CHECKING:
    from geo311.db.store import Store

MAX_ACCURACY_M = 100_000.0
"""The largest accuracy radius kept (a larger one is no position worth showing)."""


@dataclass(frozen=True)
class CrewPosition:
    """A crew's position as shared from its phone.

    Attributes
    ----------
    crew_id
        The crew (taken from the signed-in user, never from the form).
    lat, lon
        WGS84 degrees.
    accuracy_m
        The phone's accuracy radius in metres, when it gave one.
    at
        When the server received it (timezone-aware).
    by_user
        The user who shared it.
    """

    crew_id: str
    lat: float
    lon: float
    accuracy_m: float | None
    at: datetime
    by_user: str


def _number(value: Any, field: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(
            f"{field}: send a number in degrees (got {value!r})", field=field
        ) from None
    if not math.isfinite(number):
        raise InputError(f"{field}: send a finite number in degrees", field=field)
    return number


def check_point(lat: Any, lon: Any, accuracy: Any = None) -> tuple[float, float, float | None]:
    """Return ``(lat, lon, accuracy_m)`` checked: WGS84 degrees and a radius in metres.

    Raises
    ------
    InputError
        Naming ``lat``, ``lon`` or ``accuracy`` and the range it takes.
    """
    la, lo = _number(lat, "lat"), _number(lon, "lon")
    if not -90.0 <= la <= 90.0:
        raise InputError(f"lat: send a latitude between -90 and 90 (got {la})", field="lat")
    if not -180.0 <= lo <= 180.0:
        raise InputError(f"lon: send a longitude between -180 and 180 (got {lo})", field="lon")
    if accuracy is None or accuracy == "":
        return la, lo, None
    acc = _number(accuracy, "accuracy")
    if not 0.0 <= acc <= MAX_ACCURACY_M:
        raise InputError(
            f"accuracy: send the radius in metres, 0 to {MAX_ACCURACY_M:.0f} (got {acc})",
            field="accuracy",
        )
    return la, lo, acc


def record_position(store: Store, position: CrewPosition) -> None:
    """Store a crew's position, replacing its previous one (one row per crew).

    An ``INSERT ... ON CONFLICT DO UPDATE`` on the crew's key: two shares at once leave one
    row, the last one written.
    """
    values = {
        "crew_id": position.crew_id,
        "lat": position.lat,
        "lon": position.lon,
        "accuracy_m": position.accuracy_m,
        "at": position.at,
        "by_user": position.by_user,
    }
    with store.begin() as conn:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(crew_positions).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["crew_id"],
            set_={k: stmt.excluded[k] for k in values if k != "crew_id"},
        )
        conn.execute(stmt)


def latest_positions(store: Store, crew_ids: Iterable[str]) -> dict[str, CrewPosition]:
    """Return the last shared position of each of ``crew_ids`` that shared one.

    Returns
    -------
    dict
        Crew id -> :class:`CrewPosition`; crews that never shared are left out.
    """
    wanted = sorted(set(crew_ids))
    if not wanted:
        return {}
    with store.read() as conn:
        rows = conn.execute(
            sa.select(crew_positions).where(crew_positions.c.crew_id.in_(wanted))
        ).all()
    return {
        r.crew_id: CrewPosition(
            crew_id=r.crew_id,
            lat=float(r.lat),
            lon=float(r.lon),
            accuracy_m=None if r.accuracy_m is None else float(r.accuracy_m),
            at=r.at,
            by_user=r.by_user,
        )
        for r in rows
    }
