"""Analytics queries on SQLite and PostgreSQL against a small data set whose answers are computed by hand
(or by plain Python over the same rows), never by the code under test."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from engine.policy import default_policy
from storage.analytics import Analytics, Filters
from storage.events import insert_events
from storage.models import LoanOutcome
from storage.repositories import Storage

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
QUESTIONS = list(default_policy().answers)


def _key(i: int) -> str:
    return f"{i:064x}"


def _dialog(user: int, start: datetime, *, questions: int, until: str | None, seconds_to_complete: float = 600):
    """Events of one applicant: start, consent, profile, `questions` answers, then the tail up to `until`."""
    rows = []
    t = start

    def ev(name: str, step: str | None = None, at: datetime | None = None) -> None:
        rows.append(
            {
                "id": f"{user}-{len(rows)}",
                "user_key": _key(user),
                "name": name,
                "step": step,
                "occurred_at": at or t,
                "properties": {},
                "policy_version": "p",
                "model_version": "m",
            }
        )

    ev("BotStarted")
    ev("ConsentGiven", at=start + timedelta(seconds=5))
    ev("ProfileCompleted", at=start + timedelta(seconds=20))
    for i, q in enumerate(QUESTIONS[:questions]):
        ev("QuestionAnswered", q, at=start + timedelta(seconds=30 + i))
    tail = ["PerfilacionBancariaComplete", "ResultShown", "HandoffOpened", "FinancingRequestSubmitted"]
    if until:
        for j, name in enumerate(tail[: tail.index(until) + 1]):
            ev(name, at=start + timedelta(seconds=seconds_to_complete + j))
    return rows


@pytest.fixture
def funnel_data(storage: Storage) -> Analytics:
    rows = []
    rows += _dialog(1, T0, questions=8, until="FinancingRequestSubmitted", seconds_to_complete=600)
    rows += _dialog(2, T0 + timedelta(hours=1), questions=3, until=None)
    rows += _dialog(3, T0 + timedelta(hours=2), questions=0, until=None)[:2]  # start + consent only
    rows += _dialog(4, T0 + timedelta(days=1), questions=8, until="ResultShown", seconds_to_complete=300)
    rows += _dialog(5, T0 + timedelta(days=1), questions=0, until=None)[:1]  # start only
    rows += _dialog(6, T0 + timedelta(days=8), questions=8, until="HandoffOpened", seconds_to_complete=1200)
    # user 1 edits an answer: a second QuestionAnswered for the same step must not count twice
    rows.append({**rows[5], "id": "1-dup", "occurred_at": T0 + timedelta(seconds=900)})
    insert_events(storage.engine, rows)
    return Analytics(storage.engine)


def test_funnel_counts_distinct_applicants_per_step(funnel_data: Analytics) -> None:
    funnel = funnel_data.funnel()
    users = {(r["event"], r["step"]): r["users"] for r in funnel}
    assert len(funnel) == 3 + 8 + 4  # the 8 questions are steps of their own
    assert users[("BotStarted", None)] == 6
    assert users[("ConsentGiven", None)] == 5
    assert users[("ProfileCompleted", None)] == 4
    assert users[("QuestionAnswered", QUESTIONS[0])] == 4  # users 1, 2, 4, 6
    assert users[("QuestionAnswered", QUESTIONS[3])] == 3  # user 2 stopped after 3 questions
    assert users[("PerfilacionBancariaComplete", None)] == 3
    assert users[("HandoffOpened", None)] == 2
    assert users[("FinancingRequestSubmitted", None)] == 1
    consent = next(r for r in funnel if r["event"] == "ConsentGiven")
    assert consent["conversion_from_previous"] == pytest.approx(5 / 6, abs=1e-6) and consent["drop_off"] == 1
    last = funnel[-1]
    assert last["conversion_from_start"] == pytest.approx(1 / 6, abs=1e-6) and last["conversion_from_previous"] == 0.5


def test_funnel_period_filter_and_series(funnel_data: Analytics) -> None:
    first_week = Filters(start=T0, end=T0 + timedelta(days=7))
    users = {(r["event"], r["step"]): r["users"] for r in funnel_data.funnel(first_week)}
    assert users[("BotStarted", None)] == 5 and users[("HandoffOpened", None)] == 1
    daily = funnel_data.funnel_by_period(unit="day")
    started = {r["period"]: r["users"] for r in daily if r["event"] == "BotStarted"}
    assert started == {"2026-11-02": 3, "2026-11-03": 2, "2026-11-10": 1}
    weekly = funnel_data.funnel_by_period(unit="week")
    started_w = {r["period"]: r["users"] for r in weekly if r["event"] == "BotStarted"}
    assert started_w == {"2026-11-02": 5, "2026-11-09": 1}  # ISO weeks start on Monday
    with pytest.raises(ValueError):
        funnel_data.funnel_by_period(unit="month")  # type: ignore[arg-type]


def test_median_time_to_complete(funnel_data: Analytics) -> None:
    t = funnel_data.time_to_complete()
    assert t["completed"] == 3
    assert t["median_seconds"] == pytest.approx(600.0)  # of 300, 600, 1200
    assert t["mean_seconds"] == pytest.approx(700.0)
    assert t["p90_seconds"] == pytest.approx(1080.0)  # percentile_cont: 600 + 0.8 × (1200 − 600)
    first_week = funnel_data.time_to_complete(Filters(start=T0, end=T0 + timedelta(days=7)))
    assert first_week["median_seconds"] == pytest.approx(450.0)  # mean of the middle pair 300 and 600


@pytest.fixture
def portfolio(storage: Storage, result_factory):
    rng = random.Random(11)
    rows = []
    for i in range(120):
        decision = rng.choice(["aprobado", "aprobado", "rechazado", "revisar"])
        pd_ = round(rng.uniform(0.0, 0.999), 4)
        bank = rng.choice(["bbva", "banorte", "hey_banco"])
        requested = float(rng.choice([100_000, 250_000, 400_000]))
        req, res = result_factory(rng, decision=decision, pd=pd_, recommended=bank, requested=requested)
        created = T0 + timedelta(days=i % 14, minutes=i)
        row = Storage.assessment_row(res, user_key=_key(1000 + i % 40), request=req, created_at=created)
        rows.append(row)
    with storage.session() as s:
        from storage.models import Assessment

        s.add_all([Assessment(**r) for r in rows])
    return Analytics(storage.engine), rows


def test_decisions_and_approval_rate(portfolio) -> None:
    an, rows = portfolio
    d = an.decisions(unit="week")
    expected = {k: sum(r["decision"] == k for r in rows) for k in ("aprobado", "rechazado", "revisar")}
    assert d["by_decision"] == {k: v for k, v in expected.items() if v}
    assert d["approval_rate"] == pytest.approx(expected["aprobado"] / len(rows), abs=1e-6)
    assert [s["period"] for s in d["series"]] == ["2026-11-02", "2026-11-09"]
    assert sum(s["assessments"] for s in d["series"]) == len(rows)
    only_bbva = an.decisions(Filters(bank="bbva"))
    assert only_bbva["total"] == sum(r["recommended_bank"] == "bbva" for r in rows)


def test_pd_and_score_distributions(portfolio) -> None:
    an, rows = portfolio
    hist = an.pd_distribution(bins=10)["histogram"]
    expected = [0] * 10
    for r in rows:
        expected[min(int(r["pd"] * 10), 9)] += 1
    assert [h["count"] for h in hist] == expected
    scores = an.score_distribution(width=100)
    assert sum(h["count"] for h in scores["histogram"]) == len(rows)
    assert scores["mean"] == pytest.approx(statistics.mean(r["credit_score"] for r in rows), abs=1e-3)
    top = sum(1 for r in rows if r["credit_score"] >= 900)
    assert scores["histogram"][-1]["count"] == top


def test_expected_loss_of_the_pipeline_sums_the_stored_figures(portfolio) -> None:
    an, rows = portfolio
    pipe = [r for r in rows if r["decision"] in ("aprobado", "revisar")]
    expected = sum(r["expected_loss"] for r in pipe)
    el = an.expected_loss()
    assert el["lgd"] == pytest.approx(0.45) and el["ead_factor"] == pytest.approx(1.0)
    assert el["assumptions"]["auto"]["source"] == default_policy().product.source
    assert el["assessments"] == len(pipe)
    assert el["expected_loss"] == pytest.approx(expected, abs=0.05)
    assert sum(b["expected_loss"] for b in el["by_bank"]) == pytest.approx(expected, abs=0.5)
    # the stored per-assessment figure (computed by the engine) agrees with the policy's LGD here
    assert "rechazado" not in el["by_decision"]


def test_segments_by_income_band_tenure_payroll_and_bank(portfolio) -> None:
    an, rows = portfolio
    for by in ("income_band", "tenure", "payroll_bank", "recommended_bank"):
        seg = {s["segment"]: s for s in an.segments(by=by)}
        groups: dict[str, list[dict]] = {}
        for r in rows:
            groups.setdefault(r[by], []).append(r)
        assert set(seg) == set(groups)
        for k, g in groups.items():
            assert seg[k]["assessments"] == len(g)
            approved = sum(r["decision"] == "aprobado" for r in g)
            assert seg[k]["approval_rate"] == pytest.approx(approved / len(g), abs=1e-6)
            assert seg[k]["mean_pd"] == pytest.approx(statistics.mean(r["pd"] for r in g), abs=1e-5)
    with pytest.raises(ValueError):
        an.segments(by="name; DROP TABLE events")


def test_funnel_by_bank_joins_assessments_and_events(storage: Storage, funnel_data: Analytics, result_factory) -> None:
    for user, bank in ((1, "bbva"), (4, "bbva"), (6, "banorte"), (2, "banorte")):
        _, res = result_factory(recommended=bank)
        storage.save_assessment(res, user_key=_key(user))
    by_bank = {r["bank"]: r for r in funnel_data.funnel_by_bank()}
    assert by_bank["bbva"]["applicants"] == 2 and by_bank["bbva"]["handoff_opened"] == 1
    assert by_bank["bbva"]["financing_requested"] == 1
    assert by_bank["banorte"]["handoff_opened"] == 1 and by_bank["banorte"]["financing_requested"] == 0
    # the bank filter restricts the funnel to the applicants recommended that bank
    users = {(r["event"], r["step"]): r["users"] for r in funnel_data.funnel(Filters(bank="banorte"))}
    assert users[("BotStarted", None)] == 2 and users[("HandoffOpened", None)] == 1


def test_default_rates_by_segment(storage: Storage) -> None:
    rows = [
        ("german", 22, "6m_1a", True),
        ("german", 30, "mas_2a", False),
        ("german", 33, "mas_2a", True),
        ("german", 50, "mas_2a", False),
        ("taiwan", 60, None, True),
        ("taiwan", 24, None, False),
    ]
    with storage.session() as s:
        s.add_all(
            [
                LoanOutcome(source=src, row_hash=f"{i:064x}", age=age, tenure=ten, defaulted=d, features={})
                for i, (src, age, ten, d) in enumerate(rows)
            ]
        )
    an = Analytics(storage.engine)
    by_source = {r["segment"]: r for r in an.default_rates(by="source")}
    assert by_source["german"]["default_rate"] == 0.5 and by_source["taiwan"]["clients"] == 2
    by_age = {r["segment"]: r["default_rate"] for r in an.default_rates(by="age_band")}
    assert by_age == {"18-24": 0.5, "25-34": 0.5, "45-54": 0.0, "55+": 1.0}
    by_tenure = {r["segment"]: r["clients"] for r in an.default_rates(by="tenure", source="german")}
    assert by_tenure == {"6m_1a": 1, "mas_2a": 3}
