"""bot/ptb_bot.py sends and edits through `Bot.do_api_request` (no `Message` built from each answer); PTB's
warning about that is silenced for those two endpoints only. Checked in a process of its own: pytest installs
its own warning filters (pyproject.toml has the same one for the tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import warnings
warnings.simplefilter("error")
import bot.ptb_bot
from telegram.warnings import PTBUserWarning
endpoint = {endpoint!r}
warnings.warn(PTBUserWarning(f"Please use 'Bot.{{endpoint}}' instead of 'Bot.do_api_request(\\"{{endpoint}}\\", ...)'"))
"""


@pytest.mark.parametrize(("endpoint", "silenced"), [("send_message", True), ("edit_message_text", True),
                                                     ("copy_message", False)])  # fmt: skip
def test_only_the_two_raw_endpoints_are_silenced(endpoint: str, silenced: bool) -> None:
    run = subprocess.run([sys.executable, "-c", PROBE.format(endpoint=endpoint)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert (run.returncode == 0) is silenced, run.stderr[-500:]
