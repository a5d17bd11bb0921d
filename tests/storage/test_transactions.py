"""Write transactions: several repository calls as one (`Storage.transaction`), and SQLite's write lock
taken with short retries (storage.db._begin_immediate) rather than failing or sleeping through it."""

from __future__ import annotations

import random
import sqlite3
import threading
import time

import pytest
from sqlalchemy import func, select

from engine.types import AssessmentResult
from storage import db
from storage.models import Applicant, Assessment, BankProfile
from storage.repositories import Storage


def _count(storage: Storage, model: type) -> int:
    with storage.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_calls_inside_a_transaction_commit_together(storage: Storage, result_factory) -> None:
    req, res = result_factory(random.Random(1))
    with storage.transaction():
        key = storage.upsert_applicant(501, chat_id=501).user_key
        storage.record_consent(key, version="v1")
        aid = storage.save_assessment(AssessmentResult.model_validate(res), user_key=key, request=req)
        # joined, not committed yet: another connection does not see the row
        with storage.read() as s:
            assert s.get(Assessment, aid) is None
    assert storage.get_applicant(key).consent_given  # type: ignore[union-attr]
    assert storage.get_assessment(aid) is not None


def test_a_failure_inside_a_transaction_stores_none_of_it(storage: Storage) -> None:
    with pytest.raises(RuntimeError), storage.transaction():
        key = storage.upsert_applicant(502, chat_id=502).user_key
        storage.save_bank_profile(
            key, respuestas={"enganche": "35_mas"}, banco_recomendado="bbva", banco_segunda_opcion=None,
            is_complete=True,
        )  # fmt: skip
        raise RuntimeError("the process failed half way")
    assert _count(storage, Applicant) == 0 and _count(storage, BankProfile) == 0
    # the thread is out of the transaction: the next call commits on its own
    storage.upsert_applicant(503)
    assert _count(storage, Applicant) == 1


def test_transactions_are_per_thread(storage: Storage) -> None:
    """A transaction open in one thread is not joined by another thread's calls (each has its own)."""
    seen: list[int] = []
    with storage.transaction():
        storage.upsert_applicant(504)
        worker = threading.Thread(target=lambda: seen.append(storage.upsert_applicant(505).id))
        if storage.dialect == "sqlite":  # the other thread would wait for our write lock: only check isolation
            worker.start()
            time.sleep(0.05)
            assert not seen  # it waits for the lock instead of writing into our transaction
        else:
            worker.start()
            worker.join(5)
            assert seen and _count(storage, Applicant) == 1  # committed by itself; ours is still open
    worker.join(15)
    assert seen and _count(storage, Applicant) == 2


def _hold_write_lock(path: str, seconds: float, taken: threading.Event) -> float:
    """Hold SQLite's write lock for `seconds` from another connection; returns when it was taken."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    conn.execute("BEGIN IMMEDIATE")
    at = time.perf_counter()
    taken.set()
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()
    return at


def _locked_by_another(sqlite_url: str, seconds: float) -> threading.Thread:
    """A thread holding the database's write lock for `seconds`, started and holding it on return."""
    taken = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(sqlite_url.removeprefix("sqlite:///"), seconds, taken))
    holder.start()
    assert taken.wait(5)
    return holder


def test_sqlite_writer_waits_for_the_lock_and_gets_it_soon_after(sqlite_url: str, tmp_path) -> None:
    st = Storage(sqlite_url, pseudonym_key="k", data_dir=tmp_path)
    holder = _locked_by_another(sqlite_url, 0.3)
    t0 = time.perf_counter()
    st.upsert_applicant(601)  # BEGIN IMMEDIATE: busy until the holder commits
    waited = time.perf_counter() - t0
    holder.join()
    assert 0.25 < waited < 2.0  # it waited for the lock (SQLite's back-off alone would still say the same)
    assert _count(st, Applicant) == 1
    with st.engine.connect() as conn:  # the connection's own busy timeout is back for other statements
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == int(db.SQLITE_LOCK_TIMEOUT_S * 1000)
    st.dispose()


def test_sqlite_writer_retries_often_enough_to_follow_a_busy_lock(sqlite_url: str, tmp_path) -> None:
    """Between two holders of the lock there is a 5 ms gap; the waiting writer must use it. SQLite's own
    busy handler sleeps 25-100 ms at a time by then and would wait for the second holder as well."""
    st = Storage(sqlite_url, pseudonym_key="k", data_dir=tmp_path)
    path = sqlite_url.removeprefix("sqlite:///")
    first, second = threading.Event(), threading.Event()
    second_at: list[float] = []
    done: list[float] = []

    def relay() -> None:
        _hold_write_lock(path, 0.2, first)
        time.sleep(0.005)
        second_at.append(_hold_write_lock(path, 0.5, second))

    holder = threading.Thread(target=relay)
    holder.start()
    first.wait(5)
    writer = threading.Thread(target=lambda: (st.upsert_applicant(602), done.append(time.perf_counter())))
    writer.start()
    writer.join(5)
    holder.join()
    assert done and second_at and done[0] < second_at[0]  # it took the gap; the second holder waited for it
    assert _count(st, Applicant) == 1
    st.dispose()


def test_sqlite_writer_gives_up_after_the_lock_timeout(sqlite_url: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(db, "SQLITE_LOCK_TIMEOUT_S", 0.2)
    st = Storage(sqlite_url, pseudonym_key="k", data_dir=tmp_path)
    holder = _locked_by_another(sqlite_url, 1.0)
    with pytest.raises(Exception, match="locked"):
        st.upsert_applicant(603)
    holder.join()
    st.dispose()
