"""Jobs claimed by workers under a lease: once each, taken over when a worker dies, one plan each.

Runs on SQLite and on the real local PostgreSQL (the ``store`` fixture), with real threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from geo311.db.schema import jobs, plans
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.plans import jobs_store
from geo311.plans import repo as plan_repo
from geo311.plans.jobs import PROGRESS_KEY, Job, JobKind, JobWorker, report_progress


def _plan_kind(store: Store, ran: list[str] | None = None) -> JobKind:
    """A job kind that stores one plan row named after its job."""

    def run(job: Job) -> Callable[[], int]:
        if ran is not None:
            ran.append(job["job_id"])

        def save() -> int:
            return plan_repo.save_plan(store, {"job": job["job_id"]}, plan_date="2015-10-06")

        return save

    return JobKind(run)


def _plans_of(store: Store, job_id: str) -> list[int]:
    with store.read() as conn:
        rows = conn.execute(sa.select(plans.c.plan_id).where(plans.c.job_id == job_id))
        return [int(r.plan_id) for r in rows]


def _plan_count(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(plans)).scalar_one())


def _expire(store: Store, job_id: str) -> None:
    """Age a job's lease as if its worker had stopped renewing it a minute ago."""
    with store.begin() as conn:
        conn.execute(
            jobs.update()
            .where(jobs.c.job_id == job_id)
            .values(lease_expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )


def test_a_job_is_claimed_once_while_its_lease_runs_and_taken_over_after(store: Store) -> None:
    first = jobs_store.submit(store, "plan", {"time_limit_s": 5}, created_by="dina")
    second = jobs_store.submit(store, "plan", {"time_limit_s": 5}, created_by="dina")
    row = jobs_store.get(store, first)
    assert row is not None and row["state"] == "queued" and row["params"] == {"time_limit_s": 5}

    a = jobs_store.claim(store, owner="a", lease_s=60)
    assert a is not None and (a["job_id"], a["attempts"], a["state"]) == (first, 1, "running")
    b = jobs_store.claim(store, owner="b", lease_s=60)
    assert b is not None and b["job_id"] == second  # the oldest free one, never a's
    assert jobs_store.claim(store, owner="c", lease_s=60) is None
    assert jobs_store.heartbeat(store, first, owner="a", lease_s=60, progress=0.5)
    assert not jobs_store.heartbeat(store, first, owner="b", lease_s=60, progress=0.5)

    _expire(store, first)  # a stopped renewing: c takes its job over
    c = jobs_store.claim(store, owner="c", lease_s=60)
    assert c is not None and (c["job_id"], c["attempts"], c["lease_owner"]) == (first, 2, "c")
    assert not jobs_store.heartbeat(store, first, owner="a", lease_s=60, progress=0.9)
    assert jobs_store.get(store, first)["progress"] == 0.5  # type: ignore[index]


def test_a_worker_that_lost_its_lease_stores_nothing(store: Store) -> None:
    job_id = jobs_store.submit(store, "plan", {}, created_by="dina")
    jobs_store.claim(store, owner="slow", lease_s=60)
    _expire(store, job_id)
    jobs_store.claim(store, owner="fast", lease_s=60)
    # the slow worker's plan and its job update: all rolled back
    with pytest.raises(jobs_store.LeaseLost, match="no longer held"), store.begin():
        plan_id = plan_repo.save_plan(store, {"by": "slow"}, plan_date="2015-10-06")
        jobs_store.complete(store, job_id, owner="slow", plan_id=plan_id)
    assert _plan_count(store) == 0
    with store.begin():
        plan_id = plan_repo.save_plan(store, {"by": "fast"}, plan_date="2015-10-06")
        jobs_store.complete(store, job_id, owner="fast", plan_id=plan_id)
    row = jobs_store.get(store, job_id)
    assert row is not None and (row["state"], row["plan_id"]) == ("done", plan_id)
    assert _plans_of(store, job_id) == [plan_id]
    # the plan row carries the job's id, unique: a second plan of the same job cannot be stored
    other = plan_repo.save_plan(store, {"by": "nobody"}, plan_date="2015-10-06")
    with pytest.raises(sa.exc.IntegrityError), store.begin() as conn:
        conn.execute(plans.update().where(plans.c.plan_id == other).values(job_id=job_id))


def test_threads_of_several_workers_run_every_job_exactly_once(store: Store) -> None:
    ids = [jobs_store.submit(store, "plan", {}, created_by="dina") for _ in range(12)]
    ran: list[str] = []
    workers = [
        JobWorker(store, {"plan": _plan_kind(store, ran)}, threads=2, lease_s=30, poll_s=0.05)
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = [jobs_store.get(store, i)["state"] for i in ids]  # type: ignore[index]
            if all(s == "done" for s in states):
                break
            time.sleep(0.05)
    finally:
        for worker in workers:
            worker.stop()
    assert sorted(ran) == sorted(ids)  # each job ran once, none twice
    assert all(len(_plans_of(store, i)) == 1 for i in ids)
    assert _plan_count(store) == len(ids)
    owners = {jobs_store.get(store, i)["lease_owner"] for i in ids}  # type: ignore[index]
    assert len(owners) > 1  # the threads shared the work


def test_a_dead_workers_job_is_finished_once_by_another(store: Store) -> None:
    job_id = jobs_store.submit(store, "plan", {}, created_by="dina")
    assert jobs_store.claim(store, owner="dead", lease_s=0.2) is not None  # then it died
    worker = JobWorker(store, {"plan": _plan_kind(store)}, lease_s=30)
    assert worker.run_once() is False  # its lease still runs: nobody takes it
    time.sleep(0.3)
    assert worker.run_once() is True
    assert worker.run_once() is False  # done: never run again
    row = jobs_store.get(store, job_id)
    assert row is not None and row["state"] == "done" and row["attempts"] == 2
    assert _plans_of(store, job_id) == [row["plan_id"]] and _plan_count(store) == 1


def test_a_slow_worker_overtaken_by_another_leaves_one_plan(store: Store) -> None:
    job_id = jobs_store.submit(store, "plan", {}, created_by="dina")
    release = threading.Event()
    inside = threading.Event()

    def slow_run(job: Job) -> Callable[[], int]:
        inside.set()
        release.wait(30)  # a solve that outlives its lease (its heartbeat cannot renew it)
        return _plan_kind(store).run(job)

    # a long lease: no heartbeat comes before the test ages it, as if the process had stalled
    slow = JobWorker(store, {"plan": JobKind(slow_run)}, lease_s=600)
    thread = threading.Thread(target=slow.run_once, args=("slow",))
    thread.start()
    assert inside.wait(30)
    _expire(store, job_id)
    fast = JobWorker(store, {"plan": _plan_kind(store)}, lease_s=30)
    assert fast.run_once("fast") is True
    release.set()
    thread.join(30)
    row = jobs_store.get(store, job_id)
    assert row is not None and (row["state"], row["lease_owner"]) == ("done", "fast")
    assert _plans_of(store, job_id) == [row["plan_id"]] and _plan_count(store) == 1


def test_a_failing_job_records_its_error_and_a_job_whose_workers_die_gives_up(
    store: Store,
) -> None:
    failures: list[tuple[str, str]] = []

    def broken(job: Job) -> Callable[[], int]:
        raise InputError("crew file crews.toml does not exist; create it", field="crews_file")

    kind = JobKind(broken, lambda job, error: failures.append((job["job_id"], error)))
    job_id = jobs_store.submit(store, "plan", {}, created_by="dina")
    assert JobWorker(store, {"plan": kind}).run_once() is True
    row = jobs_store.get(store, job_id)
    assert row is not None and row["state"] == "failed" and "crews.toml" in row["error"]
    assert failures == [(job_id, row["error"])] and _plan_count(store) == 0

    doomed = jobs_store.submit(store, "plan", {}, created_by="dina")
    worker = JobWorker(store, {"plan": _plan_kind(store)}, max_attempts=2)
    for owner in ("dies-1", "dies-2"):  # two workers died running it
        assert jobs_store.claim(store, owner=owner, lease_s=60) is not None
        _expire(store, doomed)
    assert worker.run_once() is False
    row = jobs_store.get(store, doomed)
    assert row is not None and row["state"] == "failed" and "gave up after 2" in row["error"]


def test_a_stopping_worker_gives_its_running_job_back_at_once(store: Store) -> None:
    job_id = jobs_store.submit(store, "plan", {}, created_by="dina")
    release, inside = threading.Event(), threading.Event()

    def slow_run(job: Job) -> Callable[[], int]:
        inside.set()
        release.wait(30)
        return _plan_kind(store).run(job)

    worker = JobWorker(store, {"plan": JobKind(slow_run)}, lease_s=30, poll_s=0.05).start()
    threads = list(worker._threads)
    assert inside.wait(30)
    worker.stop(timeout_s=0.1)
    row = jobs_store.get(store, job_id)
    assert row is not None and row["state"] == "queued" and row["lease_owner"] is None
    release.set()  # the stopped worker's solve ends: its result is refused
    for thread in threads:
        thread.join(30)
    assert _plan_count(store) == 0
    assert JobWorker(store, {"plan": _plan_kind(store)}).run_once() is True
    assert len(_plans_of(store, job_id)) == 1


def test_a_job_reports_its_own_progress_and_the_heartbeat_stores_it(store: Store) -> None:
    seen: list[float] = []

    def run(job: Job) -> Callable[[], int]:
        report_progress(job, 0.37)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the heartbeat beats every lease_s / 3
            row = jobs_store.get(store, job["job_id"])
            if row is not None and row["progress"] > 0:
                seen.append(float(row["progress"]))
                break
            time.sleep(0.05)

        def save() -> int:
            return plan_repo.save_plan(store, {"job": job["job_id"]}, plan_date="2015-10-06")

        return save

    job_id = jobs_store.submit(store, "plan", {}, created_by="dina")
    worker = JobWorker(store, {"plan": JobKind(run)}, threads=0, lease_s=0.3)
    assert worker.run_once("w")
    assert seen == [0.37]  # the job's own figure, not the elapsed share of a time limit
    assert jobs_store.get(store, job_id)["progress"] == 1.0  # type: ignore[index]
    job: Job = {}
    report_progress(job, 1.7)
    assert job[PROGRESS_KEY] == 1.0
