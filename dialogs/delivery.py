"""What the conversation service hands the surfaces to deliver, beyond the replies to the turn at hand.

Transport-free, like dialogs/ui.py: an `Address` names a conversation (an applicant's Telegram chat, an
applicant's web chat session, a terminal), a `Say` is replies for one of them (an advisor's answer, "tu caso lo
tomó un asesor"), and a `CaseNotice` is for the advisors' side of a case (post its card, update it, relay the
applicant's message into it). A `Say` that carries a `receipt` is a stored case message (storage/case_log.py):
whoever delivers it records whether it arrived (dialogs/outbox.py). Each surface delivers what is addressed
to it; what belongs to another surface goes through that surface's mailbox (storage/mailbox.py), so a case
opened from the web chat reaches the advisors' Telegram chat, and an advisor's answer on Telegram reaches the
web chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dialogs.ui import Button, Keyboard, Reply

TELEGRAM, WEB, TERMINAL = "telegram", "web", "terminal"


@dataclass(frozen=True, slots=True)
class Address:
    surface: str  # telegram | web | terminal
    chat: str  # the surface's id of the conversation: Telegram chat id, web session id

    def __str__(self) -> str:
        return f"{self.surface}:{self.chat}"

    @classmethod
    def parse(cls, text: str) -> Address:
        surface, _, chat = text.partition(":")
        return cls(surface, chat)


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message on a surface, e.g. a photo an applicant sent on Telegram, to be copied to the advisors."""

    address: Address
    message_id: int


@dataclass(frozen=True, slots=True)
class Say:
    """Replies for an applicant's conversation other than the one whose turn produced them."""

    to: Address
    replies: tuple[Reply, ...]
    copy_of: MessageRef | None = None  # a media message shown instead of the text where the surface can copy it
    receipt: int | None = None  # the stored case message it delivers (dialogs/outbox.py): tracked, sent once


@dataclass(frozen=True, slots=True)
class CaseNotice:
    """For the advisors' side of a case. kind: `opened` (post the card), `updated` (re-render it in its
    current state), `choose` (show the card with `keyboard`, the outcomes of *Resolver*), `message` (relay
    `text`, or copy `copy_of`: the applicant wrote, or a note), `erased` (the applicant deleted their data)."""

    case_id: int
    kind: str
    text: str = ""
    keyboard: Keyboard = ()
    close_thread: bool = False  # the case is over: close its topic
    copy_of: MessageRef | None = None
    # where the advisors' Telegram chat shows the case (its topic, its card), once the card is posted
    thread_id: int | None = None
    card_message_id: int | None = None


Outgoing = Say | CaseNotice


# ------------------------------------------------------------------------------- wire form (mailboxes)
def _reply_dict(r: Reply) -> dict[str, Any]:
    rows = [[{"l": b.label, "p": b.payload, "u": b.url} for b in row] for row in r.keyboard]
    return {"t": r.text, "k": rows}


def _reply(d: dict[str, Any]) -> Reply:
    return Reply(d["t"], tuple(tuple(Button(b["l"], b["p"], b["u"]) for b in row) for row in d["k"]))


def _ref_dict(ref: MessageRef | None) -> dict[str, Any] | None:
    return {"a": str(ref.address), "m": ref.message_id} if ref else None


def _ref(d: dict[str, Any] | None) -> MessageRef | None:
    return MessageRef(Address.parse(d["a"]), int(d["m"])) if d else None


def to_wire(item: Outgoing) -> dict[str, Any]:
    """A JSON-able form of an outgoing item, for a surface served by another process."""
    if isinstance(item, Say):
        return {"say": str(item.to), "r": [_reply_dict(r) for r in item.replies], "c": _ref_dict(item.copy_of),
                "rc": item.receipt}  # fmt: skip
    kb = _reply_dict(Reply("", item.keyboard))["k"]
    return {"case": item.case_id, "kind": item.kind, "t": item.text, "k": kb, "x": item.close_thread,
            "c": _ref_dict(item.copy_of), "th": item.thread_id, "cm": item.card_message_id}  # fmt: skip


def from_wire(d: dict[str, Any]) -> Outgoing:
    if "say" in d:
        return Say(Address.parse(d["say"]), tuple(_reply(r) for r in d["r"]), _ref(d.get("c")), d.get("rc"))
    keyboard = _reply({"t": "", "k": d.get("k", [])}).keyboard
    return CaseNotice(int(d["case"]), d["kind"], d.get("t", ""), keyboard, bool(d.get("x")), _ref(d.get("c")),
                      d.get("th"), d.get("cm"))  # fmt: skip
