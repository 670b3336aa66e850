"""The outbox sender: claim due rows, deliver them, mark them sent (``geo311 notify run``).

Crash safety
------------
A row leaves ``pending`` only after its channel reported success (``sent``), a permanent
failure or its last attempt (``dead``), or a reason not to send (``skipped``). A sender killed
at any moment therefore loses nothing: whatever it was doing is still ``pending`` and the next
sender picks it up. The only window for a second delivery is between the receiver accepting a
message and the sender committing ``sent``: the relay's ``250`` (or the webhook's 2xx) on its way
back and one UPDATE committed right after it, a few milliseconds, longer on a loaded machine
(``bench/notify_bench.py`` on 2 busy cores hit it about once per five SIGKILLs). Delivery is
thus at-least-once, and
every attempt carries the same identity: the e-mail's ``Message-ID`` and the webhook's
``Idempotency-Key`` derive from the row's unique idempotency key (event id + recipient), so a
receiver that honours them (mail stores that drop a repeated Message-ID, webhook receivers
keeping seen keys) shows each event to each recipient exactly once.

Claiming
--------
* PostgreSQL: each row is claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` in a transaction
  held while the message goes out and committed with the new status, so several senders run
  side by side without ever taking the same row; a killed sender's connection drops, its lock
  goes with it and the row is due again at once.
* SQLite: one sender per database, enforced with an OS file lock next to the database (freed by
  the kernel when the process dies). A row is claimed by a conditional ``UPDATE ... WHERE
  status = 'pending' AND claimed_at IS NULL`` that also counts the attempt; a sender that starts
  releases the claims of its dead predecessor.

Why a hand-written loop rather than ``procrastinate``: procrastinate is PostgreSQL-only (its
queue is PL/pgSQL functions and LISTEN/NOTIFY), while geo311 runs on SQLite too; it would also
be a second job table beside the outbox, whose row must commit in the caller's transaction on
either database. The loop is small, and the claim (SKIP LOCKED) is what procrastinate does.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geo311.db.notify_schema import contacts, outbox, webhooks
from geo311.errors import ConflictError
from geo311.notify.channels import Channel, Delivery, DeliveryError
from geo311.notify.confirm import address_state

MAX_BACKOFF = timedelta(hours=6)
_log = logging.getLogger(__name__)


@dataclass
class SendReport:
    """What one pass of the sender did."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        """Rows handled."""
        return self.sent + self.retried + self.dead + self.skipped

    def add(self, other: SendReport) -> None:
        """Add another pass's counts to these."""
        self.sent += other.sent
        self.retried += other.retried
        self.dead += other.dead
        self.skipped += other.skipped

    def line(self) -> str:
        """One line for the command line."""
        return (
            f"sent {self.sent}, retried later {self.retried}, dead {self.dead}, "
            f"skipped {self.skipped}"
        )


@dataclass(frozen=True)
class _Outcome:
    status: str  # 'sent', 'pending' (retry), 'dead', 'skipped'
    error: str = ""


def backoff(attempt: int, *, base_s: float) -> timedelta:
    """Return the wait after failed attempt ``attempt`` (1-based): ``base_s * 2**(attempt-1)``.

    Parameters
    ----------
    attempt : int
        The attempt that failed.
    base_s : float, keyword-only
        Wait after the first failure, in seconds.

    Returns
    -------
    timedelta
        The wait, at most six hours.
    """
    return min(timedelta(seconds=base_s * 2 ** min(attempt - 1, 30)), MAX_BACKOFF)


