"""The crews' last shared position: one row per crew, upserted (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from geo311.db.schema import crew_positions
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.staff.positions import CrewPosition, check_point, latest_positions, record_position

AT = datetime(2015, 10, 6, 12, 42, tzinfo=UTC)


def _at(crew: str, lat: float, *, minutes: int = 0, acc: float | None = 8.0) -> CrewPosition:
    return CrewPosition(crew, lat, -71.08, acc, AT + timedelta(minutes=minutes), f"user-{crew}")


def _rows(store: Store) -> int:
    with store.read() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(crew_positions)).scalar_one()
        )


def test_a_new_share_replaces_the_crews_last_one(store: Store) -> None:
    record_position(store, _at("A", 42.35))
    record_position(store, _at("A", 42.36, minutes=5, acc=None))
    record_position(store, _at("B", 42.30))
    assert _rows(store) == 2
    found = latest_positions(store, ["A", "B", "C"])
    assert set(found) == {"A", "B"}  # C never shared
    assert found["A"].lat == pytest.approx(42.36) and found["A"].accuracy_m is None
    assert found["A"].at == AT + timedelta(minutes=5) and found["A"].at.tzinfo is not None
    assert found["B"].accuracy_m == pytest.approx(8.0) and found["B"].by_user == "user-B"
    assert latest_positions(store, ["B"]).keys() == {"B"}
    assert latest_positions(store, []) == {}


def test_two_shares_at_once_leave_one_row(store: Store) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def share(lat: float) -> None:
        try:
            start.wait()
            for i in range(5):
                record_position(store, _at("A", lat + i / 1000, minutes=i))
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=share, args=(lat,)) for lat in (42.30, 42.40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _rows(store) == 1
    last = latest_positions(store, ["A"])["A"]
    assert round(last.lat, 3) in {42.304, 42.404}


@pytest.mark.parametrize(
    ("lat", "lon", "acc", "field"),
    [
        ("north", -71.0, None, "lat"),
        (91, -71.0, None, "lat"),
        ("nan", -71.0, None, "lat"),
        (None, -71.0, None, "lat"),
        (42.0, 181, None, "lon"),
        (42.0, "inf", None, "lon"),
        (42.0, -71.0, -1, "accuracy"),
    ],
)
def test_a_bad_point_names_its_field(lat: object, lon: object, acc: object, field: str) -> None:
    with pytest.raises(InputError) as caught:
        check_point(lat, lon, acc)
    assert caught.value.field == field and str(caught.value).startswith(field)


def test_a_point_is_checked_and_converted() -> None:
    assert check_point("42.35", -71.08, "12.5") == (42.35, -71.08, 12.5)
    assert check_point(42.35, -71.08, "") == (42.35, -71.08, None)
