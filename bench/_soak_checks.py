"""The invariants ``bench/ops_soak.py`` checks at the end, from the database and the API.

A crew's marks are read from every place the code under test may keep them, so that the same
check works on the code that writes them into the plan's JSON document and on the code that
keeps one row per stop:

- the plan as the API serves it (``GET /plans/{id}``: ``done`` per crew; ``cant_do`` when
  the answer carries it);
- the stored plan document (``plans.payload``: ``done``, ``cant_do``);
- the per-stop rows, when the schema has a ``plan_stops`` table (``state`` done / can't-do).

A mark is kept when one of these views shows it; a stop is marked twice when one view shows
two marks on it (done twice, or done and can't-do).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from _soak_citizens import SentReport
from _soak_crews import SentAction

KEY_IN_TEXT = re.compile(r"soak report ([0-9a-f]{32})")
CANT_STATES = ("cant_do", "cant", "cant-do")


@dataclass
class View:
    """One view of a plan's marks: done job ids per crew (repeats kept), can't-do job ids."""

    source: str
    done: dict[str, list[str]] = field(default_factory=dict)
    cant: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, source: str, doc: dict[str, Any]) -> View:
        """Read the marks of a plan document (``done``, ``cant_do``)."""
        done = {str(c): [str(j) for j in jobs] for c, jobs in (doc.get("done") or {}).items()}
        return cls(source, done, [str(j) for j in (doc.get("cant_do") or {})])

    def has(self, action: SentAction) -> bool:
        """Whether this view shows the action's mark on its stop."""
        if action.action == "done":
            return action.job_id in self.done.get(action.crew_id, [])
        return action.job_id in self.cant

    def counts(self) -> Counter[str]:
        """Return how many marks each job carries in this view."""
        marks: Counter[str] = Counter(self.cant)
        for jobs in self.done.values():
            marks.update(jobs)
        return marks


@dataclass
class Marks:
    """Crew actions answered 2xx, the marks found for them, and stops marked twice."""

    actions: int = 0
    kept: int = 0
    lost: list[str] = field(default_factory=list)
    lost_actions: list[SentAction] = field(default_factory=list)
    twice: list[str] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)  # marks per view
    stuck: list[str] = field(default_factory=list)


def plan_views(api: httpx.Client, engine: sa.Engine, plan_ids: list[int]) -> dict[int, list[View]]:
    """Return every view of each plan's marks (API, stored document, per-stop rows)."""
    views: dict[int, list[View]] = {p: [] for p in plan_ids}
    for plan_id in plan_ids:
        answer = api.get(f"/plans/{plan_id}")
        answer.raise_for_status()
        views[plan_id].append(View.of("API", answer.json()))
    with engine.connect() as conn:
        for plan_id, payload in conn.execute(
            sa.text("SELECT plan_id, payload FROM plans WHERE plan_id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": plan_ids},
        ):
            views[int(plan_id)].append(View.of("stored document", json.loads(payload)))
        if sa.inspect(conn).has_table("plan_stops"):
            for plan_id, rows in _stop_rows(conn, plan_ids).items():
                views[plan_id].append(rows)
    return views


def _stop_rows(conn: sa.Connection, plan_ids: list[int]) -> dict[int, View]:
    """Read the ``plan_stops`` rows (one per plan and stop) as views."""
    out = {p: View("plan_stops rows") for p in plan_ids}
    stmt = sa.text(
        "SELECT plan_id, crew_id, job_id, state FROM plan_stops WHERE plan_id IN :ids"
    ).bindparams(sa.bindparam("ids", expanding=True))
    for plan_id, crew_id, job_id, state in conn.execute(stmt, {"ids": plan_ids}):
        view = out[int(plan_id)]
        if str(state) == "done":
            view.done.setdefault(str(crew_id), []).append(str(job_id))
        elif str(state) in CANT_STATES:
            view.cant.append(str(job_id))
    return out


