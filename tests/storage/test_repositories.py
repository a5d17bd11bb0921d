"""The Storage facade on SQLite and PostgreSQL: privacy, idempotency, concurrency, erasure, users."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, func, select, text

from engine.types import AssessmentResult
from storage.events import EventSink, FunnelEvent, SpoolOutbox
from storage.models import Applicant, Assessment, BankProfile, Escalation, Event, FinancingRequest
from storage.privacy import Cipher, MissingKeyError, pseudonymize
from storage.repositories import Conflict, NotFound, Storage


def test_applicant_is_pseudonymous_and_encrypted_at_rest(storage: Storage) -> None:
    view = storage.upsert_applicant(987654321, chat_id=987654321)
    assert view.user_key == pseudonymize(987654321, "test-pseudonym-key")
    assert "987654321" not in view.user_key
    storage.record_consent(view.user_key, version="2026-11")
    view = storage.save_profile(view.user_key, name="José Ñúñez", phone="+52 55 1234 5678", birth_year=1990)
    assert (view.name, view.phone, view.birth_year, view.consent_given) == (
        "José Ñúñez",
        "+52 55 1234 5678",
        1990,
        True,
    )
    assert view.consent_at is not None and view.consent_at.tzinfo is not None
    with storage.engine.connect() as conn:
        row = conn.execute(select(Applicant.__table__)).mappings().one()
    raw = b"".join(bytes(v) for v in (row["name_enc"], row["phone_enc"]))
    assert b"Jos" not in raw and b"1234" not in raw
    # the same Telegram id maps to the same applicant; the chat id is refreshed
    again = storage.upsert_applicant(987654321, chat_id=555)
    assert again.id == view.id and storage.telegram_chat_id(view.user_key) == 555
    by_telegram = storage.get_applicant_by_telegram(987654321)
    assert by_telegram is not None and by_telegram.name == "José Ñúñez"


def test_missing_fernet_key_refused_in_production_and_generated_in_dev(tmp_path) -> None:
    with pytest.raises(MissingKeyError):
        Cipher.for_environment(None, production=True, data_dir=tmp_path)
    c1 = Cipher.for_environment(None, production=False, data_dir=tmp_path)
    token = c1.encrypt("hola")
    c2 = Cipher.for_environment(None, production=False, data_dir=tmp_path)  # same key file re-read
    assert c2.decrypt(token) == "hola"
    assert (tmp_path / "secrets" / "fernet.key").stat().st_mode & 0o777 == 0o600


def test_key_rotation_keeps_old_tokens_readable() -> None:
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Cipher.from_key_string(old).encrypt("dato")
    assert token is not None
    rotated = Cipher.from_key_string(f"{new},{old}")
    assert rotated.decrypt(token) == "dato"
    assert Cipher.from_key_string(new).decrypt(rotated.rotate(token)) == "dato"


def test_save_assessment_keeps_whole_result_without_the_name(storage: Storage, result_factory) -> None:
    make_result = result_factory
    key = storage.upsert_applicant(1).user_key
    req, res = make_result(random.Random(3), decision="revisar", pd=0.12, recommended="banorte")
    aid = storage.save_assessment(AssessmentResult.model_validate(res), user_key=key, request=req)
    a = storage.get_assessment(aid)
    assert a is not None
    assert (a.decision, a.recommended_bank, a.policy_version, a.model_version) == (
        "revisar",
        "banorte",
        "2026.11.1",
        "applicant-test",
    )
    assert a.pd == pytest.approx(0.12) and a.credit_score == res["credit_score"]
    assert a.income_band == req["answers"]["ingreso_mensual"] and a.tenure == req["answers"]["trabajo_tiempo"]
    assert a.request is not None
    assert a.result["ontology"]["facts"]["name"] == "" and "name" not in a.request["applicant"]
    # the stored JSON is still a valid contract object
    assert AssessmentResult.model_validate(a.result).expert.decision == "revisar"
    # segments recovered from the bank-fit reasons when no request is given
    aid2 = storage.save_assessment(res, user_key=key)
    second = storage.get_assessment(aid2)
    assert second is not None and second.payroll_bank == req["answers"]["banco_nomina"]
    latest = storage.latest_assessment(key)
    assert latest is not None and latest.id in {aid, aid2}


def test_bank_profile_is_one_row_per_user_and_updated(storage: Storage) -> None:
    key = storage.upsert_applicant(2).user_key
    storage.save_bank_profile(
        key, respuestas={"enganche": "20_30"}, banco_recomendado="bbva", banco_segunda_opcion=None, is_complete=False
    )
    storage.save_bank_profile(
        key,
        respuestas={"enganche": "35_mas"},
        banco_recomendado="banorte",
        banco_segunda_opcion="bbva",
        is_complete=True,
    )
    bp = storage.get_bank_profile(key)
    assert bp is not None and (bp.banco_recomendado, bp.banco_segunda_opcion, bp.is_complete) == (
        "banorte",
        "bbva",
        True,
    )
    assert bp.respuestas == {"enganche": "35_mas"}
    with storage.session() as s:
        assert s.scalar(select(func.count()).select_from(BankProfile)) == 1
    with pytest.raises(NotFound):
        storage.save_bank_profile(
            "f" * 64, respuestas={}, banco_recomendado=None, banco_segunda_opcion=None, is_complete=False
        )


def test_escalation_lifecycle(storage: Storage) -> None:
    key = storage.upsert_applicant(3).user_key
    adv = storage.create_user("ana", password_hash="h", role="advisor")
    other = storage.create_user("beto", password_hash="h", role="advisor")
    esc, created = storage.create_escalation(key, reason="low_score")
    assert created and esc.status == "open"
    same, created2 = storage.create_escalation(key, reason="applicant_request")
    assert not created2 and same.id == esc.id  # one open case per applicant
    claimed = storage.claim_escalation(esc.id, adv.id)
    assert claimed is not None and claimed.status == "claimed" and claimed.advisor_id == adv.id
    assert storage.claim_escalation(esc.id, other.id) is None
    storage.add_escalation_note(esc.id, "Le llamo mañana", author_id=adv.id)
    assert storage.resolve_escalation(esc.id, other.id) is None  # not the claimer
    done = storage.resolve_escalation(esc.id, adv.id, resolution="Atendido")
    assert done is not None and done.status == "resolved" and done.resolved_at is not None
    assert [n.body for n in done.notes] == ["Le llamo mañana"]
    assert storage.resolve_escalation(esc.id, adv.id) is None
    with pytest.raises(NotFound):
        storage.claim_escalation(99999, adv.id)
    assert [e.id for e in storage.list_escalations(status="resolved")] == [esc.id]


def test_a_transaction_reads_its_applicant_once(storage: Storage) -> None:
    """The consent turn's transaction (find or create the applicant, then record the consent) selects the row
    once: each statement more is held under SQLite's write lock. An applicant deleted inside the transaction is
    not handed out again from what it holds."""
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *rest: object) -> None:
        statements.append(statement)

    key = "c" * 64
    event.listen(storage.engine, "before_cursor_execute", seen)
    try:
        with storage.transaction():
            storage.ensure_applicant(key)
            storage.record_consent(key, version="v1")
    finally:
        event.remove(storage.engine, "before_cursor_execute", seen)
    assert sum(s.lstrip().upper().startswith("SELECT") for s in statements) == 1
    view = storage.get_applicant(key)
    assert view is not None and view.consent_given and view.consent_version == "v1"
    with pytest.raises(NotFound), storage.transaction() as s:
        storage.ensure_applicant(key)
        s.delete(s.scalar(select(Applicant).where(Applicant.user_key == key)))
        s.flush()
        storage.record_consent(key, version="v2")


def test_a_new_escalation_reads_detached_as_the_stored_row(storage: Storage) -> None:
    """create_escalation returns its row without reading it back: every column and the notes must still read
    (outside the session) as a fresh read of the stored row does."""
    key = storage.upsert_applicant(4).user_key
    esc, created = storage.create_escalation(key, reason="revisar")
    stored = storage.get_escalation(esc.id)
    assert created and stored is not None
    columns = [c.key for c in Escalation.__table__.columns]
    assert {c: getattr(esc, c) for c in columns} == {c: getattr(stored, c) for c in columns}
    assert esc.notes == [] and esc.created_at.tzinfo is not None


def test_concurrent_claims_have_exactly_one_winner(storage: Storage) -> None:
    advisors = [storage.create_user(f"adv{i}", password_hash="h", role="advisor").id for i in range(8)]
    escs = [storage.create_escalation(f"{i:064x}", reason="revisar")[0].id for i in range(1, 11)]
    barrier = threading.Barrier(len(advisors))

    def race(adv_id: int) -> list[int]:
        barrier.wait()
        return [e for e in escs if storage.claim_escalation(e, adv_id) is not None]

    with ThreadPoolExecutor(len(advisors)) as pool:
        wins = list(pool.map(race, advisors))
    won = [e for w in wins for e in w]
    assert sorted(won) == sorted(escs)  # every escalation claimed exactly once


def test_claim_next_hands_out_each_open_escalation_once(storage: Storage) -> None:
    advisors = [storage.create_user(f"q{i}", password_hash="h", role="advisor").id for i in range(6)]
    escs = {storage.create_escalation(f"{i:064x}", reason="revisar")[0].id for i in range(1, 25)}
    barrier = threading.Barrier(len(advisors))

    def worker(adv_id: int) -> list[int]:
        barrier.wait()
        got = []
        while (e := storage.claim_next_escalation(adv_id)) is not None:
            got.append(e.id)
        return got

    with ThreadPoolExecutor(len(advisors)) as pool:
        results = list(pool.map(worker, advisors))
    flat = [e for r in results for e in r]
    assert len(flat) == len(set(flat)) and set(flat) == escs


def test_financing_request_is_idempotent_under_races(storage: Storage) -> None:
    key = storage.upsert_applicant(4).user_key
    barrier = threading.Barrier(6)

    def submit(_: int):
        barrier.wait()
        return storage.create_financing_request("idem-1", key, bank="bbva", contact={"email": "a@b.mx"})

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(submit, range(6)))
    assert len({fr.folio for fr, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    fr = results[0][0]
    assert fr.folio.startswith("AS-") and storage.financing_contact(fr) == {"email": "a@b.mx"}
    by_folio = storage.get_financing_request(fr.folio)
    assert by_folio is not None and by_folio.id == fr.id
    other, created = storage.create_financing_request("idem-2", key)
    assert created and other.folio != fr.folio


def test_erasure_removes_identity_and_unlinks_analytics(storage: Storage, tmp_path, result_factory) -> None:
    make_result = result_factory
    key = storage.upsert_applicant(5, chat_id=5).user_key
    storage.save_profile(key, name="Ana", phone="55")
    storage.save_bank_profile(key, respuestas={}, banco_recomendado="bbva", banco_segunda_opcion=None, is_complete=True)
    _, res = make_result()
    aid = storage.save_assessment(res, user_key=key)
    esc, _ = storage.create_escalation(key, reason="revisar", assessment_id=aid)
    storage.add_escalation_note(esc.id, "teléfono 55…")
    storage.create_financing_request("k", key, contact={"tel": "55"})
    sink = EventSink(storage.engine, SpoolOutbox(tmp_path / "spool"))
    sink.emit(FunnelEvent(name="BotStarted", user_key=key))
    sink.flush()
    other = storage.upsert_applicant(6).user_key
    storage.save_assessment(res, user_key=other)

    report = storage.erase_applicant(key)
    assert report.applicant_deleted and report.bank_profiles_deleted == 1
    assert storage.get_applicant(key) is None and storage.telegram_chat_id(key) is None
    with storage.session() as s:
        for model in (Assessment, Event, Escalation, FinancingRequest):
            assert s.scalar(select(func.count()).select_from(model).where(model.user_key == key)) == 0
        assert s.scalar(select(func.count()).select_from(Event).where(Event.user_key == report.tombstone)) == 1
        fr = s.scalar(select(FinancingRequest))
        assert fr.contact_enc is None
        assert s.scalar(text("SELECT count(*) FROM escalation_notes")) == 0
        assert s.get(Escalation, esc.id).status == "resolved"
        # the other applicant is untouched
        assert s.scalar(select(func.count()).select_from(Assessment).where(Assessment.user_key == other)) == 1


def test_users_crud_and_conflicts(storage: Storage) -> None:
    u = storage.create_user("admin", password_hash="$argon2…", role="admin", email="a@x.mx", telegram_user_id=77)
    with pytest.raises(Conflict):
        storage.create_user("admin", password_hash="h", role="analyst")
    with pytest.raises(ValueError):
        storage.create_user("x", password_hash="h", role="root")
    by_name, by_telegram_id = storage.get_user_by_username("admin"), storage.get_user_by_telegram(77)
    assert by_name is not None and by_name.id == u.id
    assert by_telegram_id is not None and by_telegram_id.id == u.id
    storage.create_user("ana", password_hash="h", role="analyst", email="b@x.mx")
    with pytest.raises(Conflict):
        storage.update_user(u.id, email="b@x.mx")
    upd = storage.update_user(u.id, is_active=False, role="analyst")
    assert (upd.is_active, upd.role) == (False, "analyst")
    assert [x.username for x in storage.list_users(role="analyst", active_only=True)] == ["ana"]
    with pytest.raises(ValueError):
        storage.update_user(u.id, username="nope")
    assert storage.delete_user(u.id) and storage.get_user(u.id) is None and storage.count_users() == 1


async def test_async_facade_runs_off_the_loop(storage: Storage) -> None:
    from storage.aio import AsyncStorage

    ast = AsyncStorage(storage)
    view = await ast.upsert_applicant(42, chat_id=42)
    assert view.user_key == ast.user_key(42)
    await ast.save_profile(view.user_key, name="Lupita")
    assert (await ast.get_applicant(view.user_key)).name == "Lupita"


def test_assessment_keeps_the_down_payment_and_the_pd_models_inputs(storage: Storage, result_factory) -> None:
    req, res = result_factory(answers=None)
    res["pd"]["features"] = {"credit_history": 2.0, "credit_amount": 7.9}
    aid = storage.save_assessment(res, request=req)
    got = storage.get_assessment(aid)
    assert got is not None
    assert got.down_payment == req["answers"]["enganche"]
    assert got.pd_features == {"credit_history": 2.0, "credit_amount": 7.9}
    _, old = result_factory()  # a result of an engine that did not record them
    got_old = storage.get_assessment(storage.save_assessment(old))
    assert got_old is not None and got_old.pd_features is None
