"""bot/fsm.py on a real Redis: the chat's data read with its lock and written with its release."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
from aiogram.fsm.storage.base import StorageKey
from redis.exceptions import LockError, LockNotOwnedError

from bot.app import key_builder, redis_client
from bot.fsm import DialogIsolation, DialogRedisStorage


@pytest.fixture
async def fsm(redis_url: str) -> AsyncIterator[tuple[DialogRedisStorage, DialogIsolation]]:
    redis = redis_client(redis_url)
    storage = DialogRedisStorage(redis, key_builder=key_builder(), data_ttl=3600)
    yield storage, storage.create_isolation(timeout=5, sleep=0.005, blocking_timeout=5)
    await redis.aclose()


def _key() -> StorageKey:
    chat = random.randint(10**9, 2 * 10**9)  # a fresh key space on a shared Redis
    return StorageKey(bot_id=random.randint(10**7, 10**8), chat_id=chat, user_id=chat)


async def test_data_is_written_when_the_lock_is_released(fsm) -> None:
    storage, isolation = fsm
    key = _key()
    data_key = storage.key_builder.build(key, "data")
    async with isolation.lock(key):
        assert await storage.get_data(key) == {}
        await storage.set_data(key, {"dialog": {"step": "q1"}})
        assert await storage.get_data(key) == {"dialog": {"step": "q1"}}  # the update sees its own write
        assert await storage.redis.get(data_key) is None  # Redis does not, yet
    assert await storage.get_data(key) == {"dialog": {"step": "q1"}}
    assert 3500 < await storage.redis.ttl(data_key) <= 3600  # with the dialog's TTL
    assert not await storage.redis.exists(storage.key_builder.build(key, "lock"))


async def test_each_update_of_a_chat_reads_what_the_previous_one_wrote(fsm) -> None:
    storage, isolation = fsm
    key = _key()

    async def bump() -> None:
        async with isolation.lock(key):
            n = (await storage.get_data(key)).get("n", 0)
            await asyncio.sleep(0.01)  # another update of the chat arrives meanwhile
            await storage.set_data(key, {"n": n + 1})

    await asyncio.gather(*(bump() for _ in range(10)))
    assert await storage.get_data(key) == {"n": 10}  # none lost: they ran one after another


async def test_other_chats_do_not_see_the_held_copy(fsm) -> None:
    storage, isolation = fsm
    mine, other = _key(), _key()
    await storage.set_data(other, {"who": "other"})  # outside any lock: straight to Redis
    async with isolation.lock(mine):
        await storage.set_data(mine, {"who": "me"})
        assert await storage.get_data(other) == {"who": "other"}
        await storage.set_data(other, {"who": "other, changed"})  # not the locked chat: written at once
        assert await storage.redis.get(storage.key_builder.build(other, "data")) is not None
    assert await storage.get_data(other) == {"who": "other, changed"}
    assert await storage.get_data(mine) == {"who": "me"}


async def test_clearing_the_data_deletes_the_key(fsm) -> None:
    storage, isolation = fsm
    key = _key()
    await storage.set_data(key, {"dialog": {"step": "q3"}})
    async with isolation.lock(key):
        assert await storage.get_data(key) == {"dialog": {"step": "q3"}}  # read together with the lock
        await storage.set_data(key, {})
    assert not await storage.redis.exists(storage.key_builder.build(key, "data"))


async def test_an_expired_lock_is_not_overwritten(fsm) -> None:
    storage, _ = fsm
    isolation = storage.create_isolation(timeout=0.05, sleep=0.005, blocking_timeout=5)
    key = _key()
    await storage.set_data(key, {"n": 1})
    with pytest.raises(LockNotOwnedError):
        async with isolation.lock(key):
            await storage.set_data(key, {"n": 2})
            await asyncio.sleep(0.1)  # stuck past the lock's timeout: another update may have taken over
    assert await storage.get_data(key) == {"n": 1}


async def test_a_chat_locked_for_too_long_fails_the_waiting_update(fsm) -> None:
    storage, _ = fsm
    isolation = storage.create_isolation(timeout=5, sleep=0.005, blocking_timeout=0.05)
    key = _key()
    async with isolation.lock(key):
        with pytest.raises(LockError):
            async with isolation.lock(key):
                pass


async def test_scripts_survive_a_redis_that_forgot_them(fsm) -> None:
    """A restarted Redis has no cached scripts (NOSCRIPT): they are loaded again, the update goes on."""
    storage, isolation = fsm
    key = _key()
    await storage.redis.script_flush()
    async with isolation.lock(key):
        await storage.set_data(key, {"ok": True})
    assert await storage.get_data(key) == {"ok": True}


async def test_aiogram_states_are_not_used(fsm) -> None:
    storage, _ = fsm
    key = _key()
    assert await storage.get_state(key) is None
    await storage.set_state(key, None)  # what FSMContext.clear() does: nothing to delete
    with pytest.raises(RuntimeError):
        await storage.set_state(key, "Form:name")
