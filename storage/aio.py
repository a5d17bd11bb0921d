"""`AsyncStorage`: the `Storage` facade for asyncio callers (the bot, async API routes).

Each call runs the synchronous method in a worker thread (`asyncio.to_thread`), so a slow database never
blocks the event loop; the methods and their arguments are exactly those of `storage.repositories.Storage`.

    st = AsyncStorage(Storage.from_settings())
    view = await st.upsert_applicant(telegram_id=123, chat_id=123)
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from storage.repositories import Storage


class AsyncStorage:
    def __init__(self, storage: Storage):
        self.sync = storage

    def user_key(self, telegram_id: int | str) -> str:  # pure CPU (an HMAC): no thread needed
        return self.sync.user_key(telegram_id)

    async def run(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`work(storage, *args, **kwargs)` in one worker thread: several calls for one thread hop."""
        return await asyncio.to_thread(work, self.sync, *args, **kwargs)

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        attr = getattr(self.sync, name)
        if not callable(attr):
            raise AttributeError(name)

        @functools.wraps(attr)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(attr, *args, **kwargs)

        return call
