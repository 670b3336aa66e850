"""The job worker: claim a job row, run it under a heartbeat lease, store its result once.

Every server process (``geo311 serve --workers N``) runs a :class:`JobWorker` over the shared
database: a thread claims the oldest queued job (or one whose worker died: its lease expired,
:func:`geo311.plans.jobs_store.claim`), renews the lease while the job runs, and stores the plan and
the job's ``done`` state in one transaction fenced by the lease
(:func:`geo311.plans.jobs_store.complete`). A worker killed mid-job therefore loses nothing: its job
stays ``running`` until its lease expires, then another worker runs it again; a slow worker whose
lease was taken over finds its result refused and rolled back, so a job stores one plan. This is
the outbox sender's at-least-once discipline (:mod:`geo311.notify.sender`) with a lease instead
of a held transaction, since a solve may take minutes. Why not ``procrastinate``: the same
reasons as the outbox (PostgreSQL only; geo311 runs on SQLite too).

What a job does is given by the application as :class:`JobKind` values per kind: ``run`` does
the slow work outside any transaction and returns ``save``, which stores the result inside the
finishing transaction and returns the plan id.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from geo311.db.store import Store
from geo311.errors import Geo311Error
from geo311.plans import jobs_store

_log = logging.getLogger(__name__)

Job = dict[str, Any]

PROGRESS_KEY = "progress_now"
"""Where a running job's own work leaves its progress for the heartbeat (see :func:`report_progress`)."""


def report_progress(job: Job, fraction: float) -> None:
    """Record how far a running job is (0..1); its heartbeat stores it at the next beat.

    Without it the heartbeat stores the elapsed share of the job's ``time_limit_s``.
    """
    job[PROGRESS_KEY] = min(1.0, max(0.0, float(fraction)))


"""A job row (:func:`geo311.plans.jobs_store.get`): ``job_id``, ``kind``, ``params``, ``attempts``..."""


@dataclass(frozen=True)
class JobKind:
    """How to run one kind of job.

    Attributes
    ----------
    run
        ``job -> save``: the slow work (solving), outside any transaction. ``save()`` stores the
        result and returns its plan id; it runs inside the transaction that marks the job done.
    failed
        ``(job, error)``, optional: record a failure beside the job row (same transaction).
    """

    run: Callable[[Job], Callable[[], int]]
    failed: Callable[[Job, str], None] | None = None


def error_text(exc: BaseException) -> str:
    """Return what a failed job tells its user: the error's ``detail`` or its message."""
    detail = getattr(exc, "detail", None)
    return str(detail or exc) or type(exc).__name__


class _Heartbeat:
    """Renews a held job's lease every third of it, in a thread of its own."""

    def __init__(self, worker: JobWorker, job: Job, owner: str) -> None:
        self.worker, self.job, self.owner = worker, job, owner
        self.lost = False
        self._done = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="geo311-job-beat")

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        limit = float(self.job["params"].get("time_limit_s") or 0)
        while not self._done.wait(self.worker.lease_s / 3):
            elapsed = time.monotonic() - self._started
            own = self.job.get(PROGRESS_KEY)
            try:
                held = jobs_store.heartbeat(
                    self.worker.store,
                    self.job["job_id"],
                    owner=self.owner,
                    lease_s=self.worker.lease_s,
                    progress=own if own is not None else (elapsed / limit if limit > 0 else 0.0),
                )
            except sa.exc.SQLAlchemyError as exc:  # the database blinked: try again next beat
                _log.warning("job %s: heartbeat failed: %s", self.job["job_id"], exc)
                continue
            if not held:
                self.lost = True
                _log.warning("job %s: lease lost to another worker", self.job["job_id"])
                return