class Sender:
    """Deliver the outbox through channels.

    Parameters
    ----------
    engine : Engine
        The database (schema at revision 0006 or later).
    channels : Mapping[str, Channel]
        Channel per outbox ``channel`` value (``email``, ``webhook``).
    max_attempts : int, keyword-only
        Attempts before a message is dead-lettered.
    backoff_s : float, keyword-only
        Wait after the first failure; doubles per attempt.
    """

    def __init__(
        self,
        engine: Engine,
        channels: Mapping[str, Channel],
        *,
        max_attempts: int = 8,
        backoff_s: float = 30.0,
    ) -> None:
        self.engine = engine
        self.channels = dict(channels)
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self._single = engine.dialect.name != "postgresql"
        self._lock_file: IO[bytes] | None = None
        self._started = False

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Take the SQLite sender lock and release a dead predecessor's claims (no-op on PG).

        Raises
        ------
        ConflictError
            If another sender runs on the same SQLite database.
        """
        if self._started:
            return
        if self._single:
            self._lock_single_sender()
            with self.engine.begin() as conn:
                conn.execute(
                    outbox.update()
                    .where(outbox.c.status == "pending", outbox.c.claimed_at.is_not(None))
                    .values(claimed_at=None)
                )
        self._started = True

    def _lock_single_sender(self) -> None:
        database = self.engine.url.database
        if not database or database == ":memory:":
            return
        path = f"{os.path.abspath(database)}.notify-sender.lock"
        handle = open(path, "ab")  # noqa: SIM115 - held open for the sender's lifetime
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise ConflictError(
                f"another notification sender is running on {database} (lock {path}); SQLite "
                "takes one sender: stop the other one, or use PostgreSQL to run several"
            ) from None
        self._lock_file = handle

    def close(self) -> None:
        """Close the channels and release the sender lock."""
        for channel in self.channels.values():
            channel.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        self._started = False

    def __enter__(self) -> Sender:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- delivery --------------------------------------------------------------------------
    def run_once(self, *, batch: int = 100) -> SendReport:
        """Deliver up to ``batch`` due messages, one at a time.

        Parameters
        ----------
        batch : int, keyword-only
            Most messages to handle in this pass.

        Returns
        -------
        SendReport
            Counts of this pass (total 0: nothing was due).
        """
        self.start()
        report = SendReport()
        step = self._step_single if self._single else self._step_locked
        for _ in range(batch):
            outcome = step()
            if outcome is None:
                break
            if outcome.status == "sent":
                report.sent += 1
            elif outcome.status == "pending":
                report.retried += 1
            elif outcome.status == "dead":
                report.dead += 1
            else:
                report.skipped += 1
        return report

    def run(
        self, *, batch: int = 100, poll_s: float = 1.0, stop: threading.Event | None = None
    ) -> SendReport:
        """Deliver until ``stop`` is set, waiting ``poll_s`` when nothing is due.

        Parameters
        ----------
        batch : int, keyword-only
            Messages per pass.
        poll_s : float, keyword-only
            Wait between passes that found nothing to do.
        stop : threading.Event, keyword-only, optional
            Set it to end the loop after the current message.

        Returns
        -------
        SendReport
            Counts over the whole run.
        """
        stop = stop or threading.Event()
        total = SendReport()
        while not stop.is_set():
            try:
                report = self.run_once(batch=batch)
            except sa.exc.OperationalError as exc:  # the database restarts or is unreachable
                _log.warning("notify sender: database error, retrying in %.1f s: %s", poll_s, exc)
                report = SendReport()
            total.add(report)
            if report.total == 0:
                stop.wait(poll_s)
        return total

    def drain(self, *, batch: int = 100) -> SendReport:
        """Deliver passes until nothing is due now (``geo311 notify run --once``)."""
        total = SendReport()
        while (report := self.run_once(batch=batch)).total:
            total.add(report)
        return total

    def _due(self, now: datetime) -> sa.Select[Any]:
        return (
            sa.select(outbox)
            .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(1)
        )

    def _step_locked(self) -> _Outcome | None:
        # PostgreSQL: the row lock is the claim; it lasts exactly as long as the delivery.
        with self.engine.begin() as conn:
            row = conn.execute(
                self._due(datetime.now(UTC)).with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            outcome = self._deliver(conn, row, attempt=row.attempts + 1)
            self._finish(conn, row.id, outcome, attempt=row.attempts + 1)
            return outcome

    def _step_single(self) -> _Outcome | None:
        # SQLite: claim with a conditional UPDATE (counts the attempt), deliver outside any
        # transaction so the application keeps writing, then commit the outcome.
        now = datetime.now(UTC)
        due_id = (
            self._due(now)
            .where(outbox.c.claimed_at.is_(None))
            .with_only_columns(outbox.c.id)
            .scalar_subquery()
        )
        with self.engine.begin() as conn:
            row = conn.execute(
                outbox.update()
                .where(
                    outbox.c.id == due_id,
                    outbox.c.status == "pending",
                    outbox.c.claimed_at.is_(None),
                )
                .values(claimed_at=now, attempts=outbox.c.attempts + 1)
                .returning(*outbox.c)
            ).first()
        if row is None:
            return None
        with self.engine.connect() as conn:
            # The read before the send opens no SQLite transaction (pysqlite begins at the
            # first write), so nothing is held while the message goes out; the outcome then
            # commits on the same connection, right after the relay's answer.
            outcome = self._deliver(conn, row, attempt=row.attempts)
            self._finish(conn, row.id, outcome, attempt=row.attempts)
            conn.commit()
        return outcome

    def _delivery(self, conn: Connection, row: Any, attempt: int) -> Delivery | str:
        secret, address = "", row.address
        if row.channel == "email":
            gone = conn.execute(
                sa.select(contacts.c.unsubscribed).where(
                    contacts.c.service_request_id == row.service_request_id
                )
            ).scalar()
            if gone:
                return "unsubscribed"
            state = address_state(conn, row.address)
            if state == "unsubscribed":
                return "unsubscribed"
            if state != "confirmed" and row.event_type != "confirm":
                return "address not confirmed"  # e.g. queued before confirmations existed
        elif row.channel == "webhook":
            hook = conn.execute(
                sa.select(webhooks.c.url, webhooks.c.secret, webhooks.c.active).where(
                    webhooks.c.webhook_id == row.webhook_id
                )
            ).first()
            if hook is None or not hook.active:
                return f"webhook {row.webhook_id} is switched off or deleted"
            secret, address = hook.secret, hook.url
        return Delivery(
            id=row.id,
            idempotency_key=row.idempotency_key,
            channel=row.channel,
            address=address,
            payload=json.loads(row.payload),
            attempt=attempt,
            secret=secret,
        )

    def _deliver(self, conn: Connection, row: Any, *, attempt: int) -> _Outcome:
        channel = self.channels.get(row.channel)
        if channel is None:
            return self._failed(f"no channel {row.channel!r} in this sender", attempt, False)
        delivery = self._delivery(conn, row, attempt)
        if isinstance(delivery, str):
            return _Outcome("skipped", delivery)
        try:
            channel.send(delivery)
        except DeliveryError as exc:
            return self._failed(str(exc), attempt, exc.permanent)
        except Exception as exc:  # a bug or a template error: keep the row, record why
            return self._failed(f"{type(exc).__name__}: {exc}", attempt, False)
        return _Outcome("sent")

    def _failed(self, error: str, attempt: int, permanent: bool) -> _Outcome:
        dead = permanent or attempt >= self.max_attempts
        return _Outcome("dead" if dead else "pending", error[:2000])

    def _finish(self, conn: Connection, row_id: int, outcome: _Outcome, *, attempt: int) -> None:
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "status": outcome.status,
            "attempts": attempt,
            "claimed_at": None,
            "last_error": outcome.error,
        }
        if outcome.status == "sent":
            values["sent_at"] = now
        elif outcome.status == "pending":
            values["next_attempt_at"] = now + backoff(attempt, base_s=self.backoff_s)
        conn.execute(outbox.update().where(outbox.c.id == row_id).values(**values))
