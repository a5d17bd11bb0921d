"""The advisors' queue read from the escalations table: one filter per view, the cases of a view with their
holder's name, and how many cases each view holds (the page `/asesores`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import aliased

from storage.models import Escalation, User
from storage.repositories import Storage

# the views of the queue (the page's query values): open cases, mine, held by others, resolved
VIEWS = ("abiertos", "mios", "otros", "resueltos")


def _filter(view: str, me: int) -> list[ColumnElement[bool]]:
    if view == "mios":
        return [Escalation.status == "claimed", Escalation.advisor_id == me]
    if view == "otros":
        return [Escalation.status == "claimed", Escalation.advisor_id != me]
    if view == "resueltos":
        return [Escalation.status == "resolved"]
    return [Escalation.status == "open"]


def queue_rows(storage: Storage, view: str, me: int, limit: int) -> list[tuple[Escalation, str | None, str | None]]:
    """(case, holder's display name, holder's username) of `view`; resolved newest first, the rest oldest first."""
    holder = aliased(User)
    order = Escalation.resolved_at.desc() if view == "resueltos" else Escalation.created_at
    q = (
        select(Escalation, holder.display_name, holder.username)
        .outerjoin(holder, holder.id == Escalation.advisor_id)
        .where(*_filter(view, me))
        .order_by(order, Escalation.id)
        .limit(limit)
    )
    with storage.read() as s:
        return [(esc, display, username) for esc, display, username in s.execute(q).all()]


def view_counts(storage: Storage, me: int) -> dict[str, int]:
    with storage.read() as s:
        return {view: _count(s, view, me) for view in VIEWS}


def _count(s: Any, view: str, me: int) -> int:
    return int(s.scalar(select(func.count(Escalation.id)).where(*_filter(view, me))) or 0)
