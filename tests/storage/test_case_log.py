"""The case's stored conversation and outbox (storage/case_log.py): one sender wins a message, failures back
off and end failed, a dead sender's lease runs out, keys make retries one message, the payload is encrypted and
erased with the applicant. Both databases."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select

from storage.case_log import LEASE_SECONDS, MAX_ATTEMPTS, PENDING_GRACE_SECONDS, CaseLog
from storage.models import CaseMessage
from storage.repositories import Storage
from storage.types import utcnow


def _case(storage: Storage) -> int:
    key = storage.upsert_applicant(telegram_id=960_001, chat_id=960_001).user_key
    esc, _ = storage.create_escalation(key, reason="revisar")
    return int(esc.id)


def test_one_sender_wins_and_failures_back_off(storage: Storage) -> None:
    log = CaseLog(storage, backoff=(2.0, 5.0, 15.0, 30.0, 60.0))
    case_id = _case(storage)
    mid, created = log.add(case_id, "advisor", surface="telegram", text="Hola", to="telegram:960001", key="k1")
    assert created and log.add(case_id, "advisor", surface="telegram", text="Hola", to="telegram:960001",
                               key="k1") == (mid, False)  # fmt: skip
    with storage.read() as s:  # encrypted at rest
        raw = s.scalar(select(CaseMessage.payload_enc).where(CaseMessage.id == mid))
    assert b"Hola" not in raw and b"960001" not in raw

    with ThreadPoolExecutor(6) as pool:  # six senders at once: one takes it
        won = list(pool.map(lambda _: log.take(mid), range(6)))
    assert won.count(True) == 1 and log.state_of(mid) == "sending"
    assert log.failed(mid, "TelegramServerError") == (case_id, "retrying")
    assert log.due(("telegram",)) == []  # backing off
    later = utcnow() + timedelta(seconds=3)
    assert log.due(("telegram",), now=later) == [mid] and log.due(("web",), now=later) == []
    assert log.take(mid, now=later) and log.delivered(mid) == case_id
    entry = log.entries(case_id)[0]
    assert (entry.state, entry.attempts, entry.text) == ("delivered", 2, "Hola")
    assert not log.take(mid)  # delivered: nobody sends it again


def test_last_try_fails_and_a_dead_senders_lease_runs_out(storage: Storage) -> None:
    log = CaseLog(storage, backoff=(0.0,))
    case_id = _case(storage)
    mid, _ = log.add(case_id, "system", surface="web", text="Aviso", to="web:s1")
    for _ in range(MAX_ATTEMPTS):
        assert log.take(mid)
        state = log.failed(mid, "ConnectionError")[1]
    assert state == "failed" and not log.take(mid) and log.due(("web",), now=utcnow() + timedelta(hours=1)) == []

    other, _ = log.add(case_id, "advisor", surface="web", text="Otra", to="web:s1")
    assert log.due(("web",)) == []  # new: the immediate sender's for a while
    assert log.due(("web",), now=utcnow() + timedelta(seconds=PENDING_GRACE_SECONDS + 1)) == [other]
    assert log.take(other)  # a sender takes it and dies
    assert log.due(("web",)) == []
    after = utcnow() + timedelta(seconds=LEASE_SECONDS + 1)
    assert log.due(("web",), now=after) == [other] and log.take(other, now=after)
    received, _ = log.add(case_id, "applicant", surface="web", text="Hola")
    assert log.state_of(received) == "received" and not log.take(received)


def test_erasure_deletes_the_case_conversation(storage: Storage) -> None:
    log = CaseLog(storage)
    case_id = _case(storage)
    log.add(case_id, "applicant", surface="telegram", text="Mi número es 5512345678")
    esc = storage.get_escalation(case_id)
    assert esc is not None
    key = esc.user_key
    report = storage.erase_applicant(key)
    assert report.rows_unlinked["case_messages_deleted"] == 1 and log.entries(case_id) == []
