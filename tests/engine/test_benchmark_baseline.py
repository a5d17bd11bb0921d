"""The benchmarks time the engine against other ways of computing the same thing; a ratio against a variant that
decides differently compares two different products. benchmarks/assess.py's naive pipeline (every expensive
object built per call, the plain library calls) once missed the knock-out facts and the monotone rule risk
(issue #12), and benchmarks/expert.py's TEST-CE variant let R9 approve over a review (P2, K1): both approved
applicants the engine sends to review, and both benchmarks stopped at their own checks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from engine.policy import default_policy
from tests.models import MODEL_DIR, get_assessor
from tests.samples import random_profiles

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _benchmark_module(name: str = "assess"):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_naive_baseline_decides_as_the_engine_does():
    bench = _benchmark_module()
    assessor = get_assessor(default_policy())
    naive = bench.naive_pipeline(MODEL_DIR)
    # 60 profiles drawn as the benchmark draws them, among them no-bank and review cases
    profiles = random_profiles(60, seed=3)
    decisions = {assessor.assess(p, bench.AS_OF).expert.decision for p in profiles}
    assert len(decisions) >= 2, decisions  # the sample exercises more than one verdict
    assert bench.naive_disagreements(assessor, naive, profiles) == []


def test_the_expert_benchmarks_test_ce_variant_decides_as_production():
    bench = _benchmark_module("expert")
    policy = default_policy()
    variant = bench.CreditExpertSystem(policy)
    variant.engine = bench._test_style_engine_class(policy)()
    inputs = bench._facts(300, seed=7)  # the benchmark's own draw
    expected = [bench.decide_reference(f, policy) for f in inputs]
    assert {e.decision for e in expected} == {"aprobado", "rechazado", "revisar"}
    assert [variant.decide(f) for f in inputs] == expected
