"""mySociety's Open311 extension: ``servicerequestupdates`` (GET a window, POST a comment).

FixMyStreet pulls a council's status changes through ``GET servicerequestupdates.xml`` with
``start_date``/``end_date`` (W3C datetimes) and posts citizens' comments to ``POST
servicerequestupdates.xml``, reading ``request_update/update_id`` back (see mySociety's
fixmystreet ``perllib/Open311.pm`` and open311-adapter ``Open311::Endpoint::Role::mySociety``).
The updates come from the store's ``request_updates`` (every status change, note, schedule and
comment); no personal detail of a poster is kept or shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from api.errors import Open311HTTPError
from api.open311.service import MAX_REQUESTS, parse_time
from api.planner.staff import iso
from geo311.city.catalogue import Catalogue

# The window GET servicerequestupdates answers without dates, and the widest one it answers.
DEFAULT_UPDATES_WINDOW = timedelta(days=1)
MAX_UPDATES_WINDOW = timedelta(days=90)

# mySociety's extended statuses for the catalogue's states (others: the state's open/closed).
EXTENDED_STATUS = {
    "open": "open",
    "scheduled": "action_scheduled",
    "in_progress": "in_progress",
    "fixed": "fixed",
    "duplicate": "duplicate",
    "invalid": "no_further_action",
    "referred": "not_councils_responsibility",
    "closed": "closed",
}

# The statuses a posted update may carry (upper case, as FixMyStreet sends them).
POSTED_STATUSES = frozenset(
    {
        "OPEN",
        "CLOSED",
        "FIXED",
        "IN_PROGRESS",
        "ACTION_SCHEDULED",
        "INVESTIGATING",
        "DUPLICATE",
        "NOT_COUNCILS_RESPONSIBILITY",
        "NO_FURTHER_ACTION",
        "INTERNAL_REFERRAL",
        "REOPEN",
        "FOR_TRIAGE",
    }
)


def extended_status(state: str, catalogue: Catalogue) -> str:
    """Return mySociety's extended status of a catalogue state (``fixed``, ``in_progress`` ...)."""
    if state in EXTENDED_STATUS:
        return EXTENDED_STATUS[state]
    known = catalogue.states.get(state)
    return known.open311 if known is not None else "closed"


def updates_window(
    start_date: str | None, end_date: str | None, *, tz: ZoneInfo, now: datetime
) -> tuple[datetime, datetime]:
    """Return the ``(start, end)`` of ``GET servicerequestupdates`` (both inclusive).

    Without dates, the last day; one date alone extends a day from it; at most 90 days.

    Raises
    ------
    Open311HTTPError
        400 naming the bad date and the fix.
    """
    start = parse_time(start_date, "start_date", tz) if start_date else None
    end = parse_time(end_date, "end_date", tz) if end_date else None
    if start is None and end is None:
        end = now
    if start is None:
        assert end is not None
        start = end - DEFAULT_UPDATES_WINDOW
    if end is None:
        end = start + DEFAULT_UPDATES_WINDOW
    if end < start:
        raise Open311HTTPError(400, "end_date: it is before start_date; swap the two dates")
    if end - start > MAX_UPDATES_WINDOW:
        raise Open311HTTPError(
            400,
            "end_date: the window from start_date to end_date spans more than 90 days; "
            "ask for at most 90 days at a time",
        )
    return start, end


def updates_out(
    rows: Iterable[Mapping[str, Any]], catalogue: Catalogue, tz: ZoneInfo
) -> list[dict[str, Any]]:
    """Return stored updates as mySociety ``request_update`` items (at most 1,000).

    Every item has ``update_id``, ``service_request_id``, ``status`` (extended),
    ``updated_datetime`` (W3C, the city's offset), ``description`` and ``media_url`` (empty
    strings rather than missing, as the extension's schema requires).
    """
    out = []
    for row in rows:
        out.append(
            {
                "update_id": str(row["update_id"]),
                "service_request_id": row["service_request_id"],
                "status": extended_status(row["status"], catalogue),
                "updated_datetime": iso(row["updated_datetime"], tz),
                "description": row["description"] or "",
                "media_url": row["media_url"] or "",
            }
        )
        if len(out) == MAX_REQUESTS:
            break
    return out


def check_posted_update(status: str, updated_datetime: str, *, tz: ZoneInfo) -> datetime:
    """Validate a posted update's ``status`` and ``updated_datetime``; return the time.

    Raises
    ------
    Open311HTTPError
        400 naming the field and the fix.
    """
    if status.strip().upper() not in POSTED_STATUSES:
        raise Open311HTTPError(
            400,
            f"status: {status!r} is not an update status; use one of "
            f"{', '.join(sorted(POSTED_STATUSES))}",
        )
    return parse_time(updated_datetime, "updated_datetime", tz)
