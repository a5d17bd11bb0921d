"""benchmarks/assess.py times the engine against a naive pipeline (every expensive object built per call, the plain
library calls). A ratio against a baseline that decides differently would compare two different products: the
baseline must give the engine's bank and decision. It once missed the knock-out facts and the monotone rule risk
(issue #12) and approved applicants the engine sends to review."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from engine.policy import default_policy
from tests.models import MODEL_DIR, get_assessor
from tests.samples import random_profiles

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "assess.py"


def _benchmark_module():
    spec = importlib.util.spec_from_file_location("benchmark_assess", BENCHMARK)
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
