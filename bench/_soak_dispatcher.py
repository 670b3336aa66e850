"""The dispatcher of ``bench/ops_soak.py``: plans the day from the console and publishes it,
then again and again: plans the day afresh (the citizens' new reports included) or re-plans
mid-day ("Re-plan now", ticking new urgent work), and publishes the new plan."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

import httpx
from _soak_http import NEW_WORK, PLAN_URL, Http, csrf_of
from _soak_setup import PASSWORD


@dataclass
class JobCounts:
    """Planning runs: started, finished with a plan, failed, lost (unknown after a restart)."""

    started: int = 0
    finished: int = 0
    failed: int = 0
    lost: int = 0
    published: list[int] = field(default_factory=list)
    # (monotonic time the publishing was sent, plan id): when each plan may have superseded
    # the one before
    publications: list[tuple[float, int]] = field(default_factory=list)


class Dispatcher(threading.Thread):
    """The dispatcher's browser session: plan, publish, re-plan, publish ... until ``end``."""

    def __init__(self, http: Http, *, time_limit_s: float, end: float, seed: int):
        super().__init__(name="dispatcher", daemon=True)
        self.http = http
        self.limit = time_limit_s
        self.end = end
        self.rng = random.Random(seed)
        self.jobs = JobCounts()
        self.plan_id: int | None = None
        self.solving = threading.Event()  # set while a planning run is in progress
        self.rounds = 0

    def first_plan(self) -> int:
        """Sign in, plan the day from now for all districts and publish it; return its id."""
        if not self.http.login("soak-dispatcher", PASSWORD):
            raise RuntimeError("the dispatcher could not sign in")
        for _ in range(3):
            if self.plan_day() and self.plan_id is not None:
                return self.plan_id
        raise RuntimeError("the dispatcher could not plan and publish the day")

    def run(self) -> None:
        """Every 10-20 s: plan the day afresh or re-plan now, in turn, and publish."""
        while time.monotonic() < self.end:
            time.sleep(self.rng.uniform(10.0, 20.0))
            if time.monotonic() >= self.end:
                break
            self.rounds += 1
            if self.rounds % 2:
                self.replan()
            else:
                self.plan_day()

    def plan_day(self) -> bool:
        """'Plan the day' from now (all open work, all districts) and publish the plan."""
        form: dict[str, str | list[str]] = {
            "csrf_token": self._token("/dispatch"),
            "at": "",  # now
            "time_limit_s": str(self.limit),
            "districts": "all",
        }
        plan_id = self._run_job("/dispatch/plan", form)
        return plan_id is not None and self._publish(plan_id)

    def replan(self) -> bool:
        """'Re-plan now' the published plan, ticking some of the new work offered, and publish."""
        assert self.plan_id is not None
        page = self.http.call("GET", f"/dispatch/plans/{self.plan_id}")
        if page is None or page.status_code != 200:
            return False
        offered = NEW_WORK.findall(page.text)
        ticked = self.rng.sample(offered, min(len(offered), self.rng.randint(3, 12)))
        form: dict[str, str | list[str]] = {
            "csrf_token": csrf_of(page.text),
            "mode": "now",
            "at": "",  # now
            "time_limit_s": str(self.limit),
            "new_work_order": ticked,
        }
        new_id = self._run_job(f"/dispatch/plans/{self.plan_id}/replan", form)
        return new_id is not None and self._publish(new_id)

    def _token(self, path: str) -> str:
        page = self.http.call("GET", path)
        return csrf_of(page.text) if page is not None else ""

    def _run_job(self, path: str, form: dict[str, str | list[str]]) -> int | None:
        """Start a planning run, follow it to its plan; None when it failed or was lost."""
        answer = self.http.call("POST", path, data=form)
        where = answer.headers.get("location", "") if answer is not None else ""
        if answer is None or answer.status_code != 303 or not where:
            return None
        self.jobs.started += 1
        self.solving.set()
        try:
            return self._wait(where)
        finally:
            self.solving.clear()

    def _wait(self, where: str) -> int | None:
        """Poll the run until it names its plan: its JSON status (the progress page's), or
        the progress page itself when the status route is unknown (it redirects when done).
        """
        status_path = where if where.endswith(".json") else f"{where}.json"
        deadline = time.monotonic() + 20 * self.limit + 120
        known = False  # the run has been seen by the server at least once
        while time.monotonic() < deadline:
            answer = self.http.call("GET", status_path)
            if answer is None:
                break
            if answer.status_code == 404 and not known and status_path != where:
                status_path = where  # no JSON status here: follow the progress page
                continue
            if answer.status_code == 404:  # the server no longer knows the run
                self.jobs.lost += 1
                return None
            known = known or answer.status_code in (200, 302, 303)
            plan_id, state = _run_state(answer)
            if plan_id is not None:
                self.jobs.finished += 1
                return plan_id
            if state == "failed":
                self.jobs.failed += 1
                return None
            time.sleep(0.5)
        self.jobs.lost += 1  # never finished within 20x its time limit
        return None

    def _publish(self, plan_id: int) -> bool:
        """Publish a plan from its page (CSRF form); True when published."""
        token = self._token(f"/dispatch/plans/{plan_id}")
        sent_at = time.monotonic()
        answer = self.http.call(
            "POST", f"/dispatch/plans/{plan_id}/publish", data={"csrf_token": token}
        )
        if answer is None:
            return False
        # 409: a resend after a kill found it published by the first send
        ok = answer.status_code == 409 or (
            answer.status_code == 303 and PLAN_URL.search(answer.headers.get("location", ""))
        )
        if ok:
            self.plan_id = plan_id
            self.jobs.published.append(plan_id)
            self.jobs.publications.append((sent_at, plan_id))
        return bool(ok)


def _run_state(answer: httpx.Response) -> tuple[int | None, str]:
    """Return the plan id (when done) and the state of a planning run's status answer."""
    found = PLAN_URL.search(answer.headers.get("location", ""))
    if answer.status_code in (302, 303) and found:
        return int(found.group(1)), "done"
    if "json" not in answer.headers.get("content-type", ""):
        return None, "running"
    status = answer.json() if answer.status_code == 200 else {}
    state = str(status.get("state", ""))
    if state == "done" and status.get("plan_id"):
        return int(status["plan_id"]), state
    return None, state
