"""Fuzzy default risk (seed 003, "Lógica Difusa"): the policy's Mamdani system.

- `fuzzy_model(policy)` -> `FuzzyRiskModel`, the NumPy fast path the engine uses (built once per policy);
- `reference_risk(policy, ...)`, the scikit-fuzzy ControlSystem the fast path is proven equal to (1e-6).

Income is in seed units (millions in the seed = MXN / policy.mappings.money_scale); the caller converts.
See docs/fuzzy.md.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import TypeVar

from engine.fuzzy.model import INPUTS, FuzzyPolicyError, FuzzyRiskModel
from engine.fuzzy.reference import ReferenceSystem
from engine.fuzzy.rules import RuleSyntaxError, parse_rule
from engine.policy.models import FuzzyPolicy, Policy

__all__ = [
    "INPUTS",
    "FuzzyPolicyError",
    "FuzzyRiskModel",
    "ReferenceSystem",
    "RuleSyntaxError",
    "fuzzy_model",
    "parse_rule",
    "reference_risk",
    "reference_system",
]

_lock = threading.Lock()
_models: dict[str, FuzzyRiskModel] = {}
_references: dict[str, ReferenceSystem] = {}


def _key(policy: Policy) -> str:
    # content_hash identifies a loaded file; a policy built in memory (tests, model_copy) has none or may
    # carry a stale one, so the fuzzy section's own fingerprint is part of the key
    section = policy.fuzzy.model_dump_json(by_alias=True).encode()
    return f"{policy.content_hash}:{hashlib.sha256(section).hexdigest()}"


T = TypeVar("T")


def _cached(cache: dict[str, T], policy: Policy, build: Callable[[FuzzyPolicy], T]) -> T:
    key = _key(policy)
    with _lock:
        hit = cache.get(key)
    if hit is not None:
        return hit
    built = build(policy.fuzzy)
    with _lock:
        return cache.setdefault(key, built)


def fuzzy_model(policy: Policy) -> FuzzyRiskModel:
    """The fast path for this policy, built on first use and cached (raises FuzzyPolicyError if unusable)."""
    return _cached(_models, policy, FuzzyRiskModel)


def reference_system(policy: Policy) -> ReferenceSystem:
    """The scikit-fuzzy ControlSystem for this policy, built once (building one per call leaks memory)."""
    return _cached(_references, policy, ReferenceSystem)


def reference_risk(policy: Policy, ingreso: float, estabilidad: float, puntaje: float) -> float:
    """Crisp risk computed by scikit-fuzzy (slow; the reference for tests and audits)."""
    return reference_system(policy).risk(ingreso=ingreso, estabilidad=estabilidad, puntaje=puntaje)
