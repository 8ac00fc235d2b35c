"""Group commit: the calls that reach one step together share one transaction.

A worker runs up to ``MAX_JOBS`` deliveries at once, and they reach the same steps together:
arq starts the jobs of a poll one after the other within milliseconds, and the network answers
them within milliseconds too. Each claim and each record is a short transaction whose cost is
mostly fixed (begin, a statement or three, commit; on SQLite, waiting for the process's one
writer). :class:`GroupCommit` runs the first call at once, and the calls that arrive while it
runs wait for the next run, which takes them all: no delay is added to a lone delivery, and a
burst pays the fixed cost once per group instead of once per delivery.

A group that raises is run again item by item, so one bad delivery fails alone. The database
still decides everything (each item's compare-and-set is in the group's statements): grouping
changes how many transactions carry the moves, never which moves are made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """``await group(item)`` runs ``run_many`` on the items that arrived together; returns this item's result."""

    def __init__(self, run_many: Callable[[list[T]], Awaitable[Sequence[R]]], *, largest: int = 100) -> None:
        self._run_many = run_many
        self._largest = largest
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._runner: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests): nothing of the old one can run
            self._loop, self._waiting, self._runner = loop, [], None
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, future))
        if self._runner is None or self._runner.done():
            self._runner = loop.create_task(self._drain())
        # Shielded: a caller cancelled while its group runs does not cancel the group's transaction
        # (the others' moves are in it); its own move is made, and the lease or the sweeper settles it.
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # the calls made in this same turn of the loop join the first group
        while self._waiting:
            group, self._waiting = self._waiting[: self._largest], self._waiting[self._largest :]
            await self._run(group)

    async def _run(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run_many([item for item, _ in group])
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0][1], error=exc)
                return
            for one in group:  # one bad item must not fail the others: each alone
                await self._run([one])
            return
        for (_, future), result in zip(group, results, strict=True):
            _settle(future, result=result)


def _settle(future: asyncio.Future[R], *, result: R | None = None, error: BaseException | None = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]
