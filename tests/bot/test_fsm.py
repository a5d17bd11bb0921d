"""storage/dialog_state.py on a real Redis: a conversation's data read with its lock and written with its
release, in aiogram's key layout, whatever framework or surface holds the turn."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, LockNotOwnedError
from redis.typing import EncodableT

from storage.dialog_state import DialogKey, DialogStore, ScriptCall, redis_client, seen_key


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[DialogStore]:
    redis = redis_client(redis_url)
    yield DialogStore(redis, lock_timeout=5, poll=0.005, wait=5)
    await redis.aclose()


def _key() -> DialogKey:
    chat = random.randint(10**9, 2 * 10**9)  # a fresh key space on a shared Redis
    return DialogKey.telegram(random.randint(10**7, 10**8), chat, chat)


def test_keys_are_those_aiogram_wrote() -> None:
    """Dialogs stored by the aiogram FSM storage before this module existed are still found."""
    builder = DefaultKeyBuilder(prefix="asesor:fsm", with_bot_id=True, with_destiny=True)
    key = DialogKey.telegram(42, 7, 8)
    sk = StorageKey(bot_id=42, chat_id=7, user_id=8)
    assert key.data == builder.build(sk, "data") and key.lock == builder.build(sk, "lock")


async def test_data_is_written_when_the_turn_ends(store: DialogStore) -> None:
    key = _key()
    async with store.turn(key) as held:
        assert held.get() is None
        held.set({"step": "q1"})
        assert held.get() == {"step": "q1"}  # the turn sees its own write
        assert await store.redis.get(key.data) is None  # Redis does not, yet
    assert await store.read(key) == {"step": "q1"}
    assert store.ttl_s - 100 < await store.redis.ttl(key.data) <= store.ttl_s  # with the dialog's TTL
    assert not await store.redis.exists(key.lock)


async def test_each_turn_of_a_chat_reads_what_the_previous_one_wrote(store: DialogStore) -> None:
    key = _key()

    async def bump() -> None:
        async with store.turn(key) as held:
            n = (held.get() or {}).get("n", 0)
            await asyncio.sleep(0.01)  # another update of the chat arrives meanwhile
            held.set({"n": n + 1})

    await asyncio.gather(*(bump() for _ in range(10)))
    assert await store.read(key) == {"n": 10}  # none lost: they ran one after another


async def test_a_failed_turn_writes_nothing_and_releases_the_lock(store: DialogStore) -> None:
    key = _key()
    await store.write(key, {"n": 1})
    with pytest.raises(RuntimeError):
        async with store.turn(key) as held:
            held.set({"n": 2})
            raise RuntimeError("the database is down")
    assert await store.read(key) == {"n": 1}
    assert not await store.redis.exists(key.lock)


async def test_the_idempotency_guard_rides_on_the_lock(store: DialogStore) -> None:
    key, seen = _key(), seen_key(random.randint(10**7, 10**8), 1)
    async with store.turn(key, seen=seen) as held:
        assert held.first_time is True
    async with store.turn(key, seen=seen) as held:
        assert held.first_time is False
    async with store.turn(key) as held:
        assert held.first_time is None  # not asked
    assert 25 * 3600 < await store.redis.ttl(seen) <= 26 * 3600


async def test_clearing_the_dialog_deletes_the_key(store: DialogStore) -> None:
    key = _key()
    await store.write(key, {"step": "q3"})
    async with store.turn(key) as held:
        assert held.get() == {"step": "q3"}  # read together with the lock
        held.set(None)
    assert not await store.redis.exists(key.data)


async def test_an_expired_lock_is_not_overwritten(store: DialogStore) -> None:
    short = DialogStore(store.redis, lock_timeout=0.05, poll=0.005, wait=5)
    key = _key()
    await store.write(key, {"n": 1})
    with pytest.raises(LockNotOwnedError):
        async with short.turn(key) as held:
            held.set({"n": 2})
            await asyncio.sleep(0.1)  # stuck past the lock's timeout: another turn may have taken over
    assert await store.read(key) == {"n": 1}


async def test_a_chat_locked_for_too_long_fails_the_waiting_turn(store: DialogStore) -> None:
    impatient = DialogStore(store.redis, lock_timeout=5, poll=0.005, wait=0.05)
    key = _key()
    async with store.turn(key):
        with pytest.raises(LockError):
            async with impatient.turn(key):
                pass


async def test_scripts_survive_a_redis_that_forgot_them(store: DialogStore) -> None:
    """A restarted Redis has no cached scripts (NOSCRIPT): they are loaded again, the turn goes on."""
    key = _key()
    await store.redis.script_flush()
    async with store.turn(key) as held:
        held.set({"ok": True})
    assert await store.read(key) == {"ok": True}


async def test_data_of_another_shape_starts_clean(store: DialogStore) -> None:
    key = _key()
    for junk in (b"not json", b"[1, 2]", b'{"dialog": "a string"}'):
        await store.redis.set(key.data, junk)
        async with store.turn(key) as held:
            assert held.get() is None


async def test_a_commit_writes_before_the_turn_ends_and_keeps_the_lock(store: DialogStore) -> None:
    key = _key()
    async with store.turn(key) as held:
        held.set({"step": "q2"})
        await held.commit()
        assert await store.read(key) == {"step": "q2"}  # visible before the screen moves on
        assert await store.redis.exists(key.lock)  # still this turn's
    assert await store.read(key) == {"step": "q2"} and not await store.redis.exists(key.lock)


@pytest.mark.parametrize("before", [{"step": "q1"}, None])
async def test_a_turn_failing_after_its_commit_puts_the_dialog_back(
    store: DialogStore, before: dict[str, str] | None
) -> None:
    """The screen could not be shown (Telegram failed): the applicant still sees the old step, and so does Redis."""
    key = _key()
    if before is not None:
        await store.write(key, before)
    with pytest.raises(RuntimeError):
        async with store.turn(key) as held:
            held.set({"step": "q2"})
            await held.commit()
            raise RuntimeError("Telegram did not answer")
    assert await store.read(key) == before
    assert not await store.redis.exists(key.lock)


class _UnlockFails:
    """Redis going away between the commit and the unlock (the fault suite kills a real one; here only that
    call fails, so the test says which call it is)."""

    def __init__(self, script: AsyncScript) -> None:
        self.script = script

    async def __call__(self, keys: list[str], args: list[EncodableT]) -> object:
        if len(args) == 4:  # the unlock (a commit passes a fifth argument)
            raise RedisConnectionError("Connection refused")
        return await self.script(keys=keys, args=args)


async def test_redis_failing_after_the_commit_loses_no_step(store: DialogStore) -> None:
    key = _key()
    flaky = DialogStore(store.redis, lock_timeout=5, poll=0.005, wait=5)
    flaky._release = _UnlockFails(flaky._release)  # type: ignore[assignment]  # a stand-in for the private script object
    async with flaky.turn(key) as held:
        held.set({"step": "q2"})
        await held.commit()
    assert await store.read(key) == {"step": "q2"}  # the turn ended without error and its step is kept
    assert 0 < await store.redis.pttl(key.lock) <= 5000  # the lock it could not delete expires on its own


async def test_without_a_commit_a_failed_unlock_is_an_error(store: DialogStore) -> None:
    """A surface that does not commit first (the web chat answers after the turn) hears that nothing was
    written, so it can say so rather than show a step that is not stored."""
    key = _key()
    flaky = DialogStore(store.redis, lock_timeout=5, poll=0.005, wait=5)
    flaky._release = _UnlockFails(flaky._release)  # type: ignore[assignment]  # a stand-in for the private script object
    with pytest.raises(RedisConnectionError):
        async with flaky.turn(key) as held:
            held.set({"step": "q2"})
    assert await store.read(key) is None


# KEYS: the lock, a key of its own. -> whether the lock was held when it ran, and what it found under its key
PROBE = "redis.call('INCR', KEYS[2]); return {redis.call('EXISTS', KEYS[1]), redis.call('GET', KEYS[2])}"


async def test_a_call_sent_with_the_release_runs_under_the_lock_in_its_round_trip(store: DialogStore) -> None:
    key = _key()
    counter = f"{key.part('probe')}"
    await store.redis.script_flush()  # as after a Redis restart: the pipeline must not fail with NOSCRIPT
    calls = [ScriptCall(PROBE, [key.lock, counter], []), ScriptCall(PROBE, [key.lock, counter], [])]
    async with store.turn(key) as held:
        held.set({"step": "q2"})
        for call in calls:
            held.send_with_release(call)
        assert not await store.redis.exists(counter)  # not before the turn ends
    assert [c.result for c in calls] == [[1, b"1"], [1, b"2"]]  # in order, the lock still held
    assert await store.read(key) == {"step": "q2"} and not await store.redis.exists(key.lock)


async def test_a_failed_turn_sends_nothing_with_its_release(store: DialogStore) -> None:
    key = _key()
    call = ScriptCall(PROBE, [key.lock, key.part("probe")], [])
    with pytest.raises(RuntimeError):
        async with store.turn(key) as held:
            held.send_with_release(call)
            raise RuntimeError("the turn failed")
    assert call.result is None and not await store.redis.exists(key.part("probe"))
    assert not await store.redis.exists(key.lock)
