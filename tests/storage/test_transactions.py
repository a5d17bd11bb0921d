"""Write transactions: several repository calls as one (`Storage.transaction`), and SQLite's write lock
taken with short retries (storage.db._begin_immediate) rather than failing or sleeping through it."""

from __future__ import annotations

import functools
import random
import sqlite3
import threading
import time

import pytest
import tenacity
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
    applicant = storage.get_applicant(key)
    assert applicant is not None and applicant.consent_given
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


class _Retries:
    """Stands in for the sleep between storage.db._begin_immediate's retries: records each pause (and takes it)
    and tells the test once the writer has been refused the lock `after` times, so the test knows the writer is
    waiting without guessing how long that takes on a loaded machine."""

    def __init__(self, after: int = 1) -> None:
        self.pauses: list[float] = []
        self.after, self.waiting = after, threading.Event()

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        if len(self.pauses) >= self.after:
            self.waiting.set()
        time.sleep(seconds)


@pytest.fixture
def retries(monkeypatch) -> _Retries:
    rec = _Retries()
    monkeypatch.setattr(db, "Retrying", functools.partial(tenacity.Retrying, sleep=rec.sleep))
    return rec


def test_transactions_are_per_thread(storage: Storage, retries: _Retries) -> None:
    """A transaction open in one thread is not joined by another thread's calls (each has its own)."""
    seen: list[int] = []
    with storage.transaction():
        storage.upsert_applicant(504)
        worker = threading.Thread(target=lambda: seen.append(storage.upsert_applicant(505).id))
        if storage.dialect == "sqlite":  # the other thread would wait for our write lock: only check isolation
            worker.start()
            assert retries.waiting.wait(10)  # refused our lock at least once
            assert not seen  # it waits for the lock instead of writing into our transaction
        else:
            worker.start()
            worker.join(5)
            assert seen and _count(storage, Applicant) == 1  # committed by itself; ours is still open
    worker.join(15)
    assert seen and _count(storage, Applicant) == 2


def _hold_write_lock(path: str, taken: threading.Event, release: threading.Event) -> None:
    """Hold SQLite's write lock from another connection from `taken` until `release` is set."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    conn.execute("BEGIN IMMEDIATE")
    taken.set()
    release.wait(30)
    conn.execute("COMMIT")
    conn.close()


def _locked_by_another(sqlite_url: str) -> tuple[threading.Thread, threading.Event]:
    """A thread holding the database's write lock (taken on return) and the event that makes it commit."""
    taken, release = threading.Event(), threading.Event()
    holder = threading.Thread(
        target=_hold_write_lock, args=(sqlite_url.removeprefix("sqlite:///"), taken, release), daemon=True
    )
    holder.start()
    assert taken.wait(10)
    return holder, release


def test_sqlite_writer_waits_for_the_lock_and_gets_it_once_free(sqlite_url: str, tmp_path, retries) -> None:
    st = Storage(sqlite_url, pseudonym_key="k", data_dir=tmp_path)
    holder, release = _locked_by_another(sqlite_url)
    done = threading.Event()

    def write() -> None:
        st.upsert_applicant(601)
        done.set()

    writer = threading.Thread(target=write)
    writer.start()  # BEGIN IMMEDIATE: busy until the holder commits
    assert retries.waiting.wait(10) and not done.is_set()  # refused, waiting, not failed
    release.set()
    holder.join(10)
    assert done.wait(10)  # it got the lock once the holder committed
    writer.join(10)
    assert _count(st, Applicant) == 1
    with st.engine.connect() as conn:  # the connection's own busy timeout is back for other statements
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == int(db.SQLITE_LOCK_TIMEOUT_S * 1000)
    st.dispose()


def test_sqlite_writer_retries_often_enough_to_follow_a_busy_lock(sqlite_url: str, tmp_path, retries) -> None:
    """While another writer holds the lock, the waiting writer tries again every 2 ms at most, so a short gap
    between two holders is enough for it. SQLite's own busy handler sleeps 25-100 ms at a time by then and
    would wait for the next holder as well; with it in charge the writer would block inside BEGIN and never
    come back to pause here. (Checked on the pauses themselves: a real 5 ms gap is a race on a loaded machine.)"""
    retries.after = 20
    st = Storage(sqlite_url, pseudonym_key="k", data_dir=tmp_path)
    holder, release = _locked_by_another(sqlite_url)
    writer = threading.Thread(target=st.upsert_applicant, args=(602,))
    writer.start()
    assert retries.waiting.wait(10)  # refused 20 times while the lock was held
    release.set()
    holder.join(10)
    writer.join(10)
    assert not writer.is_alive() and _count(st, Applicant) == 1
    assert max(retries.pauses) <= 0.002, retries.pauses
    st.dispose()


def test_sqlite_writer_gives_up_after_the_lock_timeout(sqlite_url: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(db, "SQLITE_LOCK_TIMEOUT_S", 0.2)
    st = Storage(sqlite_url, pseudonym_key="k", data_dir=tmp_path)
    holder, release = _locked_by_another(sqlite_url)  # held until the writer has given up
    try:
        with pytest.raises(Exception, match="locked"):
            st.upsert_applicant(603)
    finally:
        release.set()
        holder.join(10)
    st.dispose()
