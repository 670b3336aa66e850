"""Limits on posted reports per client address and per e-mail address, counted in the database.

A report counts against its client address (``ip``) and, when it gives one, its e-mail address
(``email``). Counts are kept per period (an hour by default) in ``report_counts``, keyed by a
hash of the address (no address is stored in the clear), and weighed as a sliding window: the
current period's count plus the previous period's, scaled by how much of it is still within
the last hour. :func:`count_report` increments in the caller's transaction with one atomic
upsert, so several server processes share the counts, a refused report (its transaction rolled
back) is not counted, and two posts racing for the last slot cannot both get it (on
PostgreSQL the second waits for the first's row lock and sees its count).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from geo311.db.schema import report_counts
from geo311.db.store import Store
from geo311.errors import Geo311Error

#: What each kind of limit is about, in the message a refused citizen reads.
_WHAT = {
    "ip": "Too many reports were sent from your connection",
    "email": "email: too many reports were sent with this e-mail address",
}


_purged = -1  # the last period this process deleted older counts in


class TooManyReports(Geo311Error):
    """A report over a limit: which limit, and how long until a report is taken again.

    Attributes
    ----------
    kind : str
        ``ip`` or ``email``.
    limit : int
        Reports allowed per period.
    retry_after_s : int
        Seconds until one more report fits.
    """

    def __init__(self, kind: str, limit: int, period_s: int, retry_after_s: int) -> None:
        minutes = max(1, math.ceil(retry_after_s / 60))
        per = "an hour" if period_s == 3600 else f"per {period_s // 60} minutes"
        super().__init__(
            f"{_WHAT[kind]} (at most {limit} {per}); please try again in about "
            f"{minutes} minute{'s' if minutes != 1 else ''}"
        )
        self.kind = kind
        self.limit = limit
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Limits:
    """Reports allowed per period, per client address and per e-mail address (0: no limit)."""

    per_ip: int
    per_email: int
    period_s: int = 3600

    def keys(self, *, ip: str, email: str) -> dict[str, tuple[str, int]]:
        """Return ``kind -> (hashed key, limit)`` of the limits that apply to a report."""
        out: dict[str, tuple[str, int]] = {}
        if self.per_ip > 0 and ip:
            out["ip"] = (_key("ip", ip), self.per_ip)
        if self.per_email > 0 and email.strip():
            out["email"] = (_key("email", email.strip().lower()), self.per_email)
        return out


def _key(kind: str, value: str) -> str:
    return f"{kind}:" + hashlib.sha256(f"geo311-report-limit|{kind}|{value}".encode()).hexdigest()


def _position(now: datetime, period_s: int) -> tuple[int, float]:
    """Return the current period number and how far into it ``now`` is (0..1)."""
    seconds = now.timestamp()
    return int(seconds // period_s), (seconds % period_s) / period_s


def _counts(
    conn: Connection, keys: list[str], periods: tuple[int, ...]
) -> dict[tuple[str, int], int]:
    """Return the stored counts of some keys in some periods (one query)."""
    if not keys:
        return {}
    rows = conn.execute(
        sa.select(report_counts.c.key, report_counts.c.period, report_counts.c.hits).where(
            report_counts.c.key.in_(keys), report_counts.c.period.in_(periods)
        )
    )
    return {(r.key, r.period): int(r.hits) for r in rows}


def _check(kind: str, limit: int, previous: int, current: int, into: float, period_s: int) -> None:
    """Raise :class:`TooManyReports` when ``current`` (this report included) is over the limit."""
    if previous * (1.0 - into) + current <= limit:
        return
    if current > limit or previous == 0:
        # This period alone is full: wait for the next one, and then until this period's
        # share of the last hour leaves room for one more.
        wait = 1.0 - into + max(0.0, 1.0 - (limit - 1) / max(current - 1, 1))
    else:  # the previous period's share must shrink until this report fits
        wait = max(1.0 - (limit - current) / previous - into, 0.0)
    raise TooManyReports(kind, limit, period_s, max(1, math.ceil(wait * period_s)))


def check_reports(store: Store, limits: Limits, *, ip: str, email: str, now: datetime) -> None:
    """Refuse early (counting nothing) a report that would be over a limit.

    A cheap read before the slow work (a photo, geocoding); :func:`count_report` decides.

    Raises
    ------
    TooManyReports
        If one more report from ``ip`` or with ``email`` is over its limit.
    """
    period, into = _position(now, limits.period_s)
    keys = limits.keys(ip=ip, email=email)
    with store.read() as conn:
        stored = _counts(conn, [key for key, _limit in keys.values()], (period - 1, period))
    for kind, (key, limit) in keys.items():
        current = stored.get((key, period), 0) + 1
        previous = stored.get((key, period - 1), 0)
        _check(kind, limit, previous, current, into, limits.period_s)


def count_report(store: Store, limits: Limits, *, ip: str, email: str, now: datetime) -> None:
    """Count a report against its limits in the caller's transaction, or refuse it.

    Parameters
    ----------
    store : Store
        The store whose open transaction stores the report: the counts commit or roll back
        with it.
    limits : Limits
        The limits.
    ip, email : str, keyword-only
        The client address and the e-mail address given (empty: that limit does not apply).
    now : datetime
        The time of the report (timezone-aware).

    Raises
    ------
    TooManyReports
        If the report is over a limit (roll back the transaction: it is then not counted).
    """
    with store.begin() as conn:
        _count(conn, limits, ip=ip, email=email, now=now)


def _count(conn: Connection, limits: Limits, *, ip: str, email: str, now: datetime) -> None:
    global _purged
    period, into = _position(now, limits.period_s)
    keys = limits.keys(ip=ip, email=email)
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    current: dict[str, int] = {}
    for kind, (key, _limit) in keys.items():
        stmt = insert(report_counts).values(key=key, period=period, hits=1)
        upsert = stmt.on_conflict_do_update(
            index_elements=["key", "period"], set_={"hits": report_counts.c.hits + 1}
        ).returning(report_counts.c.hits)
        current[kind] = int(conn.execute(upsert).scalar_one())
    previous = _counts(conn, [key for key, _limit in keys.values()], (period - 1,))
    for kind, (key, limit) in keys.items():
        _check(
            kind, limit, previous.get((key, period - 1), 0), current[kind], into, limits.period_s
        )
    if keys and _purged != period:
        # Counts older than the previous period weigh nothing any more (once a period per
        # process; rows a rolled-back purge left are only read never again).
        conn.execute(report_counts.delete().where(report_counts.c.period < period - 1))
        _purged = period
