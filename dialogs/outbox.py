"""Tracked delivery of the stored messages of a case (a `Say` with a `receipt`).

Whoever delivers a tracked `Say` (the Telegram courier for a Telegram chat, the mail courier for a web chat's
transcript) first takes the stored message (one conditional UPDATE: of the immediate delivery and the retry
sweep, or of two processes, one sends it), then sends it, then records `delivered`, or the failure (`retrying`
after a back-off, `failed` after the last try). A failure is recorded, not raised: the retry sweep
(`CaseDesk.redeliver`) takes the message again when its back-off is over. The page shows the state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from dialogs.delivery import Say

log = logging.getLogger(__name__)


class Receipts(Protocol):
    """What a courier reports about a tracked message (the case desk: storage, and the pages told)."""

    async def sending(self, receipt: int) -> bool: ...

    async def delivered(self, receipt: int) -> None: ...

    async def failed(self, receipt: int, error: str) -> None: ...


async def deliver_tracked(say: Say, send: Callable[[Say], Awaitable[object]], receipts: Receipts | None) -> bool:
    """Send `say` once: True when it was sent now."""
    if say.receipt is None or receipts is None:
        await send(say)
        return True
    if not await receipts.sending(say.receipt):
        return False  # another sender has it, or it was delivered (a copy from the mailbox, a second sweep)
    try:
        await send(say)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # Telegram down, Redis down: recorded, retried by the sweep
        log.warning("case message %s not delivered: %s", say.receipt, type(exc).__name__)
        await receipts.failed(say.receipt, type(exc).__name__)
        return False
    await receipts.delivered(say.receipt)
    return True
