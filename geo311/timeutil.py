"""Time parsing shared by the geo311 CLI and the packages built on geo311."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local_datetime(text: str, tz: ZoneInfo) -> datetime:
    """Parse an ISO 8601 date-time; one without an offset is local time in ``tz``.

    Parameters
    ----------
    text
        ISO 8601 date-time such as ``2015-10-06T07:00`` or ``2015-10-06T07:00-04:00``.
    tz
        The city's zone, for a time without an offset.

    Returns
    -------
    datetime
        Timezone-aware datetime.

    Raises
    ------
    ValueError
        If ``text`` is not ISO 8601 (callers turn it into their own error naming the field).
    """
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)
