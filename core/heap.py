"""Keep long-lived startup objects out of the garbage collector's full passes.

A bot or API process loads, once, hundreds of thousands of objects that live as long as it does: the policy,
the ontology graph, the fuzzy and PD models, the expert engine, the framework's types. Python's full (gen 2)
collection walks every tracked object, and under load one ran every few seconds and held the event loop for
~200 ms (benchmarks/surfaces.py saw it as the p95). `gc.freeze()` moves what exists now to a permanent
generation that collections skip; objects made later are collected as usual.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect the startup garbage, then freeze the survivors; returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
