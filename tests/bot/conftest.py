"""Fixtures of the bot's end-to-end tests: each test runs under both frameworks (aiogram and
python-telegram-bot) against the same fake Bot API server, on a real Redis, real storage and the real engine."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # fake_telegram, bot_harness (also used by benchmarks/)

from bot_harness import FRAMEWORKS, BotHarness, build_harness

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    return TEST_REDIS_URL


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def harness(redis_url: str, sqlite_url: str, tmp_path: Path, framework: str) -> AsyncIterator[BotHarness]:
    h = await build_harness(redis_url=redis_url, db_url=sqlite_url, data_dir=tmp_path, framework=framework)
    yield h
    await h.close()
    await h.tg.stop()
