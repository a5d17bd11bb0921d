"""`replay`: re-assess the stored assessments of a period under another policy, without touching them.

The work is cut into id ranges of the period's assessments (storage.policy_lab.replay_partitions). Each range
is one task: it reads its rows from the database itself, re-assesses every stored request with the real engine
(`Assessor.assess`, the path `asesor assess --jsonl` takes) at the date it was first assessed, and returns the
stored-vs-replayed counters and the rows whose decision changed. Tasks run on all local cores (processes forked
after the engine is built, as `asesor assess --jsonl` does) or, given a scheduler address, on a Dask cluster.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from engine.policy import Policy, parse_policy
from lab import tally as T
from storage.policy_lab import IdRange, replay_partitions, replay_rows

ROWS_PER_PARTITION = 2000
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ReplaySpec:
    """Everything a task needs, picklable: it travels to forked workers and to Dask workers as it is."""

    database_url: str
    policy_toml: bytes
    policy_name: str = "policy.toml"
    model_dir: str | None = None
    since: date | None = None
    until: date | None = None

    def policy(self) -> Policy:
        return parse_policy(self.policy_toml, Path(self.policy_name))


# ------------------------------------------------------------------------------------------ one task
_ENGINES: dict[tuple[int, str], Any] = {}


def _engine(url: str) -> Any:
    """One database engine per process (a forked child never reuses its parent's connections)."""
    key = (os.getpid(), url)
    engine = _ENGINES.get(key)
    if engine is None:
        from storage.db import make_engine

        engine = _ENGINES[key] = make_engine(url)
    return engine


def _assessor(spec: ReplaySpec) -> Any:
    from core.config import get_settings
    from engine.assess import get_assessor  # cached per process by policy hash and model directory

    return get_assessor(spec.policy(), spec.model_dir or get_settings().resolved_model_dir)


def replay_partition(spec: ReplaySpec, id_range: IdRange) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Re-assess one id range: (counters, changed rows). Runs in a worker process or a Dask task."""
    from engine.validation import AssessmentInputError

    assessor = _assessor(spec)
    counters = T.new_tally()
    changes: list[dict[str, Any]] = []
    stored_side, replay_side, transitions = counters["stored"], counters["replay"], counters["transitions"]
    not_replayable, versions = counters["not_replayable"], counters["stored_policies"]
    models = counters["replay_models"]
    first = last = None
    for batch in replay_rows(_engine(spec.database_url), id_range, spec.since, spec.until):
        for row in batch:
            counters["assessments"] += 1
            if row.request is None:
                not_replayable["no_stored_request"] = not_replayable.get("no_stored_request", 0) + 1
                continue
            try:
                new = assessor.assess(row.request, row.created_at.date())
            except AssessmentInputError as exc:
                fields = ",".join(sorted({e["field"] for e in exc.errors})) or "?"
                reason = f"invalid_under_policy:{fields}"
                not_replayable[reason] = not_replayable.get(reason, 0) + 1
                continue
            counters["replayed"] += 1
            versions[row.policy_version] = versions.get(row.policy_version, 0) + 1
            models[new.model_version] = models.get(new.model_version, 0) + 1
            stamp = row.created_at.isoformat()
            first = stamp if first is None or stamp < first else first
            last = stamp if last is None or stamp > last else last
            segments = (row.income_band, row.tenure, row.payroll_bank)
            T.count(
                stored_side, segments, row.decision, row.rate, row.pd, row.recommended_bank,
                row.expected_loss, row.lgd, row.exposure,
            )  # fmt: skip
            ex, loss = new.expert, new.loss_inputs
            T.count(
                replay_side, segments, ex.decision, ex.rate, new.pd.probability, new.bank_fit.recommended,
                new.expected_loss, loss.lgd, loss.exposure,
            )  # fmt: skip
            transitions.setdefault(row.decision, {})
            transitions[row.decision][ex.decision] = transitions[row.decision].get(ex.decision, 0) + 1
            if ex.decision != row.decision:
                counters["changed"] += 1
                for name, code in zip(T.SEGMENTS, segments, strict=True):
                    seg = counters["changed_by_segment"][name]
                    seg[code or "—"] = seg.get(code or "—", 0) + 1
                changes.append(
                    {
                        "assessment_id": row.id,
                        "user_key": row.user_key,
                        "created_at": stamp,
                        "stored_decision": row.decision,
                        "replayed_decision": ex.decision,
                        "stored_rate": row.rate,
                        "replayed_rate": ex.rate,
                        "stored_bank": row.recommended_bank,
                        "replayed_bank": new.bank_fit.recommended,
                        "stored_pd": row.pd,
                        "replayed_pd": new.pd.probability,
                        "stored_expected_loss": row.expected_loss,
                        "replayed_expected_loss": new.expected_loss,
                    }
                )
    counters["first"], counters["last"] = first, last
    counters["processes"] = {f"{socket.gethostname()}:{os.getpid()}": counters["assessments"]}
    return counters, changes


# ------------------------------------------------------------------------------------------ running
_fork_spec: ReplaySpec | None = None


def _fork_task(id_range: IdRange) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    assert _fork_spec is not None
    return replay_partition(_fork_spec, id_range)


def _run_local(spec: ReplaySpec, ranges: list[IdRange], workers: int) -> Iterator[tuple[dict, list]]:
    global _fork_spec
    if workers <= 1 or len(ranges) <= 1:
        for r in ranges:
            yield replay_partition(spec, r)
        return
    _assessor(spec)  # built once here; the forked children inherit it warm
    for engine in _ENGINES.values():
        engine.dispose()  # no pooled connection crosses the fork
    _fork_spec = spec
    pool = mp.get_context("fork").Pool(min(workers, len(ranges)))
    try:
        yield from pool.imap_unordered(_fork_task, ranges)
    finally:
        pool.close()
        pool.join()
        _fork_spec = None


def _run_dask(spec: ReplaySpec, ranges: list[IdRange], scheduler: str) -> Iterator[tuple[dict, list]]:
    from distributed import Client, as_completed

    with Client(scheduler, timeout="30s") as client:
        futures = client.map(replay_partition, [spec] * len(ranges), ranges, pure=False)
        for future in as_completed(futures):
            yield future.result()
            future.release()


@dataclass
class ReplayOutcome:
    report: dict[str, Any]
    changes: list[dict[str, Any]]


def run_replay(
    spec: ReplaySpec,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    rows_per_partition: int = ROWS_PER_PARTITION,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> ReplayOutcome:
    """Replay the period under `spec`'s policy; the report compares stored and replayed figures."""
    policy = spec.policy()  # fails early (PolicyError) before any work
    started = time.perf_counter()
    parts = replay_partitions(_engine(spec.database_url), spec.since, spec.until, rows_per_partition=rows_per_partition)
    total = sum(n for _, n in parts)
    if on_total is not None:
        on_total(total)
    ranges = [r for r, _ in parts]
    n_workers = workers or os.cpu_count() or 1
    results: Iterable[tuple[dict, list]] = (
        _run_dask(spec, ranges, scheduler) if scheduler else _run_local(spec, ranges, n_workers)
    )
    merged = T.new_tally()
    changes: list[dict[str, Any]] = []
    for counters, changed in results:
        T.merge(merged, counters)
        changes.extend(changed)
        if progress is not None:
            progress(counters["assessments"])
    changes.sort(key=lambda c: (c["created_at"], c["assessment_id"]))
    seconds = time.perf_counter() - started
    segment_order = {"income_band": "ingreso_mensual", "tenure": "trabajo_tiempo", "payroll_bank": "banco_nomina"}
    summary = T.summarize(merged, list(policy.banks), {k: list(policy.answers[q]) for k, q in segment_order.items()})
    report = {
        "kind": "replay",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "since": spec.since.isoformat() if spec.since else None,
        "until": spec.until.isoformat() if spec.until else None,
        "policy": {
            "file": spec.policy_name,
            "version": policy.version,
            "name": policy.meta.name,
            "content_hash": policy.content_hash,
        },
        "model_versions": dict(merged["replay_models"]),  # the PD model(s) the replay assessed with
        "loss_inputs": {
            "stored_lgd": summary["stored"]["lgd"],
            "replayed": {code: p.model_dump() for code, p in policy.products.items()},
        },
        **summary,
        "run": {
            "scheduler": scheduler,
            "workers": None if scheduler else n_workers,
            "partitions": len(ranges),
            "processes": merged.get("processes", {}),  # host:pid -> assessments read there
            "seconds": round(seconds, 3),
            "assessments_per_second": round(total / seconds, 1) if seconds > 0 else None,
        },
    }
    return ReplayOutcome(report, changes)
