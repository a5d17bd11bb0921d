"""Replay on a Dask cluster (#12 item 5): a local cluster started here (two worker processes) gives exactly the
figures and changed rows of the local run; each task reads its own id range from the database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from distributed import LocalCluster

from lab.replay import ReplaySpec, run_replay
from storage.repositories import Storage
from tests.lab.conftest import BOOK_SIZE, store_book, table_digest

TIMINGS = ("generated_at", "run")


@pytest.fixture(scope="module")
def cluster():
    # processes, not threads: what a real cluster does (separate interpreters that import the project)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def test_replay_on_a_dask_cluster_matches_the_local_run(
    storage: Storage, db_url: str, stricter_policy: Path, cluster: LocalCluster
) -> None:
    store_book(storage)
    before = table_digest(storage)
    spec = ReplaySpec(db_url, stricter_policy.read_bytes(), str(stricter_policy))
    local = run_replay(spec, workers=1, rows_per_partition=20)
    dask = run_replay(spec, scheduler=cluster.scheduler_address, rows_per_partition=20)
    assert table_digest(storage) == before

    assert dask.report["run"]["scheduler"] == cluster.scheduler_address and dask.report["run"]["partitions"] == 4
    assert {k: v for k, v in dask.report.items() if k not in TIMINGS} == {
        k: v for k, v in local.report.items() if k not in TIMINGS
    }
    assert dask.changes == local.changes and dask.report["replayed"] == BOOK_SIZE and dask.report["changed"] > 0
    # the work really ran in the cluster's worker processes, not in this one
    processes = dask.report["run"]["processes"]
    assert 1 <= len(processes) <= 2 and not any(k.endswith(f":{os.getpid()}") for k in processes)
    assert sum(processes.values()) == BOOK_SIZE
