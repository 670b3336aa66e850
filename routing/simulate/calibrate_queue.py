"""The queue replay behind :mod:`routing.simulate.calibrate`: reports arrive, capacity slots close them.

Private to :mod:`routing.simulate.calibrate`. Times are float days since an origin (local midnight).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from geo311.errors import InputError
from geo311.requests.effort import measure_effort
from routing.simulate.core import quantile

if TYPE_CHECKING:
    from routing.simulate.calibrate import QueueData

POLICIES = ("city", "sla")


def daily_slots(capacity: ArrayLike, *, start_hour: float = 7.0, hours: float = 8.0) -> np.ndarray:
    """Return closure instants (days) from closures per day, spread over the working hours.

    Parameters
    ----------
    capacity
        Closures the crews can make on day ``k`` (fractions carry to the next day).
    start_hour, hours
        The working window of a day.

    Returns
    -------
    numpy.ndarray
        Sorted instants, day ``k`` between ``k + start_hour/24`` and ``k + (start+hours)/24``.
    """
    out: list[float] = []
    carry = 0.0
    for k, c in enumerate(np.asarray(capacity, dtype=float)):
        if c < 0 or not math.isfinite(c):
            raise InputError(f"capacity {c} of day {k} must be finite and >= 0", field="capacity")
        total = c + carry
        n = int(total + 1e-9)
        carry = total - n
        out.extend(k + (start_hour + hours * (j + 0.5) / n) / 24.0 for j in range(n))
    return np.asarray(out, dtype=float)


@dataclass(frozen=True)
class QueueOrder:
    """How :func:`replay_queue` picks the report a slot closes.

    Attributes
    ----------
    policy
        ``city``: the oldest report with probability ``fifo_share``, the newest with
        probability ``newest_share``, otherwise one at random; ``sla``: the report due first
        (the due times needed).
    fifo_share
        Share of the City's picks that take the oldest report.
    newest_share
        Share of the City's picks that take the newest report (the City's recent-first habit).
    seed
        Random seed of the City's random picks.
    """

    policy: str = "city"
    fifo_share: float = 1.0
    seed: int = 0
    newest_share: float = 0.0


def replay_queue(
    requested: ArrayLike,
    slots: ArrayLike,
    order: QueueOrder | None = None,
    *,
    due: ArrayLike | None = None,
    work_order: ArrayLike | None = None,
) -> np.ndarray:
    """Replay a queue: each slot closes one waiting report (its work order with it).

    Parameters
    ----------
    requested
        Arrival time of every report (days, any order).
    slots
        Sorted closure instants (the capacity), e.g. from :func:`daily_slots`.
    order
        The picking policy (default :class:`QueueOrder`: first-in-first-out).
    due
        SLA due time of every report (days); needed by the ``sla`` policy.
    work_order
        Work order of every report: closing one closes every waiting report of its work order.

    Returns
    -------
    numpy.ndarray
        Closure time of every report (``inf``: still waiting after the last slot).
    """
    o = order or QueueOrder()
    policy, seed = o.policy, o.seed
    req = np.asarray(requested, dtype=float)
    if policy not in POLICIES:
        raise InputError(f"policy {policy!r} is unknown; use one of {POLICIES}", field="policy")
    if policy == "sla" and due is None:
        raise InputError("policy 'sla' needs the due times; pass due=", field="due")
    n = req.size
    dd = np.zeros(n) if due is None else np.asarray(due, dtype=float)
    wo = np.arange(n) if work_order is None else np.asarray(work_order, dtype=int)
    rng = np.random.default_rng(seed)
    arrival = np.argsort(req, kind="stable")
    closed = np.full(n, math.inf)
    main: _Waiting = _ByDue(dd, closed) if policy == "sla" else _InOrder(closed)
    members: dict[int, list[int]] = {}
    nxt = 0
    for t in np.asarray(slots, dtype=float):
        while nxt < n and req[arrival[nxt]] <= t:
            i = int(arrival[nxt])
            main.add(i)
            members.setdefault(int(wo[i]), []).append(i)
            nxt += 1
        pick = main.pop(rng, o)
        if pick is None:
            continue
        group = members.pop(int(wo[pick]), [pick])
        closed[group] = t
        if len(group) > 1:
            main.forget_closed()
    return closed


class _Waiting:
    """The crews' waiting reports (closed ones are dropped by :meth:`forget_closed`)."""

    def add(self, i: int) -> None:
        raise NotImplementedError

    def pop(self, rng: np.random.Generator, o: QueueOrder) -> int | None:
        """Remove and return the report a slot closes (None when nothing waits)."""
        raise NotImplementedError

    def forget_closed(self) -> None:
        """Drop the reports a work order closed with another."""


