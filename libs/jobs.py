"""Run one long, blocking job (a transcription, an audit) from a work-queue message.

The job function runs in a worker thread. Meanwhile the event loop keeps the message alive
(`in_progress`, so JetStream does not redeliver a job that is still being worked on), relays
progress at a bounded rate, and asks whether the job was cancelled; a cancelled job sees its
`should_cancel()` turn true and stops at its next check.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from libs.events.consumer import Delivery

T = TypeVar("T")
ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]
# Records progress and answers whether the job should go on (False = it was cancelled).
ProgressSink = Callable[[float, str], Awaitable[bool]]


class ThreadedJob(Generic[T]):
    def __init__(
        self,
        delivery: Delivery[Any],
        *,
        report: ProgressSink,
        keepalive_seconds: float = 10.0,
        min_step: float = 1.0,
        poll_seconds: float = 2.0,
    ) -> None:
        self._delivery = delivery
        self._report = report
        self._keepalive = keepalive_seconds
        self._min_step = min_step
        self._poll = poll_seconds
        self.cancelled = threading.Event()
        self._progress = 0.0
        self._stage = "starting"
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def _on_progress(self, percent: float, stage: str) -> None:
        """Called from the job's thread."""
        self._progress, self._stage = percent, stage
        self._loop.call_soon_threadsafe(self._changed.set)

    async def run(self, job: Callable[[ProgressFn, CancelFn], T]) -> T:
        work = asyncio.ensure_future(asyncio.to_thread(job, self._on_progress, self.cancelled.is_set))
        last_keepalive = last_report = time.monotonic()
        reported: tuple[float, str] = (-1.0, "")
        try:
            while not work.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._changed.wait()), timeout=1.0)
                self._changed.clear()
                now = time.monotonic()
                if now - last_keepalive >= self._keepalive:
                    await self._delivery.in_progress()
                    last_keepalive = now
                current = (self._progress, self._stage)
                moved = current[0] - reported[0] >= self._min_step or current[1] != reported[1]
                if (moved or now - last_report >= self._poll) and not work.done():
                    if not await self._report(*current):
                        self.cancelled.set()
                    reported, last_report = current, now
            return await work
        except BaseException:
            # Stop the thread at its next check, and wait for it so nothing outlives the job.
            self.cancelled.set()
            with contextlib.suppress(BaseException):
                await work
            raise
