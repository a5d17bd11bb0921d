"""Funnel events the API emits (SPEC §8): HandoffOpened, FinancingRequestSubmitted (the case desk,
dialogs/cases.py, emits EscalationCreated and EscalationResolved whatever the surface).

They go through storage's durable outbox (`storage.events.EventSink`): the request never waits on the events
table and never fails because of analytics. Event ids are deterministic (uuid5 of the handoff's idempotency
key), so a reload or a retry inserts nothing twice: the funnel counts requests, not
page views.
"""

from __future__ import annotations

import logging
from typing import Any

from dialogs.ports import occurrence_id
from storage.events import EventSink, FunnelEvent

log = logging.getLogger("asesor.api.funnel")

# a deterministic uuid for one occurrence (the events table de-duplicates on it); the case desk uses the same
event_id = occurrence_id


def emit(
    sink: EventSink,
    name: str,
    user_key: str,
    *,
    event_id: str,
    properties: dict[str, Any] | None = None,
    step: str | None = None,
    policy_version: str | None = None,
    model_version: str | None = None,
) -> None:
    try:
        event = FunnelEvent(
            id=event_id,
            name=name,
            user_key=user_key,
            step=step,
            properties=properties or {},
            policy_version=policy_version,
            model_version=model_version,
        )
    except ValueError:  # analytics must never break the applicant's request; the failure is logged
        log.exception("funnel event %s not recorded: invalid", name)
        return
    sink.emit(event)
