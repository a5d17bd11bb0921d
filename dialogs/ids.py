"""Ids made on the event loop's hot path (a turn's lock token, its funnel events, a request id): UUID4s drawn
from the process's PRNG instead of `uuid.uuid4()`.

`uuid.uuid4()` reads `os.urandom`, which lets go of the GIL; on a loop thread beside busy worker threads (the
SQLite writes, the assessment) each call then waits for the GIL to come back, up to the switch interval (5 ms),
and the whole loop waits with it. py-spy on the web chat's server found 7 % of the loop's time in `uuid4`, of
which 1 % was CPU (docs/conversation.md, "CPU per update"). `random` is seeded from `os.urandom` at import and
again in every forked child, so these ids stay unique across processes; whoever has seen a few hundred of them
can predict the next, so they are ids only: never a secret, a token that grants access, or a key (those come
from `secrets`)."""

from __future__ import annotations

import random
import uuid


def new_uuid() -> uuid.UUID:
    """A random (version 4) UUID, for an id."""
    return uuid.UUID(int=random.getrandbits(128), version=4)
