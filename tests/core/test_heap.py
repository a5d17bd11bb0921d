"""core.heap: what a process loaded at startup leaves the collector's full passes."""

from __future__ import annotations

import gc

from core.heap import freeze_startup_heap


def test_startup_objects_are_frozen_and_later_garbage_is_still_collected() -> None:
    try:
        startup = [[i] for i in range(1000)]  # long-lived, loaded "at startup"
        frozen = freeze_startup_heap()
        assert frozen >= len(startup) and gc.get_freeze_count() == frozen
        collectable = {id(o) for o in gc.get_objects()}
        assert not any(id(o) in collectable for o in startup)  # in no generation the collector walks

        class Cycle:
            other: Cycle

        a, b = Cycle(), Cycle()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2  # made after the freeze: collected as usual
    finally:
        gc.unfreeze()  # the rest of the test session runs with an ordinary heap