def check_marks(
    api: httpx.Client,
    engine: sa.Engine,
    actions: Iterable[SentAction],
    publications: list[tuple[float, int]],
) -> Marks:
    """Count the marks of every action answered 2xx (first send or a replay) on its stop,
    the stops marked twice, in every plan acted on or published, and the actions a kill
    caught that never got a mark (see :func:`stuck`)."""
    actions = list(actions)
    acked = [a for a in actions if a.acked]
    caught = [a for a in actions if a.unanswered and not a.acked]
    plan_ids = {a.plan_id for a in acked + caught} | {p for _, p in publications}
    views = plan_views(api, engine, sorted(plan_ids))
    out = Marks(actions=len(acked))
    for a in acked:
        if any(v.has(a) for v in views[a.plan_id]):
            out.kept += 1
        else:
            out.lost.append(f"plan {a.plan_id} {a.crew_id} {a.job_id} {a.action} {a.statuses}")
            out.lost_actions.append(a)
    out.stuck = stuck(caught, views, publications)
    twice: dict[tuple[int, str], str] = {}  # (plan, job) -> what a view shows
    for plan_id, plan in views.items():
        for view in plan:
            counts = view.counts()
            out.seen[view.source] += sum(counts.values())
            for job, n in counts.items():
                if n > 1:
                    twice.setdefault((plan_id, job), f"plan {plan_id} {job} x{n} ({view.source})")
    out.twice = sorted(twice.values())
    return out


def stuck(
    caught: list[SentAction],
    views: dict[int, list[View]],
    publications: list[tuple[float, int]],
) -> list[str]:
    """Return the actions lost in a restart: sent when the server was killed, resent with
    the same key after it, never accepted, while their stop carries no mark at all and their
    plan was still the newest published one when the last resend was refused (a refusal
    because the stop was marked by another phone, or because a newer plan was published,
    is right)."""
    out = []
    for a in caught:
        if any(a.job_id in v.counts() for v in views[a.plan_id]):
            continue
        newer = [t for t, p in publications if p != a.plan_id and t < a.answered_at]
        mine = [t for t, p in publications if p == a.plan_id]
        if mine and any(t > mine[0] for t in newer):
            continue
        out.append(f"plan {a.plan_id} {a.crew_id} {a.job_id} {a.action} {a.statuses} {a.refusal}")
    return out


def audited_lost(engine: sa.Engine, lost: Iterable[SentAction]) -> int:
    """Return how many lost marks the server's audit log records as applied (stop.done or
    stop.cant_do on that plan, crew and stop): the action was taken, then overwritten."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT action, object FROM audit_log WHERE action LIKE 'stop.%'")
        ).all()
    audited = {(str(action), str(obj)) for action, obj in rows}
    names = {"done": "stop.done", "cant": "stop.cant_do"}
    return sum(
        (names[a.action], f"plan:{a.plan_id}:{a.crew_id}:{a.job_id}") in audited for a in lost
    )


def closed_twice(engine: sa.Engine, after_update: int, closing: list[str]) -> list[int]:
    """Return the work orders one of whose requests got two closing updates in the soak."""
    sql = sa.text(
        "SELECT DISTINCT r.work_order_id FROM request_updates u JOIN service_requests r "
        "ON r.service_request_id = u.service_request_id WHERE u.kind = 'status' "
        "AND u.status IN :closing AND u.update_id > :after "
        "GROUP BY r.work_order_id, u.service_request_id HAVING COUNT(*) > 1"
    ).bindparams(sa.bindparam("closing", expanding=True))
    with engine.connect() as conn:
        return [int(r[0]) for r in conn.execute(sql, {"closing": closing, "after": after_update})]


def last_update_id(engine: sa.Engine) -> int:
    """Return the newest request update's id (0 without any)."""
    with engine.connect() as conn:
        return int(
            conn.execute(sa.text("SELECT MAX(update_id) FROM request_updates")).scalar() or 0
        )


@dataclass
class Reports:
    """Reports answered 2xx, and what the store and the API hold of them."""

    acked: int = 0
    stored: int = 0
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unacked_stored: list[str] = field(default_factory=list)
    api_missing: list[str] = field(default_factory=list)


