"""Alembic migrations: a fresh store matches geo311.db.schema, an old store upgrades in place.

Runs on SQLite and on the real local PostgreSQL (the ``store_url`` fixture).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from geo311.city.catalogue import Catalogue
from geo311.db import migrations
from geo311.db.schema import metadata
from geo311.db.store import Store
from geo311.plans import repo as plan_repo
from geo311.requests import repo as request_repo
from geo311.workorders import repo as work_order_repo

from . import _legacy_store as legacy

T0 = datetime(2015, 10, 6, 11, 0, tzinfo=UTC)


def _index_names(engine: sa.Engine, table: str) -> set[str]:
    # PostgreSQL also reports the unique constraint as an index: keep the ix_ ones.
    names = {str(ix["name"]) for ix in sa.inspect(engine).get_indexes(table)}
    return {n for n in names if n.startswith("ix_")}


def _schema_diff(store: Store) -> list[Any]:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # Partial-index predicates are not reflected the same way on both dialects: compare names.
    return [d for d in diff if not (isinstance(d, tuple) and d[0] in ("add_index", "remove_index"))]


def _legacy_rows(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            legacy.requests.insert(),
            [
                {
                    "service_request_id": "BOS-1",
                    "source": "boston",
                    "source_id": "1",
                    "service_code": "pothole",
                    "status": "open",
                    "requested_datetime": T0,
                    "address": "1 Boylston St",
                    "lat": 42.35,
                    "lon": -71.07,
                    "work_order_id": 1,
                }
            ],
        )
        conn.execute(
            legacy.work_orders.insert(),
            [
                {
                    "service_group": "potholes",
                    "service_code": "pothole",
                    "lat": 42.35,
                    "lon": -71.07,
                    "opened": T0,
                    "sla_due": T0 + timedelta(days=2),
                    "status": "open",
                }
            ],
        )
        conn.execute(
            legacy.plans.insert(),
            [{"created_at": T0, "plan_date": "2015-10-06", "payload": '{"routes": []}'}],
        )


def test_fresh_store_is_at_head_and_matches_the_schema(store: Store) -> None:
    assert store.schema_revision() == migrations.head_revision()
    assert store.schema_version() == migrations.revision_number(migrations.head_revision())
    assert _schema_diff(store) == []
    for table in metadata.sorted_tables:
        assert _index_names(store.engine, table.name) == {str(ix.name) for ix in table.indexes}
    assert not sa.inspect(store.engine).has_table("schema_version")


def test_store_of_the_last_pre_alembic_release_upgrades_in_place(store_url: str) -> None:
    engine = sa.create_engine(store_url)
    try:
        assert legacy.apply_migrations(engine) == 3
        _legacy_rows(engine)
    finally:
        engine.dispose()
    with Store(store_url) as store:
        assert store.schema_revision() == migrations.head_revision()
        assert request_repo.get_request(store, "BOS-1").address == "1 Boylston St"
        wo = work_order_repo.get_work_order(store, 1)
        assert (wo.member_ids, wo.lat, wo.opened) == (("BOS-1",), 42.35, T0)
        assert plan_repo.get_plan(store, plan_repo.latest_plan_id(store) or 0)["routes"] == []
        assert not sa.inspect(store.engine).has_table("schema_version")
        assert _schema_diff(store) == []
        assert "ix_service_requests_needs_geocoding" in _index_names(
            store.engine, "service_requests"
        )
        # Opening again changes nothing.
        assert store.migrate() == store.schema_version()


def test_store_left_at_step_1_by_the_old_runner_gets_steps_2_to_head(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(legacy, "MIGRATIONS", legacy.MIGRATIONS[:1])
    engine = sa.create_engine(store_url)
    try:
        assert legacy.apply_migrations(engine) == 1
        _legacy_rows(engine)
        with engine.begin() as conn:  # an old row without anchors, as step 2 found them
            conn.execute(sa.text("UPDATE work_orders SET anchor_lat = NULL, anchor_lon = NULL"))
    finally:
        engine.dispose()
    with Store(store_url) as store:
        assert store.schema_revision() == migrations.head_revision()
        with store.engine.connect() as conn:
            anchors = conn.execute(sa.text("SELECT anchor_lat, anchor_lon FROM work_orders"))
            assert list(anchors) == [(42.35, -71.07)]
        assert _schema_diff(store) == []


def test_downgrade_to_nothing_and_back(store: Store) -> None:
    with store.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), "base")
    assert store.schema_revision() is None
    assert set(sa.inspect(store.engine).get_table_names()) <= {"alembic_version"}
    assert store.migrate() == store.schema_version() >= 4
    assert _schema_diff(store) == []


# A store at revision 0008 whose plans overwrote due times (issue 21): a request never
# scheduled; in work order 1 (summarised after publishing: its due time is an ETA) one request
# with a plan's ETA and one a newer plan cleared; alone in work order 3 a request with an ETA
# (the order still has the City's due time); alone in work order 4 one whose order took the
# ETA an earlier plan gave it.
CITY_DUE = T0 + timedelta(days=5)  # the City's own target, not the catalogue's 48 h
ETA = T0 + timedelta(days=200)
OLD_ETA = T0 + timedelta(days=199)
# (id, expected_datetime, expected_plan_id, work order); work order -> (sla_due, reports)
REPORTS = [
    ("kept", CITY_DUE, None, 2),
    ("scheduled", ETA, 7, 1),
    ("cleared", None, None, 1),
    ("alone", ETA, 7, 3),
    ("again", ETA, 7, 4),
]
ORDERS = {1: (ETA, 2), 2: (CITY_DUE, 1), 3: (CITY_DUE, 1), 4: (OLD_ETA, 1)}


def _plan_row(plan_id: int, etas: dict[int, datetime]) -> dict[str, Any]:
    steps = [{"type": "job", "ref": str(w), "arrival": t.isoformat()} for w, t in etas.items()]
    doc = {"routes": [{"crew_id": "A", "steps": steps}]}
    return {
        "plan_id": plan_id,
        "created_at": T0,
        "plan_date": "2016-04-22",
        "payload": json.dumps(doc),
        "published_at": T0,
    }


def _rows_at_0008(conn: sa.Connection) -> None:
    from geo311.db import schema

    conn.execute(
        schema.plans.insert(),
        [_plan_row(6, {4: OLD_ETA}), _plan_row(7, dict.fromkeys((1, 3, 4), ETA))],
    )
    conn.execute(
        schema.requests.insert(),
        [
            {
                "service_request_id": rid,
                "source": "boston",
                "source_id": rid,
                "service_code": "pothole",
                "status": "open",
                "requested_datetime": T0,
                "expected_datetime": expected,
                "expected_plan_id": plan,
                "lat": 42.35,
                "lon": -71.07,
                "work_order_id": wid,
            }
            for rid, expected, plan, wid in REPORTS
        ],
    )
    conn.execute(
        schema.request_updates.insert(),
        [
            {"service_request_id": rid, "kind": kind, "status": "open", "updated_datetime": T0}
            for rid, kind in [
                ("scheduled", "scheduled"),
                ("cleared", "scheduled"),
                ("cleared", "unscheduled"),
                ("alone", "scheduled"),
                ("again", "scheduled"),
            ]
        ],
    )
    conn.execute(
        schema.work_orders.insert(),
        [
            {
                "work_order_id": wid,
                "sla_due": due,
                "report_count": n,
                "service_group": "potholes",
                "service_code": "pothole",
                "lat": 42.35,
                "lon": -71.07,
                "opened": T0,
                "status": "open",
            }
            for wid, (due, n) in ORDERS.items()
        ],
    )


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one())
            for t in ("service_requests", "work_orders", "plans", "request_updates")
        }


def test_0010_keeps_every_row_and_restores_the_targets_a_plan_overwrote(
    store_url: str, catalogue: Catalogue
) -> None:
    engine = sa.create_engine(store_url)
    try:
        with engine.begin() as conn:
            command.upgrade(migrations.alembic_config(conn), "0008")
            _rows_at_0008(conn)
        before = _counts(engine)
    finally:
        engine.dispose()
    assert before == {"service_requests": 5, "work_orders": 4, "plans": 2, "request_updates": 5}
    with Store(store_url) as store:
        assert store.schema_revision() == migrations.head_revision()
        assert _counts(store.engine) == before
        by_sla = T0 + catalogue.service("pothole").sla  # nothing else is left of the City's
        seen = {
            rid: (r.sla_target_datetime, r.expected_datetime)
            for rid, *_ in REPORTS
            for r in [request_repo.get_request(store, rid)]
        }
        assert seen == {
            "kept": (CITY_DUE, CITY_DUE),
            "scheduled": (by_sla, ETA),  # the ETA stays the Open311 expected time
            "cleared": (by_sla, by_sla),  # a cleared expected time is the target again
            "alone": (CITY_DUE, ETA),  # its work order kept the City's due time
            "again": (by_sla, ETA),  # its work order's due time was an earlier plan's ETA
        }
        due = {w: work_order_repo.get_work_order(store, w).sla_due for w in ORDERS}
        assert due == {1: by_sla, 2: CITY_DUE, 3: CITY_DUE, 4: by_sla}
        assert _schema_diff(store) == []


def test_step_13_keeps_the_addresses_that_unsubscribed_before_it(store: Store) -> None:
    from geo311.notify import address_state

    with store.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), "0008")
    rows = [
        ("R1", "Ada@Example.org", True),
        ("R2", "ada@example.org", False),
        ("R3", "bob@example.org", False),
    ]
    with store.engine.begin() as conn:
        for rid, email, gone in rows:
            conn.execute(
                sa.text(
                    "INSERT INTO contacts (service_request_id, email, first_name, last_name, "
                    "phone, unsubscribed, created_at) VALUES (:r, :e, '', '', '', :u, :t)"
                ),
                {"r": rid, "e": email, "u": gone, "t": T0},
            )
    assert store.migrate() == store.schema_version()
    with store.engine.connect() as conn:
        assert address_state(conn, "ADA@example.org") == "unsubscribed"
        assert address_state(conn, "bob@example.org") == "unconfirmed"
    assert _schema_diff(store) == []
