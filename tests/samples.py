"""The SPEC §7 sample profile for the tests, read from the file users run (examples/profile.json)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

_PROFILE: dict[str, Any] = json.loads((Path(__file__).parents[1] / "examples" / "profile.json").read_text())


def sample_profile() -> dict[str, Any]:
    """A fresh copy of the sample request (answers, loan, applicant): callers may change it."""
    return copy.deepcopy(_PROFILE)


def sample_answers() -> dict[str, str]:
    return dict(_PROFILE["answers"])