def check_reports(engine: sa.Engine, api: httpx.Client, sent: Iterable[SentReport]) -> Reports:
    """Every acknowledged report is stored once, under the id it was answered with, and
    served by the API; nothing refused was stored (a key without any answer may be)."""
    sent = list(sent)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT service_request_id, description FROM service_requests "
                "WHERE description LIKE 'soak report %'"
            )  # fmt: skip
        ).all()
    by_key: dict[str, list[str]] = {}
    for rid, text in rows:
        found = KEY_IN_TEXT.match(str(text))
        if found:
            by_key.setdefault(found.group(1), []).append(str(rid))
    out = Reports(acked=sum(r.acked for r in sent), stored=len(by_key))
    for r in sent:
        stored = by_key.get(r.key, [])
        if len(stored) > 1 or len(set(r.ids)) > 1:
            out.duplicated.append(f"{r.key}: stored {stored}, answered {r.ids}")
        if r.acked and not set(r.ids) & set(stored):
            out.missing.append(f"{r.key}: answered {r.ids}, stored {stored}")
        if stored and not r.acked and r.statuses:
            out.unacked_stored.append(f"{r.key}: answered {r.statuses}, stored {stored}")
    for r in sent:
        for rid in sorted(set(r.ids)):
            answer = api.get(f"/open311/v2/requests/{rid}.json")
            if answer.status_code != 200 or len(answer.json()) != 1:
                out.api_missing.append(f"{rid}: {answer.status_code}")
    return out


def check_work_orders(engine: sa.Engine, api: httpx.Client, open_states: list[str]) -> list[str]:
    """Return what breaks "every open request is in exactly one (open) work order and every
    work order's report count matches its member rows", from the store and from the API.

    Open requests without a location (imported rows the geocoder could not place) cannot be
    grouped and are left out.
    """
    problems: list[str] = []
    queries = {
        "open requests in no work order": (
            "SELECT r.service_request_id FROM service_requests r LEFT JOIN work_orders w "
            "ON w.work_order_id = r.work_order_id WHERE r.status IN :open "
            "AND r.lat IS NOT NULL AND w.work_order_id IS NULL"
        ),
        "open requests in a closed work order": (
            "SELECT r.service_request_id FROM service_requests r JOIN work_orders w "
            "ON w.work_order_id = r.work_order_id WHERE r.status IN :open "
            "AND w.status NOT IN :open"
        ),
        "work orders whose report_count differs from their member rows": (
            "SELECT w.work_order_id FROM work_orders w LEFT JOIN (SELECT work_order_id, "
            "COUNT(*) AS n FROM service_requests GROUP BY work_order_id) m "
            "ON m.work_order_id = w.work_order_id WHERE w.report_count <> COALESCE(m.n, 0)"
        ),
    }
    with engine.connect() as conn:
        for label, sql in queries.items():
            stmt = sa.text(sql)
            if ":open" in sql:
                stmt = stmt.bindparams(sa.bindparam("open", expanding=True))
            found = [str(r[0]) for r in conn.execute(stmt, {"open": open_states})]
            if found:
                problems.append(f"{label}: {len(found)} (e.g. {', '.join(found[:5])})")
        open_ids = {
            str(r[0])
            for r in conn.execute(
                sa.text(
                    "SELECT service_request_id FROM service_requests "
                    "WHERE status IN :open AND lat IS NOT NULL"
                ).bindparams(sa.bindparam("open", expanding=True)),
                {"open": open_states},
            )
        }
    return problems + _api_work_orders(api, open_ids)


def _api_work_orders(api: httpx.Client, open_ids: set[str]) -> list[str]:
    """The same through ``GET /workorders``: counts match members, open requests once each."""
    answer = api.get("/workorders", params={"limit": 100_000})
    answer.raise_for_status()
    seen: Counter[str] = Counter()
    problems = []
    for wo in answer.json():
        members = [str(m) for m in wo["member_ids"]]
        seen.update(members)
        if wo["report_count"] != len(members):
            problems.append(
                f"API: work order {wo['work_order_id']} report_count {wo['report_count']} "
                f"but {len(members)} members"
            )
    not_once = sorted(i for i in open_ids if seen[i] != 1)
    if not_once:
        problems.append(f"API: open requests not in exactly one work order: {len(not_once)}")
    return problems
