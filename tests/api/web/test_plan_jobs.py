"""Planning runs are job rows: any app instance answers their progress, a worker of another runs
them, a killed worker's run is taken over and stores one plan, ``serve --workers 4`` plans.

SQLite and the real local PostgreSQL (the ``store_url`` fixture); the killed worker is a real
subprocess ended with SIGKILL; ``serve --workers 4`` is a real uvicorn on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.web.plan_jobs import job_status
from geo311.city.catalogue import Catalogue
from geo311.db.schema import plans
from geo311.db.store import Store
from geo311.plans import jobs_store
from geo311.settings import Settings
from geo311.staff import store as auth_store
from geo311.staff import users
from tests.api.conftest import make_settings
from tests.api.web.conftest import PASSWORD, csrf_of, login
from tests.routing._dispatch_data import fill

AT = "2015-10-06T07:00"
REPO = Path(__file__).resolve().parents[3]


def _settings(store_url: str, tmp_path: Path, **extra: Any) -> Settings:
    return make_settings(store_url, media_dir=tmp_path / "media", **extra)


@contextmanager
def _signed_in(app: Any, username: str = "dina") -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        assert login(client, username).status_code == 303
        yield client


def _start_plan(client: Any, time_limit_s: float = 1) -> str:
    token = csrf_of(client.get(f"/dispatch?at={AT}").text)
    response = client.post(
        "/dispatch/plan",
        data={"csrf_token": token, "at": AT, "time_limit_s": str(time_limit_s)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    url = str(response.headers["location"])
    assert url.startswith("/dispatch/plan-jobs/")
    return url


def _wait(client: Any, url: str, *, limit_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while True:
        status: dict[str, Any] = client.get(url + ".json").json()
        if status["state"] != "running" or time.monotonic() > deadline:
            return status
        time.sleep(0.3)


def _plans_of_job(store: Store, job_id: str) -> list[int]:
    with store.read() as conn:
        rows = conn.execute(sa.select(plans.c.plan_id).where(plans.c.job_id == job_id))
        return [int(r.plan_id) for r in rows]


def test_a_plan_queued_in_one_app_is_solved_by_another_and_read_after_a_restart(
    web_store: Store, store_url: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    fill(web_store, catalogue)
    settings = _settings(store_url, tmp_path)
    front = create_app(settings, store=web_store, job_workers=0)  # serves pages, solves nothing
    with _signed_in(front) as client:
        url = _start_plan(client)
        job_id = url.rsplit("/", 1)[1]
        time.sleep(1.0)
        status = client.get(url + ".json").json()
        assert status["state"] == "running" and status["queued"] is True, status
        page = client.get(url)
        assert page.status_code == 200 and "Waiting for a free planning worker" in page.text
        # another instance, with a store of its own as another process would have
        with Store(store_url) as other, TestClient(create_app(settings, store=other)):
            status = _wait(client, url)  # polled through the first instance all along
        assert status["state"] == "done" and status["queued"] is False, status
        assert status["plan_url"] == f"/dispatch/plans/{status['plan_id']}"
    row = jobs_store.get(web_store, job_id)
    assert row is not None and row["created_by"] == "dina" and row["attempts"] == 1
    assert _plans_of_job(web_store, job_id) == [status["plan_id"]]
    # restarted: a new instance (its own store, no workers) answers the progress page
    fresh = Store(store_url)
    with fresh, _signed_in(create_app(settings, store=fresh, job_workers=0)) as again:
        page = again.get(url)
        assert page.url.path == f"/dispatch/plans/{status['plan_id']}"
        assert again.get(url + ".json").json()["state"] == "done"


def test_a_failed_run_shows_its_error_on_the_progress_page(browser: Any, web_store: Store) -> None:
    client = browser("dina")
    job_id = jobs_store.submit(  # its plan is gone by the time a worker runs it
        web_store,
        "replan",
        {"plan_id": 999999, "mode": "locked", "at": None, "time_limit_s": 1},
        created_by="dina",
    )
    url = f"/dispatch/plan-jobs/{job_id}"
    status = _wait(client, url, limit_s=60)
    assert status["state"] == "failed" and "plan 999999 does not exist" in status["error"]
    page = client.get(url)
    assert page.status_code == 200
    assert "The plan could not be made: plan 999999 does not exist" in page.text
    assert client.get("/dispatch/plan-jobs/0123456789abcdef.json").status_code == 404


_WORKER = textwrap.dedent(
    """
    import sys, time
    from fastapi.testclient import TestClient
    from api.app import create_app
    from tests.api.conftest import make_settings

    app = create_app(make_settings(sys.argv[1], job_lease_s=2.0), job_workers=1)
    with TestClient(app):
        time.sleep(600)
    """
)


def _held_by(store: Store, job_id: str, pid: int, limit_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        row = jobs_store.get(store, job_id)
        assert row is not None
        if row["state"] == "running" and f":{pid}:" in str(row["lease_owner"]):
            return row
        time.sleep(0.05)
    pytest.fail(f"the worker process {pid} did not claim job {job_id} in {limit_s} s")


@pytest.mark.slow
def test_a_worker_killed_mid_plan_is_taken_over_and_one_plan_is_stored(
    web_store: Store, store_url: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    fill(web_store, catalogue)
    settings = _settings(store_url, tmp_path, job_lease_s=2.0)
    with _signed_in(create_app(settings, store=web_store, job_workers=0)) as client:
        url = _start_plan(client, time_limit_s=3)
    job_id = url.rsplit("/", 1)[1]
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    proc = subprocess.Popen([sys.executable, "-c", _WORKER, store_url], cwd=REPO, env=env)
    try:
        _held_by(web_store, job_id, proc.pid, limit_s=180)
        time.sleep(0.5)  # solving (loading the street graph, then the solver's 3 s)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    row = jobs_store.get(web_store, job_id)
    assert row is not None and row["state"] == "running", row  # killed before it finished
    dead = row["lease_owner"]
    with _signed_in(create_app(settings, store=web_store)) as client:
        status = _wait(client, url)
    assert status["state"] == "done", status
    row = jobs_store.get(web_store, job_id)
    assert row is not None and row["attempts"] == 2 and row["lease_owner"] != dead
    assert _plans_of_job(web_store, job_id) == [status["plan_id"]]
    with web_store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(plans)).scalar_one() == 1
    created = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="plan.create"))
    assert [(r["object"], r["actor"]) for r in created] == [(f"plan:{status['plan_id']}", "dina")]


def test_serve_refuses_several_workers_on_sqlite(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        GEO311_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}",
        PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from geo311.cli.app import main; main()",
            "serve",
            "--workers",
            "4",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "--workers 4 needs PostgreSQL" in done.stderr and "--workers 1" in done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> set[int]:
    """Return the ids of the processes whose parent is ``pid`` (read from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _web_login(client: httpx.Client) -> None:
    page = client.get("/login")
    form = {"username": "dina", "password": PASSWORD, "csrf_token": csrf_of(page.text), "next": ""}
    assert client.post("/login", data=form).status_code == 303


@contextmanager
def _serve(url: str, tmp_path: Path, workers: int) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    env = dict(
        os.environ,
        GEO311_DATABASE_URL=url,
        GEO311_MEDIA_DIR=str(tmp_path / "media"),
        GEO311_NOTIFY_SENDER_IN_SERVE="false",
        PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    )
    command = ["from geo311.cli.app import main; main()", "serve", "--port", str(port)]
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", *command, "--workers", str(workers)],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # four processes start on a loaded 2-core machine
        while True:
            try:
                if httpx.get(f"{base}/open311/v2/discovery.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"serve did not start: {(tmp_path / 'serve.log').read_text()}")
            time.sleep(0.3)
        yield proc, base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


def _workers_of(proc: subprocess.Popen[bytes], count: int, limit_s: float) -> set[int]:
    deadline = time.monotonic() + limit_s
    while True:
        found = {
            pid
            for pid in _children(proc.pid)
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        }
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.postgres
def test_serve_with_4_workers_answers_and_plans_across_processes(
    postgres_url: str, catalogue: Catalogue, tmp_path: Path
) -> None:
    with Store(postgres_url) as store:
        users.create_user(store, "dina", role="dispatcher", password=PASSWORD, display_name="D")
        fill(store, catalogue)
    with _serve(postgres_url, tmp_path, 4) as (proc, base):
        workers = _workers_of(proc, 4, limit_s=120)
        assert len(workers) == 4, workers
        with httpx.Client(base_url=base, timeout=60) as client:
            _web_login(client)
            urls = [_start_plan(client) for _ in range(4)]  # each process plans one at a time
            statuses = [_wait(client, url, limit_s=240) for url in urls]
        assert [s["state"] for s in statuses] == ["done"] * 4, statuses
        assert len({s["plan_id"] for s in statuses}) == 4
        assert proc.poll() is None and _workers_of(proc, 4, limit_s=0) == workers  # none died
    with Store(postgres_url) as store:
        rows = [jobs_store.get(store, url.rsplit("/", 1)[1]) for url in urls]
    solvers = {int(str(r["lease_owner"]).split(":")[1]) for r in rows if r is not None}
    assert solvers <= workers and len(solvers) >= 2, (solvers, workers)


def test_a_run_given_back_to_the_queue_reads_as_waiting(web_store: Store) -> None:
    job_id = jobs_store.submit(web_store, "plan", {"time_limit_s": 5}, created_by="dina")
    assert job_status(web_store, job_id)["queued"] is True  # type: ignore[index]
    assert jobs_store.claim(web_store, owner="stopping", lease_s=60)
    time.sleep(0.2)
    running = job_status(web_store, job_id)
    assert running is not None and running["queued"] is False and running["elapsed_s"] > 0
    assert jobs_store.release(web_store, job_id, owner="stopping")  # its server stopped
    status = job_status(web_store, job_id)
    assert status is not None and status["state"] == "running" and status["queued"] is True
    assert status["elapsed_s"] == 0 and status["attempts"] == 1
    simulation = jobs_store.submit(web_store, "simulation", {}, created_by="pete")
    assert job_status(web_store, simulation) is None  # not a planning run
