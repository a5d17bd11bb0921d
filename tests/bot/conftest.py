"""Fixtures of the bot's end-to-end tests: the production dispatcher on a real Redis, the fake Bot API."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # fake_telegram, bot_harness (also used by benchmarks/)

from bot_harness import BotHarness, build_harness

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    return TEST_REDIS_URL


@pytest.fixture
async def harness(redis_url: str, sqlite_url: str, tmp_path: Path) -> AsyncIterator[BotHarness]:
    h = await build_harness(redis_url=redis_url, db_url=sqlite_url, data_dir=tmp_path)
    yield h
    await h.close()
    await h.tg.stop()
