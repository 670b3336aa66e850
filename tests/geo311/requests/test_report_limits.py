"""Report limits per client address and e-mail address: counted atomically in the database.

Runs on SQLite and on the real local PostgreSQL (the ``store`` fixture); the race is real
threads, each in its own transaction.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from geo311.db.schema import report_counts
from geo311.db.store import Store
from geo311.requests.limits import Limits, TooManyReports, check_reports, count_report

HOUR = 3600
# 100 s before the end of an hour period.
T0 = datetime.fromtimestamp(
    (int(datetime(2026, 3, 2, tzinfo=UTC).timestamp()) // HOUR + 1) * HOUR - 100, UTC
)


def _count(store: Store, limits: Limits, *, ip: str = "", email: str = "", now: datetime) -> bool:
    try:
        count_report(store, limits, ip=ip, email=email, now=now)
    except TooManyReports:
        return False
    return True


def test_concurrent_reports_from_one_address_get_exactly_the_limit(store: Store) -> None:
    limits = Limits(per_ip=5, per_email=0)
    start = threading.Barrier(10)
    taken: list[bool] = []
    lock = threading.Lock()

    def post() -> None:
        start.wait()
        try:
            with store.begin():  # the report's transaction: the count joins it
                count_report(store, limits, ip="203.0.113.7", email="", now=T0)
                time.sleep(0.02)  # the rest of the report's transaction
            ok = True
        except TooManyReports:
            ok = False
        with lock:
            taken.append(ok)

    threads = [threading.Thread(target=post) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == [False] * 5 + [True] * 5
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(report_counts.c.hits)).scalars().all() == [5]


def test_the_previous_hour_weighs_by_its_share_of_the_last_hour(store: Store) -> None:
    limits = Limits(per_ip=4, per_email=0)
    assert all(_count(store, limits, ip="198.51.100.1", now=T0) for _ in range(4))
    with pytest.raises(TooManyReports) as err:
        check_reports(store, limits, ip="198.51.100.1", email="", now=T0)
    # 100 s to the next hour, then a quarter of it until 4 * (1 - x) + 1 <= 4.
    assert err.value.kind == "ip" and abs(err.value.retry_after_s - (100 + HOUR / 4)) <= 1
    message = str(err.value)
    assert "at most 4 an hour" in message and "try again in about 17 minutes" in message
    # Just after the hour turns, the last hour still holds the 4 reports: refused, not counted.
    later = T0 + timedelta(seconds=200)
    assert not _count(store, limits, ip="198.51.100.1", now=later)
    with pytest.raises(TooManyReports) as err:
        check_reports(store, limits, ip="198.51.100.1", email="", now=later)
    assert 700 < err.value.retry_after_s < 900  # until 4 * (1 - x) + 1 <= 4
    # Other addresses are not touched; 80 % into the next hour a report fits again.
    assert _count(store, limits, ip="198.51.100.2", now=later)
    assert _count(store, limits, ip="198.51.100.1", now=T0 + timedelta(seconds=100 + 0.8 * HOUR))
    with store.engine.connect() as conn:
        assert sorted(conn.execute(sa.select(report_counts.c.hits)).scalars()) == [1, 1, 4]


def test_an_email_address_counts_whatever_its_case_and_is_stored_hashed(store: Store) -> None:
    limits = Limits(per_ip=0, per_email=2)
    assert _count(store, limits, ip="192.0.2.1", email="Ada@Example.org", now=T0)
    assert _count(store, limits, ip="192.0.2.2", email=" ada@example.org", now=T0)
    with pytest.raises(TooManyReports, match="^email: too many reports") as err:
        count_report(store, limits, ip="192.0.2.3", email="ADA@example.org", now=T0)
    assert err.value.kind == "email" and err.value.limit == 2
    assert _count(store, limits, ip="192.0.2.3", email="", now=T0)  # no address: no e-mail limit
    with store.engine.connect() as conn:
        keys = conn.execute(sa.select(report_counts.c.key, report_counts.c.hits)).all()
    assert [hits for _key, hits in keys] == [2] and "ada" not in keys[0][0]
