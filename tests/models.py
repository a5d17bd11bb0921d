"""The model directory the tests share (the checkout's var/models, as Settings resolves it by default) and the
engine's assessor on it: the engine itself has no default directory, it is handed one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.assess import Assessor
from engine.assess import get_assessor as _engine_get_assessor

MODEL_DIR = Path(__file__).resolve().parents[1] / "var" / "models"


def default_model_dir() -> Path:
    return MODEL_DIR


def get_assessor(policy: Any = None, model_dir: str | Path | None = None) -> Assessor:
    """engine.assess.get_assessor on the shared directory unless told another (first use bootstraps it)."""
    return _engine_get_assessor(policy, model_dir or MODEL_DIR)
