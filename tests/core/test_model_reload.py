"""core.model_reload.ServedAssessor: the version `current` names, swapped on a promotion while assessments run,
refused (not replaced) when it cannot serve, healed by the next good promotion."""

from __future__ import annotations

import copy
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.model_reload import ModelUnavailable, ServedAssessor
from engine.pd import registry
from engine.policy import default_policy
from tests.models import MODEL_DIR, get_assessor
from tests.samples import sample_profile

POLICY = default_policy()
NAME = POLICY.pd.applicant_model


@pytest.fixture
def models(tmp_path: Path) -> tuple[Path, str, str]:
    """A registry with the served version and a second one (same numbers, another name) not in service."""
    served = get_assessor(POLICY)  # bootstraps the shared directory once
    shutil.copytree(MODEL_DIR / NAME, tmp_path / NAME, ignore=shutil.ignore_patterns(".lock"))
    other = copy.deepcopy(served.pd_model.artifact)
    other["model_version"] = served.pd_model.model_version + "-b"
    other["intercept"] += 0.5  # a different model: higher PD for everyone
    registry.write(tmp_path, other)
    return tmp_path, served.pd_model.model_version, other["model_version"]


def _wait(cond: Callable[[], object], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_a_promotion_swaps_the_model_while_assessments_run(models: tuple[Path, str, str]) -> None:
    directory, first, second = models
    served = ServedAssessor(lambda: POLICY, directory, watch_seconds=0.05)
    assert served().pd_model.model_version == first
    policy_parts = served().fuzzy
    pd_before = served.assess(sample_profile()).pd.probability
    seen: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def assess_loop() -> None:
        while not stop.is_set():
            try:
                result = served.assess(sample_profile())
                seen.append(result.model_version)
            except BaseException as exc:  # any failure fails the test
                errors.append(exc)

    served.start()
    worker = threading.Thread(target=assess_loop)
    worker.start()
    try:
        _wait(lambda: len(seen) >= 5)
        registry.promote(directory, NAME, second, by="test", reason="swap")
        _wait(lambda: served.version == second)
        n = len(seen)
        _wait(lambda: len(seen) >= n + 5)
    finally:
        stop.set()
        worker.join()
        served.stop()
    assert not errors
    # every assessment ran on one model: the old ones before the swap, the new one after, never back
    switch = seen.index(second)
    assert set(seen[:switch]) == {first} and set(seen[switch:]) == {second}
    assert served().fuzzy is policy_parts  # the policy's parts were reused, not rebuilt
    assert served.assess(sample_profile()).pd.probability > pd_before  # the promoted numbers are the ones used


def test_a_version_that_cannot_serve_is_refused_then_healed(models: tuple[Path, str, str]) -> None:
    directory, first, second = models
    served = ServedAssessor(lambda: POLICY, directory, watch_seconds=0.05)
    assert served().pd_model.model_version == first
    served.start()
    try:
        registry.pointer(directory, NAME).write_text("applicant-missing\n")  # edited by hand
        _wait(lambda: served.version is None)
        with pytest.raises(ModelUnavailable, match="applicant-missing"):
            served.assess(sample_profile())
        assert registry.current_version(directory, NAME) == "applicant-missing"  # not re-pointed
        registry.promote(directory, NAME, second, by="test", reason="fix")
        _wait(lambda: served.version == second)
        assert served.assess(sample_profile()).model_version == second
    finally:
        served.stop()
