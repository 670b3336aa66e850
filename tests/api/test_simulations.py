"""Planner's what-if over the API: start a simulation, poll it, read its result and plot."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.planner.schemas import SimulationRequest
from api.planner.simulation_runs import SimulationRunner, simulation_kind
from geo311.city.catalogue import load_catalogue
from geo311.db.store import Store
from geo311.plans import jobs_store
from geo311.plans import repo as plan_repo
from geo311.plans.jobs import JobWorker
from geo311.settings import REPO_DATA_DIR
from geo311.staff import store as auth_store
from tests.api.conftest import auth, make_settings

PLAN, DISP, CREW_A = auth("plan-token"), auth("disp-token"), auth("crew-a-token")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SHORT = {"from": "2015-09-01", "to": "2015-09-14", "service": "streetlights", "crews_sweep": "1..2"}


def _wait(client: TestClient, sim_id: int, *, limit_s: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while True:
        resp = client.get(f"/simulations/{sim_id}", headers=PLAN)
        assert resp.status_code == 200, resp.text
        doc: dict[str, Any] = resp.json()
        if doc["status"] != "running" or time.monotonic() > deadline:
            return doc
        time.sleep(0.25)


def test_simulation_runs_off_the_loop_and_serves_result_and_plot(
    client: TestClient, api_store: Store, store_url: str
) -> None:
    resp = client.post("/simulations", json=SHORT, headers=PLAN)
    assert resp.status_code == 202, resp.text
    started = resp.json()
    sim_id = started["simulation_id"]
    assert started["status"] == "running" and started["result"] is None
    assert resp.headers["location"] == f"/simulations/{sim_id}"
    assert started["request"]["from"] == "2015-09-01" and started["request"]["to"] == "2015-09-14"
    (row,) = auth_store.audit_rows(
        api_store, auth_store.AuditFilter(action="simulation.start")
    )  # who started it
    assert row["actor"] == "token:" + hashlib.sha256(b"plan-token").hexdigest()[:12]
    assert row["object"] == f"simulation:{sim_id}" and row["after"]["from"] == "2015-09-01"
    # the event loop is free while it runs: other requests answer at once
    assert client.get("/backlog", headers=PLAN).status_code == 200
    early = client.get(f"/simulations/{sim_id}/plot.png", headers=PLAN)
    if early.status_code == 404:  # still running (a fast machine may already be done)
        assert "still running" in early.json()["detail"]

    doc = _wait(client, sim_id)
    assert doc["status"] == "done", doc.get("error")
    assert doc["error"] is None and doc["plot_url"] == f"/simulations/{sim_id}/plot.png"
    result = doc["result"]
    assert result["start"] == "2015-09-01" and result["end"] == "2015-09-14"
    assert list(result["groups"]) == ["streetlights"]
    group = result["groups"]["streetlights"]
    assert [r["crews"] for r in group["runs"]] == [1, 2]
    assert group["actual"]["reports"] > 0
    for run in group["runs"]:
        sim = run["simulated"]
        assert sim["reports"] == group["actual"]["reports"]
        assert sim["median_days"] is not None and sim["median_days"] >= 0
        assert 0 < run["utilisation"] <= 1 and run["backlog"]
    # twice the crews for the same work: each crew is busy a smaller share of its day
    assert group["runs"][1]["utilisation"] < group["runs"][0]["utilisation"]
    assert group["target_median_days"] == 7.0
    meets = [r["crews"] for r in group["runs"] if r["simulated"]["median_days"] <= 7.0]
    assert group["smallest_crews"] == (min(meets) if meets else None)
    assert "streetlights" in doc["table"] and doc["wall_time_s"] > 0
    assert result["settings"]["seed"] == 0 and result["notes"]

    plot = client.get(f"/simulations/{sim_id}/plot.png", headers=DISP)
    assert plot.status_code == 200
    assert plot.headers["content-type"] == "image/png" and plot.content.startswith(PNG_MAGIC)

    # the finished simulation is stored: a new app over the same store serves it (and its plot)
    stored = plan_repo.get_plan(api_store, sim_id)
    assert stored["kind"] == "simulation" and stored["status"] == "done"
    app2 = create_app(make_settings(store_url), store=api_store)
    with TestClient(app2, raise_server_exceptions=False) as other:
        again = other.get(f"/simulations/{sim_id}", headers=PLAN).json()
        assert again["status"] == "done" and again["result"] == result
        png = other.get(f"/simulations/{sim_id}/plot.png", headers=PLAN)
        assert png.status_code == 200 and png.content == plot.content


def test_simulation_needs_a_planner_or_dispatcher_token(client: TestClient) -> None:
    assert client.post("/simulations", json=SHORT).status_code == 401
    assert client.get("/simulations/1").status_code == 401
    assert client.get("/simulations/1/plot.png").status_code == 401
    resp = client.post("/simulations", json=SHORT, headers=CREW_A)
    assert resp.status_code == 403 and "planner" in resp.json()["detail"]
    assert client.get("/simulations/1", headers=CREW_A).status_code == 403
    assert client.get("/simulations/1/plot.png", headers=CREW_A).status_code == 403


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"to": "2015-08-01"}, "to", "before from"),
        ({"from": "2015-01-01", "to": "2016-06-30"}, "to", "at most 366"),
        ({"from": "2015-13-01"}, "from", "date"),
        ({"to": None}, "to", "to"),
        ({"crews_sweep": "1..x"}, "crews_sweep", "1..6"),
        ({"crews_sweep": "0..3"}, "crews_sweep", "out of range"),
        ({"crews_sweep": "1..40"}, "crews_sweep", "at most 10"),
        ({"crews": 2}, "crews_sweep", "not both"),
        ({"service": "trees"}, "service", "allowed values"),
        ({"seed": -1}, "seed", "larger"),
        ({"target_median_days": 0}, "target_median_days", "larger"),
        ({"start": "2015-09-01"}, "start", "start"),
    ],
)
def test_simulation_input_errors_name_the_field(
    client: TestClient, change: dict[str, Any], field: str, words: str
) -> None:
    body = {**SHORT, **change}
    resp = client.post("/simulations", json=body, headers=PLAN)
    assert resp.status_code == 422, resp.text
    err = resp.json()
    assert err["field"] == field and words in err["detail"]


def test_unknown_and_non_simulation_ids_are_404(client: TestClient, api_store: Store) -> None:
    resp = client.get("/simulations/999999", headers=PLAN)
    assert resp.status_code == 404 and "POST /simulations" in resp.json()["detail"]
    plan_id = plan_repo.save_plan(api_store, {"routes": []}, plan_date="2015-10-06", kind="plan")
    assert client.get(f"/simulations/{plan_id}", headers=PLAN).status_code == 404
    assert client.get(f"/simulations/{plan_id}/plot.png", headers=PLAN).status_code == 404
    assert client.get("/simulations/0", headers=PLAN).status_code == 422


def test_a_failing_simulation_reports_why(api_store: Store, store_url: str, tmp_path: Path) -> None:
    # a data folder without crews.toml: the run fails, the planner reads why and how to fix it
    settings = make_settings(store_url, data_dir=tmp_path)
    catalogue = load_catalogue(REPO_DATA_DIR / "services.toml")
    app = create_app(settings, store=api_store, catalogue=catalogue)
    with TestClient(app, raise_server_exceptions=False) as c:
        resp = c.post("/simulations", json=SHORT, headers=PLAN)
        assert resp.status_code == 202
        sim_id = resp.json()["simulation_id"]
        doc = _wait(c, sim_id, limit_s=60)
        assert doc["status"] == "failed" and doc["result"] is None
        assert "crew file" in doc["error"] and "does not exist" in doc["error"]
        plot = c.get(f"/simulations/{sim_id}/plot.png", headers=PLAN)
        assert plot.status_code == 404 and "failed" in plot.json()["detail"]
    assert plan_repo.get_plan(api_store, sim_id)["status"] == "failed"


def test_a_simulation_cut_by_a_restart_reads_as_interrupted(
    client: TestClient, api_store: Store
) -> None:
    # stored running by an earlier app instance of this process, which no longer has it
    doc = {
        "status": "running",
        "request": SHORT,
        "submitted": "2015-09-01T07:00:00+00:00",
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    sim_id = plan_repo.save_plan(api_store, doc, plan_date="2015-09-01", kind="simulation")
    out = client.get(f"/simulations/{sim_id}", headers=PLAN).json()
    assert out["status"] == "failed" and "interrupted" in out["error"]
    assert "pid" not in out and "host" not in out


@pytest.fixture()
def busy_client(api_store: Store, store_url: str) -> Iterator[TestClient]:
    app = create_app(make_settings(store_url), store=api_store)
    app.state.simulations = SimulationRunner(max_pending=0)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_too_many_waiting_simulations_is_429(busy_client: TestClient, api_store: Store) -> None:
    resp = busy_client.post("/simulations", json=SHORT, headers=PLAN)
    assert resp.status_code == 429 and "retry" in resp.json()["detail"]
    assert plan_repo.latest_plan_id(api_store, kind="simulation") is None


def test_a_simulation_queued_in_one_app_is_run_by_anothers_worker(
    api_store: Store, store_url: str
) -> None:
    settings = make_settings(store_url)
    front = create_app(settings, store=api_store, job_workers=0)  # answers, simulates nothing
    with TestClient(front, raise_server_exceptions=False) as client:
        resp = client.post("/simulations", json=SHORT, headers=PLAN)
        assert resp.status_code == 202, resp.text
        sim_id = resp.json()["simulation_id"]
        time.sleep(1.0)
        assert client.get(f"/simulations/{sim_id}", headers=PLAN).json()["status"] == "running"
        job = jobs_store.job_of_plan(api_store, sim_id)
        assert job is not None and job["state"] == "queued" and job["kind"] == "simulation"
        # the waiting simulations are counted over every process: another app refuses a second
        busy = create_app(settings, store=api_store, job_workers=0)
        busy.state.simulations = SimulationRunner(max_pending=1)
        with TestClient(busy, raise_server_exceptions=False) as other:
            refused = other.post("/simulations", json=SHORT, headers=PLAN)
            assert refused.status_code == 429 and "1 simulations" in refused.json()["detail"]
        with Store(store_url) as own, TestClient(create_app(settings, store=own)):
            doc = _wait(client, sim_id)  # polled through the first app
        assert doc["status"] == "done", doc.get("error")
        assert doc["result"]["groups"]["streetlights"]["runs"]
        plot = client.get(f"/simulations/{sim_id}/plot.png", headers=PLAN)
        assert plot.status_code == 200 and plot.content.startswith(PNG_MAGIC)
    job = jobs_store.job_of_plan(api_store, sim_id)
    assert job is not None and job["state"] == "done" and job["attempts"] == 1
    assert plan_repo.latest_plan_id(api_store, kind="simulation") == sim_id  # no second document


def test_a_simulation_whose_workers_keep_dying_reads_as_failed(
    api_store: Store, store_url: str
) -> None:
    settings = make_settings(store_url)
    catalogue = load_catalogue(REPO_DATA_DIR / "services.toml")
    sim_id = SimulationRunner().submit(
        SimulationRequest.model_validate(SHORT), store=api_store, created_by="pete"
    )["simulation_id"]
    for owner in ("dies-1", "dies-2"):  # claimed, then the process was killed (lease aged)
        assert jobs_store.claim(api_store, owner=owner, lease_s=0.01, kinds=("simulation",))
        time.sleep(0.05)
    worker = JobWorker(
        api_store, {"simulation": simulation_kind(api_store, catalogue, settings)}, max_attempts=2
    )
    assert worker.run_once() is False  # given up, not run a third time
    app = create_app(settings, store=api_store, job_workers=0)
    with TestClient(app, raise_server_exceptions=False) as client:
        out = client.get(f"/simulations/{sim_id}", headers=PLAN).json()
    assert out["status"] == "failed" and "gave up after 2 attempts" in out["error"]
