"""A crew stop's state machine: planned -> arrived -> done | can't do, reopened by a dispatcher.

The states and the allowed changes are data (:data:`TRANSITIONS`, :data:`ROLES`); one
function, :func:`apply_change`, makes a change atomically in SQL (a conditional ``UPDATE``
or an ``INSERT`` on the stop's key, :func:`geo311.plans.stops_store.set_state`) and refuses any
other with :class:`StopStateConflict`, which carries the stop's current state. A plan's
``done`` / ``done_at`` / ``cant_do`` / ``stop_states`` view is built from the rows
(:func:`document_marks`) whenever the store reads the plan; the plan's JSON document never
holds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from geo311.errors import ConflictError, InputError
from geo311.i18n import N_
from geo311.plans import stops_store

if TYPE_CHECKING:
    from geo311.db.store import Store

STATES = ("planned", "arrived", "done", "cant_do")
"""Every state a stop can be in; a stop never acted on is ``planned``."""
FINISHED = frozenset({"done", "cant_do"})
"""The states a crew cannot leave (only a dispatcher's ``reopen`` can)."""
LABELS = MappingProxyType(
    {
        "planned": N_("planned"),
        "arrived": N_("arrived"),
        "done": N_("done"),
        "cant_do": N_("can't do"),
    }
)
"""State -> its English name (marked for translation: pages show it with ``gettext``)."""
TRANSITIONS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "arrive": MappingProxyType({"planned": "arrived"}),
        "done": MappingProxyType({"planned": "done", "arrived": "done"}),
        "cant_do": MappingProxyType({"planned": "cant_do", "arrived": "cant_do"}),
        "reopen": MappingProxyType({"done": "planned", "cant_do": "planned"}),
        "undo": MappingProxyType({"cant_do": "arrived"}),
    }
)
"""Action -> (state it may start from -> state it leads to).

``undo`` takes back a can't-do the same user gave within :data:`WINDOWS` (a slip of the
thumb); a ``done`` is not undone here: it closed the work order and told the residents (the
phone holds a done a few seconds before sending it, with its own undo).
"""
ROLES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "arrive": frozenset({"crew", "dispatcher"}),
        "done": frozenset({"crew", "dispatcher"}),
        "cant_do": frozenset({"crew", "dispatcher"}),
        "reopen": frozenset({"dispatcher"}),
        "undo": frozenset({"crew"}),
    }
)
"""Action -> the roles that may take it."""
WINDOWS: Mapping[str, timedelta] = MappingProxyType({"undo": timedelta(minutes=2)})
"""Action -> how long after the stop's last change it may be taken, by the same user only."""
CANT_REASONS = MappingProxyType(
    {
        "no_access": N_("no access (parked cars, locked gate)"),
        "parts_missing": N_("parts or material missing"),
        "not_found": N_("not found at the address"),
        "unsafe": N_("unsafe to work now"),
        "other": N_("other (see note)"),
    }
)
"""Reason code of a can't-do -> its text (what the crew picks, what the dispatcher reads)."""
MARK_KEYS = ("done", "done_at", "cant_do", "stop_states")
"""The keys of a plan document that are built from the rows (never stored in the JSON)."""


class StopStateConflict(ConflictError):
    """A stop change the state machine refuses; ``state`` is the stop's current state."""

    def __init__(self, message: str, *, state: str) -> None:
        super().__init__(message)
        self.state = state


@dataclass(frozen=True)
class StopChange:
    """One change asked for a stop: who, what, why, with which idempotency key."""

    plan_id: int
    job_id: str
    crew_id: str
    action: str
    by: str
    reason: str = ""
    note: str = ""
    key: str | None = None
    media_url: str = ""


def may(action: str, role: str) -> bool:
    """Tell whether a role (``crew``, ``dispatcher`` ...) may take an action."""
    return role in ROLES.get(action, frozenset())


def _check(change: StopChange) -> Mapping[str, str]:
    moves = TRANSITIONS.get(change.action)
    if moves is None:
        raise InputError(
            f"action: {change.action!r} is not a stop action; use one of {', '.join(TRANSITIONS)}",
            field="action",
        )
    if change.action == "cant_do" and change.reason not in CANT_REASONS:
        raise InputError(f"reason: pick one of {', '.join(CANT_REASONS)}", field="reason")
    return moves


