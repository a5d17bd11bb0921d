"""Data of the /dashboard page, shaped for the charts (filled from storage.analytics)."""

from __future__ import annotations

from datetime import date
from typing import Any

from core.config import Settings
from storage.repositories import Storage

DEFAULT_DAYS = 30


def dashboard_data(storage: Storage, settings: Settings, start: date, end: date) -> dict[str, Any]:
    raise NotImplementedError
