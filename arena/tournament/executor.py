"""How matches are executed: an interface a distributed engine can implement, and the local one.

An :class:`Executor` receives a batch of scheduled matches and a coroutine function that plays
one; it calls ``done`` with each result, in the orchestrating process and in any order. Writing
results (the store) stays with the caller, so there is always exactly one writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from arena.tournament.match import MatchSpec

R = TypeVar("R")


class Executor(Protocol):
    async def run(self, batch: Sequence[tuple[int, MatchSpec]], play: Callable[[MatchSpec, int], Awaitable[R]],
                  done: Callable[[R], None]) -> None:
        """Play every ``(round, spec)`` of ``batch``; ``done(result)`` as each finishes. An exception
        from ``play`` stops the batch (what finished was already handed to ``done``) and propagates."""
        ...


class LocalExecutor:
    """asyncio in this process: at most ``concurrency`` matches at once (model endpoints have their
    own limits in the gateway, so a slow endpoint holds back only its own calls)."""

    def __init__(self, concurrency: int = 4) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency

    async def run(self, batch: Sequence[tuple[int, MatchSpec]], play: Callable[[MatchSpec, int], Awaitable[R]],
                  done: Callable[[R], None]) -> None:
        queue: asyncio.Queue[tuple[int, MatchSpec]] = asyncio.Queue()
        for item in batch:
            queue.put_nowait(item)

        async def worker() -> None:
            while True:
                try:
                    round_, spec = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                done(await play(spec, round_))

        workers = [asyncio.ensure_future(worker()) for _ in range(min(self.concurrency, len(batch)))]
        try:
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
