"""Work a turn starts but its answer need not wait for (funnel events, the case card for the advisors)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Background:
    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` after the turn's answer; a failure is logged (its type only: it may quote input)."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self.tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("background %s failed: %s", task.get_name(), type(exc).__name__)
            log.debug("background %s traceback", task.get_name(), exc_info=exc)

    async def settle(self) -> None:
        """Wait for the background work (an erasure, shutdown, tests that look at its result)."""
        while self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