def apply_change(store: Store, change: StopChange, *, at: datetime | None = None) -> str:
    """Apply one change to a stop atomically; return the state it left.

    Joins the caller's ``store.begin()`` (the work order, the audit row and the
    idempotency key commit with it).

    Raises
    ------
    InputError
        For an unknown action, or a can't-do without a known reason.
    StopStateConflict
        When the stop's current state does not allow the action (nothing is changed); the
        message names the state and what to do.
    """
    moves = _check(change)
    when = at or datetime.now(UTC)
    values = {
        "crew_id": change.crew_id,
        "reason": change.reason if change.action == "cant_do" else "",
        "note": change.note,
        "by_user": change.by,
        "at": when,
        "idempotency_key": change.key,
        "media_url": change.media_url,
    }
    window = WINDOWS.get(change.action)
    guard = None if window is None else (when - window, change.by)
    state, moved = stops_store.set_state(
        store, change.plan_id, change.job_id, values, moves=moves, since_by=guard
    )
    if not moved:
        raise StopStateConflict(_refusal(change, moves, state), state=state)
    return state


def _refusal(change: StopChange, moves: Mapping[str, str], state: str) -> str:
    """Return why the state machine refused a change, and what to do."""
    window = WINDOWS.get(change.action)
    if window is not None and state in moves:
        minutes = int(window.total_seconds() // 60)
        return (
            f"stop {change.job_id!r} of plan {change.plan_id}: {change.action!r} is allowed only "
            f"within {minutes} minutes of your own change; ask the dispatcher to reopen it"
        )
    fix = (
        "a dispatcher can reopen it"
        if state in FINISHED
        else "reload the page to see what is left to do"
    )
    return (
        f"stop {change.job_id!r} of plan {change.plan_id} is {LABELS[state]}: "
        f"{change.action!r} is allowed only from {' or '.join(moves)}; {fix}"
    )


def document_marks(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Return a plan document's ``done`` / ``done_at`` / ``cant_do`` / ``stop_states`` view.

    Parameters
    ----------
    rows : iterable of mapping
        The plan's ``plan_stops`` rows, oldest change first.

    Returns
    -------
    dict
        Only the keys that have an entry: ``done`` (crew -> job ids), ``done_at`` (job id ->
        ISO time), ``cant_do`` (job id -> reason, reason text, note, by, at) and
        ``stop_states`` (job id -> state, for every stop with a row).
    """
    view: dict[str, dict[str, Any]] = {k: {} for k in MARK_KEYS}
    for row in rows:
        job, at = str(row["job_id"]), row["at"].isoformat()
        view["stop_states"][job] = row["state"]
        if row["state"] == "done":
            view["done"].setdefault(str(row["crew_id"]), []).append(job)
            view["done_at"][job] = at
        elif row["state"] == "cant_do":
            reason = str(row["reason"])
            view["cant_do"][job] = {
                "reason": reason,
                "reason_text": CANT_REASONS.get(reason, reason),
                "note": row["note"],
                "by": row["by_user"],
                "at": at,
            }
    return {k: v for k, v in view.items() if v}


def rows_from_document(plan_id: int, doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the ``plan_stops`` rows of the marks a document brings (a plan made from another).

    A job marked both done and can't-do is kept as done; a can't-do of a job on no route
    is kept with an empty crew.
    """
    now = datetime.now(UTC)
    crew_of = {
        str(s.get("job_id")): str(r.get("crew_id") or "")
        for r in doc.get("routes") or []
        for s in r.get("steps") or []
        if isinstance(s, Mapping) and s.get("type") == "job"
    }
    rows: dict[str, dict[str, Any]] = {}
    for job, mark in (doc.get("cant_do") or {}).items():
        mark = mark if isinstance(mark, Mapping) else {}
        rows[str(job)] = _row(
            crew_of.get(str(job), ""), "cant_do", mark.get("at"), now,
            reason=str(mark.get("reason") or ""), note=str(mark.get("note") or ""),
            by_user=str(mark.get("by") or ""),
        )  # fmt: skip
    done_at = doc.get("done_at") or {}
    for crew, jobs in (doc.get("done") or {}).items():
        for job in jobs or []:
            rows[str(job)] = _row(str(crew), "done", done_at.get(str(job)), now)
    return [{**row, "plan_id": plan_id, "job_id": job} for job, row in rows.items()]


def _row(crew: str, state: str, at: Any, now: datetime, **values: str) -> dict[str, Any]:
    when = now
    if isinstance(at, datetime | str) and at:
        try:
            when = at if isinstance(at, datetime) else datetime.fromisoformat(at)
        except ValueError:
            when = now
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
    base = {"reason": "", "note": "", "by_user": "", "media_url": "", "idempotency_key": None}
    return {**base, **values, "crew_id": crew, "state": state, "at": when}