class _InOrder(_Waiting):
    """Waiting reports in arrival order: the City's picks (oldest, newest or at random)."""

    def __init__(self, closed: np.ndarray) -> None:
        self.items: list[int] = []
        self.closed = closed

    def add(self, i: int) -> None:
        self.items.append(i)

    def pop(self, rng: np.random.Generator, o: QueueOrder) -> int | None:
        if not self.items:
            return None
        r = rng.random()
        if r < o.fifo_share:
            k = 0
        elif r < o.fifo_share + o.newest_share:
            k = len(self.items) - 1
        else:
            k = int(rng.integers(len(self.items)))
        return self.items.pop(k)

    def forget_closed(self) -> None:
        self.items[:] = [j for j in self.items if math.isinf(self.closed[j])]


class _ByDue(_Waiting):
    """Waiting reports in a heap by due time (then arrival): geo311's SLA order."""

    def __init__(self, due: np.ndarray, closed: np.ndarray) -> None:
        self.heap: list[tuple[float, int, int]] = []
        self.due, self.closed = due, closed
        self.rank = 0

    def add(self, i: int) -> None:
        heapq.heappush(self.heap, (float(self.due[i]), self.rank, i))
        self.rank += 1

    def _prune(self) -> None:
        while self.heap and not math.isinf(self.closed[self.heap[0][2]]):
            heapq.heappop(self.heap)

    def pop(self, rng: np.random.Generator, o: QueueOrder) -> int | None:
        self._prune()
        return heapq.heappop(self.heap)[2] if self.heap else None


def figures(days: np.ndarray, within: np.ndarray) -> tuple[float, float, float, float]:
    """Return the median, p90, share within SLA of the closed reports, and the share never closed.

    Parameters
    ----------
    days
        Days to close of every report (``inf``: never closed).
    within
        Whether each report closed by its SLA due time.
    """
    done = np.isfinite(days)
    if not done.any():
        return (math.inf, math.inf, 0.0, 1.0)
    d = days[done]
    return (
        quantile(d, 0.5),
        quantile(d, 0.9),
        float(np.mean(within[done])),
        float(1.0 - done.mean()),
    )


def days_within(qd: QueueData, closed: ArrayLike, mask: np.ndarray) -> tuple[Any, Any]:
    """Return days to close and whether within the SLA of the masked reports of ``closed``."""
    c = np.asarray(closed)[mask]
    return np.maximum(c - qd.requested[mask], 0.0), c <= qd.due[mask]


def capacity_per_day(qd: QueueData, *, scale: float = 1.0, days: int | None = None) -> np.ndarray:
    """Return the City's measured closures per day (month x weekday means) times ``scale``."""
    n = int(math.ceil(qd.horizon)) + 1 if days is None else days
    end = qd.origin + timedelta(days=n - 1)
    cells = measure_effort(qd.closed_days(), start=qd.origin, end=end, n_boot=1)
    out = np.empty(n)
    for k in range(n):
        d = qd.origin + timedelta(days=k)
        out[k] = cells[(d.month, d.weekday())].closures.value * scale
    return out
