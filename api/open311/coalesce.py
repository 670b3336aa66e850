"""Coalesce identical concurrent reads: one computation serves every request waiting for it.

A public list (``GET requests.json``, 1,000 rows) costs milliseconds of database and Python
work while its answer is the same for every client asking at that moment. Under load the
identical requests that arrive while a computation runs wait together for the next one, which
starts when the running one ends: one database query and one rendering per round, however
many clients wait. The next round always starts after its requests arrived, so an answer
never predates its request (a client that posted and then reads sees its report): no cache,
nothing to invalidate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")


class Coalescer(Generic[T]):
    """Share each run of a blocking computation among the identical requests waiting for it.

    Per key at most one round runs and at most one waits to start; a request joins the
    waiting round, or schedules one that starts when the running round has finished. The
    computation runs in the threadpool; the rounds are event-loop tasks, so a client that
    disconnects cancels only its own wait, never the round the others wait for.

    Use it from one event loop (one per server worker): its state is not locked.
    """

    def __init__(self) -> None:
        self._waiting: dict[Hashable, asyncio.Task[T]] = {}
        self._latest: dict[Hashable, asyncio.Task[T]] = {}
        self.rounds = 0

    async def run(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return the result of a round of ``compute`` that starts after this call.

        Parameters
        ----------
        key
            Identifies the computation: calls with equal keys must compute the same thing
            (e.g. the response format and the query parameters).
        compute
            The blocking computation (reads the database when it runs, not before).

        Returns
        -------
        object
            What ``compute`` returned in the round this call joined; its exception is raised
            to every caller of the round.
        """
        task = self._waiting.get(key)
        if task is None:
            task = asyncio.ensure_future(self._round(key, self._latest.get(key), compute))
            self._waiting[key] = task
            self._latest[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task)

    async def _round(
        self, key: Hashable, previous: asyncio.Task[T] | None, compute: Callable[[], T]
    ) -> T:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        # From now on a new request waits for the next round: this one may read too early.
        if self._waiting.get(key) is asyncio.current_task():
            del self._waiting[key]
        self.rounds += 1
        return await run_in_threadpool(compute)

    def _forget(self, key: Hashable, done: asyncio.Task[T]) -> None:
        if self._waiting.get(key) is done:
            del self._waiting[key]
        if self._latest.get(key) is done:
            del self._latest[key]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter may have gone before it ended
