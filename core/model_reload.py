"""The assessor a serving process holds (an API worker, a bot worker): always the one the registry's `current`
names, switched without a restart when `asesor train promote` moves it.

A watcher thread stats `<model_dir>/<name>/current` every ASESOR_MODEL_WATCH_SECONDS; when the file changed and
names another version, the new assessor is built there, off the assessment path (the artifact is read and the
policy's expensive parts are reused: `Assessor.with_model`), and one reference is swapped. An assessment takes
that reference once, so it runs wholly on one model and stores the version it used. Every worker watches the
same file, so all of them switch within one interval of each other, and a restarted one starts on it.

A version that cannot serve (missing file, incompatible feature mapping or policy) is refused, not replaced:
every assessment raises `ModelUnavailable` naming it (API 503, a polite message in the bot) until a version that
can serve is promoted. The watcher keeps looking, so that promotion is picked up the same way.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from engine.assess import load_assessor
from engine.pd.registry import ModelUnavailable, current_version, pointer
from engine.policy import Policy
from engine.types import AssessmentResult, ExpertResult

__all__ = ["ModelUnavailable", "ServedAssessor"]

log = logging.getLogger("asesor.model")


class ServedAssessor:
    """`served()` is the assessor in service (built on first use); `served.assess(...)` assesses with it.

    `factory`: a fixed assessor instead of the registry (tests that hand one in); nothing is watched then."""

    def __init__(
        self,
        policy: Callable[[], Policy] | None = None,
        model_dir: Path | None = None,
        *,
        watch_seconds: float = 1.0,
        factory: Callable[[], Any] | None = None,
    ) -> None:
        if factory is None and (policy is None or model_dir is None):
            raise TypeError("ServedAssessor needs a policy and a model directory, or a factory")
        self._load_policy, self._model_dir, self._factory = policy, model_dir, factory
        self.watch_seconds = watch_seconds
        self._assessor: Any = None
        self._error: ModelUnavailable | None = None
        self._seen: tuple[int, int, int] | None = None  # (mtime_ns, inode, size) of `current` when last read
        self._build_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------- serving
    @property
    def ready(self) -> bool:
        """Whether a call answers at once (an assessor or a refusal is in place; no build to wait for)."""
        return self._assessor is not None or self._error is not None

    def __call__(self) -> Any:
        if not self.ready:
            self.refresh()
        assessor, error = self._assessor, self._error
        if assessor is None:
            raise error or ModelUnavailable("applicant", None, self._model_dir or Path("."), "not loaded", "not_loaded")
        return assessor

    def assess(self, data: Any, as_of: date | None = None) -> AssessmentResult:
        return self().assess(data, as_of)

    def verdicts(self, requests: Sequence[Any], as_of: date | None = None) -> list[ExpertResult]:
        return self().verdicts(requests, as_of)

    @property
    def policy(self) -> Policy:
        """The policy in service (known without a model: the bot and the web chat start on it)."""
        if self._assessor is not None:
            return self._assessor.policy
        if self._load_policy is None:
            return self().policy
        return self._load_policy()

    @property
    def version(self) -> str | None:
        assessor = self._assessor
        return None if assessor is None else assessor.pd_model.model_version

    # ------------------------------------------------------------------------------------------ swapping
    def _stat(self, path: Path) -> tuple[int, int, int] | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_ino, st.st_size)

    def refresh(self) -> bool:
        """Load the version `current` names when it changed; whether the served assessor changed."""
        if self._factory is not None:
            with self._build_lock:
                if self._assessor is None:
                    self._assessor = self._factory()
                    return True
            return False
        assert self._load_policy is not None and self._model_dir is not None
        with self._build_lock:
            policy = self._assessor.policy if self._assessor is not None else self._load_policy()
            path = pointer(self._model_dir, policy.pd.applicant_model)
            seen = self._stat(path)
            if self.ready and seen == self._seen and self._error is None:
                return False
            wanted = current_version(self._model_dir, policy.pd.applicant_model)
            if self._assessor is not None and wanted == self.version:
                self._seen = seen
                return False
            try:
                # bootstraps an empty registry on first use; otherwise only reads the artifact
                new = load_assessor(policy, self._model_dir, base=self._assessor)
            except ModelUnavailable as exc:
                if self._error is None or str(self._error) != str(exc):
                    log.error("model refused, assessments answer 'unavailable' until a promotion: %s", exc)
                self._assessor, self._error, self._seen = None, exc, seen
                return True
            before = self.version
            self._assessor, self._error, self._seen = new, None, self._stat(path)
            # one line per process, with its pid: an operator (and tests/faults/test_model_promotion.py) sees that
            # every worker of `--workers N` switched, not just the one that answered a probe
            if before is None:
                log.info("model in service: %s (pid %d)", new.pd_model.model_version, os.getpid())
            else:
                log.info(
                    "model switched without restart: %s -> %s (pid %d)", before, new.pd_model.model_version, os.getpid()
                )
            return True

    # ------------------------------------------------------------------------------------------- watching
    def start(self) -> None:
        """Watch `current` in a daemon thread (no-op with a factory or watch_seconds <= 0)."""
        if self._factory is not None or self.watch_seconds <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="model-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _watch(self) -> None:
        while not self._stop.wait(self.watch_seconds):
            try:
                self.refresh()
            except Exception:  # a policy file gone bad, a disk error: keep serving what we have, say so
                log.exception("model watch failed; serving %s", self.version)