class JobWorker:
    """Threads that claim and run jobs of some kinds from the store.

    Parameters
    ----------
    store
        The shared store.
    kinds
        :class:`JobKind` per job kind this worker runs.
    threads
        Jobs run side by side in this process (0: the worker runs nothing).
    lease_s
        A claim's lease; renewed every third of it while the job runs. A dead worker's job is
        taken over once it expires.
    poll_s
        Wait between looks at an empty queue.
    max_attempts
        Claims after which a job whose worker keeps dying is failed.
    """

    def __init__(
        self,
        store: Store,
        kinds: Mapping[str, JobKind],
        *,
        threads: int = 1,
        lease_s: float = 30.0,
        poll_s: float = 0.5,
        max_attempts: int = 3,
    ) -> None:
        self.store = store
        self.kinds = dict(kinds)
        self.threads = threads
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.max_attempts = max_attempts
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._held: dict[str, str] = {}  # owner -> job id it runs now
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> JobWorker:
        """Start the worker threads (daemons); returns the worker."""
        for i in range(self.threads):
            owner = f"{self.name}-{'-'.join(sorted(self.kinds))}-{i}"
            thread = threading.Thread(target=self._loop, args=(owner,), daemon=True, name=owner)
            thread.start()
            self._threads.append(thread)
        return self

    def wake(self) -> None:
        """Look at the queue now (a job was just submitted in this process)."""
        self._wake.set()

    def stop(self, *, timeout_s: float = 2.0) -> None:
        """Stop claiming; give the jobs still running back to the queue for another worker.

        A solve in progress cannot be interrupted: its thread finishes on its own, and its
        result is refused (the job was released), so the job is run once more elsewhere.
        """
        self._stop.set()
        self._wake.set()
        with self._lock:
            held = dict(self._held)
        for owner, job_id in held.items():
            try:
                jobs_store.release(self.store, job_id, owner=owner)
            except sa.exc.SQLAlchemyError as exc:  # its lease expires on its own
                _log.warning("job %s: not released at stop: %s", job_id, exc)
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        self._threads.clear()

    def _loop(self, owner: str) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_once(owner)
            except sa.exc.SQLAlchemyError as exc:  # the database restarts or is unreachable
                _log.warning("job worker %s: database error, retrying: %s", owner, exc)
                ran = False
            if not ran:
                self._wake.wait(self.poll_s)
                self._wake.clear()

    # -- one job ---------------------------------------------------------------------------
    def run_once(self, owner: str | None = None) -> bool:
        """Claim one due job and run it to its end; False when nothing was due.

        Parameters
        ----------
        owner
            The lease owner's name (default: this worker's name).
        """
        owner = owner or f"{self.name}-once"
        kinds = tuple(self.kinds)
        if not jobs_store.due(self.store, kinds=kinds):
            return False
        jobs_store.give_up_abandoned(self.store, max_attempts=self.max_attempts, kinds=kinds)
        job = jobs_store.claim(self.store, owner=owner, lease_s=self.lease_s, kinds=kinds)
        if job is None:
            return False
        with self._lock:
            self._held[owner] = job["job_id"]
        try:
            self._execute(job, owner)
        finally:
            with self._lock:
                self._held.pop(owner, None)
        return True

    def _execute(self, job: Job, owner: str) -> None:
        kind = self.kinds[job["kind"]]
        try:
            with _Heartbeat(self, job, owner) as beat:
                save = kind.run(job)
            if beat.lost:  # another worker runs it now: do not even try to store this result
                return
            with self.store.begin():  # the result and the job's state commit together
                plan_id = save()
                jobs_store.complete(self.store, job["job_id"], owner=owner, plan_id=plan_id)
        except jobs_store.LeaseLost as exc:
            _log.warning("%s", exc)
        except Exception as exc:  # noqa: BLE001 - every failure is the job's, recorded on it
            self._failed(job, owner, kind, exc)

    def _failed(self, job: Job, owner: str, kind: JobKind, exc: Exception) -> None:
        if isinstance(exc, sa.exc.IntegrityError):
            stored = jobs_store.get(self.store, job["job_id"])
            if stored is not None and stored["state"] == "done":
                _log.warning("job %s: already done by another worker", job["job_id"])
                return
        if not isinstance(exc, Geo311Error) and getattr(exc, "detail", None) is None:
            _log.error("job %s (%s) failed", job["job_id"], job["kind"], exc_info=exc)
        message = error_text(exc)
        with self.store.begin():
            held = jobs_store.fail(self.store, job["job_id"], owner=owner, error=message)
            if held and kind.failed is not None:
                kind.failed(job, message)
