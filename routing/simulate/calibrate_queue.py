"""The queue replay behind :mod:`routing.simulate.calibrate`: reports arrive, capacity slots close them.

Private to :mod:`routing.simulate.calibrate`. Times are float days since an origin (local midnight).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from geo311.errors import InputError

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
        ``city``: the oldest report with probability ``fifo_share``, otherwise one at random;
        ``sla``: the report due first (the due times needed).
    fifo_share
        Share of the City's picks that take the oldest report.
    deferred_slot_share
        Share of slots given to the deferred queue (when there is one).
    seed
        Random seed of the City's random picks.
    """

    policy: str = "city"
    fifo_share: float = 1.0
    deferred_slot_share: float = 0.0
    seed: int = 0


def replay_queue(
    requested: ArrayLike,
    slots: ArrayLike,
    order: QueueOrder | None = None,
    *,
    due: ArrayLike | None = None,
    deferred: ArrayLike | None = None,
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
    deferred
        Reports the City put in a slower queue (contractor, parts): served first-in-first-out
        by ``order.deferred_slot_share`` of the slots (and by any slot the main queue leaves
        idle).
    work_order
        Work order of every report: closing one closes every waiting report of its work order.

    Returns
    -------
    numpy.ndarray
        Closure time of every report (``inf``: still waiting after the last slot).
    """
    o = order or QueueOrder()
    policy, fifo_share, seed = o.policy, o.fifo_share, o.seed
    deferred_slot_share = o.deferred_slot_share
    req = np.asarray(requested, dtype=float)
    if policy not in POLICIES:
        raise InputError(f"policy {policy!r} is unknown; use one of {POLICIES}", field="policy")
    if policy == "sla" and due is None:
        raise InputError("policy 'sla' needs the due times; pass due=", field="due")
    n = req.size
    dd = np.zeros(n) if due is None else np.asarray(due, dtype=float)
    late = np.zeros(n, bool) if deferred is None else np.asarray(deferred, dtype=bool)
    wo = np.arange(n) if work_order is None else np.asarray(work_order, dtype=int)
    rng = np.random.default_rng(seed)
    arrival = np.argsort(req, kind="stable")
    closed = np.full(n, math.inf)
    main: list[int] = []
    slow: list[int] = []
    members: dict[int, list[int]] = {}
    nxt = 0
    for t in np.asarray(slots, dtype=float):
        while nxt < n and req[arrival[nxt]] <= t:
            i = int(arrival[nxt])
            (slow if late[i] else main).append(i)
            members.setdefault(int(wo[i]), []).append(i)
            nxt += 1
        pick = _pick(main, slow, rng, policy, fifo_share, dd, deferred_slot_share)
        if pick is None:
            continue
        group = members.pop(int(wo[pick]), [pick])
        closed[group] = t
        if len(group) > 1:
            main[:] = [j for j in main if math.isinf(closed[j])]
            slow[:] = [j for j in slow if math.isinf(closed[j])]
    return closed


def _pick(
    main: list[int],
    slow: list[int],
    rng: np.random.Generator,
    policy: str,
    fifo_share: float,
    due: np.ndarray,
    slow_share: float,
) -> int | None:
    """Remove and return the report a slot closes (None when nothing waits)."""
    use_slow = bool(slow) and (not main or rng.random() < slow_share)
    if use_slow:
        return slow.pop(0)
    if not main:
        return None
    if policy == "sla":
        k = min(range(len(main)), key=lambda j: (due[main[j]], j))
    elif rng.random() < fifo_share:
        k = 0
    else:
        k = int(rng.integers(len(main)))
    return main.pop(k)
