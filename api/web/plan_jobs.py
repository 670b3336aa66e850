"""The dispatcher's "Plan the day" runs here: one worker thread, progress read by the page."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

_lock = threading.Lock()
KEEP = 20  # finished runs kept for their progress pages


@dataclass
class PlanJob:
    """A planning run: who started it, its time budget, and the future holding the plan."""

    job_id: str
    user: str
    time_limit_s: float
    future: Future[dict[str, Any]]
    started: float = field(default_factory=time.monotonic)

    def status(self) -> dict[str, Any]:
        """Return ``state`` (running, done, failed), ``elapsed_s``, ``plan_id`` or ``error``."""
        out: dict[str, Any] = {
            "job_id": self.job_id,
            "elapsed_s": round(time.monotonic() - self.started, 1),
            "time_limit_s": self.time_limit_s,
            "state": "running",
        }
        if self.future.done():
            exc = self.future.exception()
            if exc is None:
                out.update(state="done", plan_id=int(self.future.result()["plan_id"]))
            else:
                out.update(state="failed", error=str(getattr(exc, "detail", None) or exc))
        return out


class PlanJobs:
    """Planning runs of one application, solved one after the other off the event loop."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="geo311-plan")
        self._jobs: dict[str, PlanJob] = {}

    def submit(
        self, run: Callable[[], dict[str, Any]], *, user: str, time_limit_s: float
    ) -> PlanJob:
        """Start ``run`` (returns the stored plan document) and return its job."""
        job = PlanJob(secrets.token_hex(8), user, time_limit_s, self._pool.submit(run))
        with _lock:
            done = [k for k, j in self._jobs.items() if j.future.done()]
            for key in done[: max(0, len(done) - KEEP + 1)]:
                del self._jobs[key]
            self._jobs[job.job_id] = job
        return job

    def get(self, job_id: str) -> PlanJob | None:
        """Return a job by id, or None."""
        return self._jobs.get(job_id)


def plan_jobs(state: Any) -> PlanJobs:
    """Return the application's plan runner (created on first use)."""
    with _lock:
        runner = getattr(state, "plan_jobs", None)
        if runner is None:
            runner = PlanJobs()
            state.plan_jobs = runner
        return runner
