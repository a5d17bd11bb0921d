"""Transport-free description of what the dialog shows: text, inline buttons and side effects.

The bot turns these into Telegram calls; tests and other channels can read them directly. Button payloads are
short strings (Telegram allows 64 bytes) built by `payload()`; they carry the state revision so that a button
pressed on an old message can be recognised as stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_PAYLOAD_BYTES = 64


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    payload: str | None = None  # callback payload; None when `url` is set
    url: str | None = None


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to the applicant. `replace=True`: may replace the message whose button was pressed."""

    text: str
    keyboard: Keyboard = ()
    replace: bool = False


# ------------------------------------------------------------------------------------------------- effects
@dataclass(frozen=True, slots=True)
class Effect:
    """Something the adapter must do besides replying (store, emit, assess, escalate)."""


@dataclass(frozen=True, slots=True)
class Track(Effect):
    """A funnel event of SPEC §8; the adapter adds the pseudonymous key, time and versions."""

    event: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecordConsent(Effect):
    notice_version: str


@dataclass(frozen=True, slots=True)
class SaveProfile(Effect):
    name: str
    birth_year: int
    phone: str | None


@dataclass(frozen=True, slots=True)
class RunAssessment(Effect):
    """Assess the completed dialog (state.to_request()) and show the card via Flow.show_result()."""


@dataclass(frozen=True, slots=True)
class RequestHandoff(Effect):
    """Send the signed link to the web financing form for the last stored assessment."""


@dataclass(frozen=True, slots=True)
class Escalate(Effect):
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RelayToAdvisor(Effect):
    """The applicant's message goes to the advisor who holds their escalation."""


@dataclass(frozen=True, slots=True)
class DeletePersonalData(Effect):
    pass


def payload(rev: int, action: str, arg: str = "") -> str:
    data = f"{rev}:{action}:{arg}" if arg else f"{rev}:{action}"
    if len(data.encode()) > MAX_PAYLOAD_BYTES:  # a policy with very long codes would break Telegram
        raise ValueError(f"button payload longer than {MAX_PAYLOAD_BYTES} bytes: {data!r}")
    return data


def parse_payload(data: str) -> tuple[int, str, str] | None:
    """(rev, action, arg) or None for a payload this dialog did not build."""
    parts = data.split(":", 2)
    if len(parts) < 2 or not parts[0].isdigit():
        return None
    return int(parts[0]), parts[1], parts[2] if len(parts) == 3 else ""
