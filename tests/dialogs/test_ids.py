"""dialogs.ids: UUID4s from the process's PRNG, unique across forked processes."""

from __future__ import annotations

import multiprocessing
import uuid
from typing import Any

from dialogs.ids import new_uuid


def _draw(queue: Any) -> None:
    queue.put([new_uuid() for _ in range(100)])


def test_new_uuid_is_a_version_4_rfc_4122_uuid() -> None:
    ids = [new_uuid() for _ in range(10_000)]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in ids)
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(str(u)) == u for u in ids[:100])  # the 36-character text the database stores


def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    """`random` reseeds in a forked child (random.py registers it with os.register_at_fork): without that, two
    uvicorn or bot workers forked from one parent would hand out the same lock tokens and event ids."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_draw, args=(queue,))
    child.start()
    theirs = queue.get(timeout=30)
    child.join(30)
    ours = [new_uuid() for _ in range(100)]
    assert not set(theirs) & set(ours)
