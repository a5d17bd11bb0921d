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
    rows: list[dict] = []
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
        funnel_data.funnel_by_period(unit="month")  # type: ignore[arg-type]  # not a unit it takes: refused


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


def test_time_per_step_median_p90_and_drop_off(funnel_data: Analytics) -> None:
    """Each step is timed from the previous step (the first QuestionAnswered from the profile, the next from the
    question before): medians and p90 as percentile_cont, over the applicants who reached both."""
    rows = {(r["event"], r["step"]): r for r in funnel_data.step_times()}
    assert list(rows) == funnel_data.funnel_steps()
    start = rows[("BotStarted", None)]
    assert start["users"] == 6 and start["drop_off"] is None and start["median_seconds"] is None
    consent = rows[("ConsentGiven", None)]
    assert (consent["timed"], consent["median_seconds"], consent["p90_seconds"]) == (5, 5.0, 5.0)
    assert consent["drop_off"] == 1 and consent["drop_off_rate"] == pytest.approx(1 / 6, abs=1e-6)
    first_q = rows[("QuestionAnswered", QUESTIONS[0])]
    assert (first_q["timed"], first_q["median_seconds"]) == (4, 10.0)  # 30 s after start, profile at 20 s
    fourth_q = rows[("QuestionAnswered", QUESTIONS[3])]
    assert fourth_q["users"] == 3 and fourth_q["drop_off"] == 1 and fourth_q["median_seconds"] == 1.0
    complete = rows[("PerfilacionBancariaComplete", None)]
    # last answer at 37 s; completed at 600, 300 and 1200 s -> 563, 263, 1163
    assert complete["timed"] == 3 and complete["median_seconds"] == pytest.approx(563.0)
    assert complete["p90_seconds"] == pytest.approx(563 + 0.8 * (1163 - 563))
    assert rows[("FinancingRequestSubmitted", None)]["timed"] == 1
    week = {(r["event"], r["step"]): r for r in funnel_data.step_times(Filters(start=T0, end=T0 + timedelta(days=7)))}
    assert week[("PerfilacionBancariaComplete", None)]["median_seconds"] == pytest.approx((263 + 563) / 2)


def _outcome(i: int, *, month: int | None, defaulted: bool, pd: float | None, bank: str, income: str) -> LoanOutcome:
    return LoanOutcome(
        source="asesor",
        row_hash=f"{i:064x}",
        defaulted=defaulted,
        predicted_pd=pd,
        originated_at=None if month is None else datetime(2026, month, 3 + i % 20, 15, tzinfo=UTC),
        recommended_bank=bank,
        income_band=income,
        features={},
    )


def test_delinquency_by_cohort_and_segment_beside_the_predicted_pd(storage: Storage) -> None:
    spec = [  # (month, defaulted, predicted pd, bank, income band)
        (3, True, 0.20, "bbva", "15k_20k"),
        (3, False, 0.10, "bbva", "15k_20k"),
        (3, False, 0.10, "banorte", "mas_30k"),
        (3, True, None, "banorte", "mas_30k"),
        (4, False, 0.05, "bbva", "mas_30k"),
        (4, False, 0.05, "bbva", "mas_30k"),
        (4, True, 0.30, "banorte", "15k_20k"),
        (None, False, None, "bbva", "15k_20k"),
    ]
    with storage.session() as s:
        s.add_all(
            [_outcome(i, month=m, defaulted=d, pd=p, bank=b, income=inc) for i, (m, d, p, b, inc) in enumerate(spec)]
        )
    an = Analytics(storage.engine)
    by_month = an.delinquency(by="cohort_month")
    assert [r["segment"] for r in by_month["rows"]] == ["2026-03-01", "2026-04-01", None]  # no date last
    march = by_month["rows"][0]
    assert (march["loans"], march["defaults"], march["default_rate"]) == (4, 2, 0.5)
    assert march["with_prediction"] == 3 and march["predicted_pd"] == pytest.approx(0.4 / 3, abs=1e-6)
    assert march["defaults_with_prediction"] == 1 and march["actual_to_expected"] == pytest.approx(1 / 0.4, abs=1e-4)
    # Wilson 95 % of 2/4, by hand: centre (0.5 + z²/8) / (1 + z²/4), half z·sqrt(1/16 + z²/64) / (1 + z²/4)
    z = 1.959964
    centre, half = (0.5 + z * z / 8) / (1 + z * z / 4), z * (1 / 16 + z * z / 64) ** 0.5 / (1 + z * z / 4)
    assert march["ci_low"] == pytest.approx(centre - half, abs=1e-6)
    assert march["ci_high"] == pytest.approx(centre + half, abs=1e-6)
    total = by_month["total"]
    assert (total["loans"], total["defaults"], total["with_prediction"]) == (8, 3, 6)
    assert total["expected_defaults"] == pytest.approx(0.8) and total["actual_to_expected"] == pytest.approx(2 / 0.8)
    by_bank = {r["segment"]: r for r in an.delinquency(by="recommended_bank")["rows"]}
    assert [*by_bank] == ["bbva", "banorte"]  # the policy's bank order
    assert by_bank["banorte"]["default_rate"] == pytest.approx(2 / 3, abs=1e-6)
    by_income = [r["segment"] for r in an.delinquency(by="income_band")["rows"]]
    assert by_income == ["15k_20k", "mas_30k"]  # the policy's answer order
    april = an.delinquency(by="income_band", f=Filters(start=datetime(2026, 4, 1, tzinfo=UTC)))["total"]
    assert april["loans"] == 3  # the period filters the origination date
    assert an.delinquency(by="tenure", source="german")["rows"] == []
    with pytest.raises(ValueError):
        an.delinquency(by="decision")


def test_population_counts_bin_the_recorded_inputs_and_the_score(storage: Storage, result_factory) -> None:
    reference = {
        "credit_history": {"name": "credit_history", "shares": [0.5, 0.3, 0.2], "edges": [0.0, 1.0]},
        "score": {"name": "score", "shares": [0.5, 0.5], "edges": [600.0]},
    }
    rows = []
    for i, (hist, pd_) in enumerate([(0, 0.02), (1, 0.3), (2, 0.5), (4, 0.6), (0, 0.01)]):
        _, res = result_factory(pd=pd_)
        res["pd"]["features"] = {"credit_history": float(hist), "age": 30.0}
        rows.append(Storage.assessment_row(res, created_at=T0 + timedelta(hours=i)))
    _, old = result_factory(pd=0.2)  # stored before the inputs were recorded
    rows.append(Storage.assessment_row(old, created_at=T0))
    _, other = result_factory(pd=0.2)
    other["pd"]["features"], other["model_version"] = {"credit_history": 0.0}, "applicant-other"
    rows.append(Storage.assessment_row(other, created_at=T0))
    with storage.session() as s:
        from storage.models import Assessment

        s.add_all([Assessment(**r) for r in rows])
    an = Analytics(storage.engine)
    got = an.population_counts(reference, model_version="applicant-test")
    assert got["assessments"] == 5 and got["without_features"] == 1
    assert got["counts"]["credit_history"] == [2, 1, 2]  # ranks 0, 0 | 1 | 2, 4
    scores = [r["credit_score"] for r in rows[:5]]
    assert got["counts"]["score"] == [sum(x <= 600 for x in scores), sum(x > 600 for x in scores)]
    assert an.population_counts(reference)["assessments"] == 6  # every model
    late = an.population_counts(reference, Filters(start=T0 + timedelta(hours=3)), model_version="applicant-test")
    assert late["counts"]["credit_history"] == [1, 0, 1]


def test_strategy_segments_by_payroll_income_and_down_payment(portfolio) -> None:
    an, rows = portfolio
    dims = ("payroll_bank", "income_band", "down_payment")
    got = {tuple(s[d] for d in dims): s for s in an.strategy_segments(dimensions=dims)}
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r[d] for d in dims), []).append(r)
    assert set(got) == set(groups)
    banks = list(default_policy().banks)
    for key, g in groups.items():
        s = got[key]
        assert s["applicants"] == len(g)
        assert s["approval_rate"] == pytest.approx(sum(r["decision"] == "aprobado" for r in g) / len(g), abs=1e-6)
        assert s["review_rate"] == pytest.approx(sum(r["decision"] == "revisar" for r in g) / len(g), abs=1e-6)
        assert s["mean_pd"] == pytest.approx(statistics.mean(r["pd"] for r in g), abs=1e-5)
        expected_el = sum(r["expected_loss"] for r in g) / len(g)
        assert s["expected_loss_per_applicant"] == pytest.approx(expected_el, abs=0.01)
        counts = {b: sum(r["recommended_bank"] == b for r in g) for b in banks}
        best = max(banks, key=lambda b: (counts[b], -banks.index(b)))
        assert s["top_bank"] == best and s["top_bank_share"] == pytest.approx(counts[best] / len(g), abs=1e-6)
    with pytest.raises(ValueError):
        an.strategy_segments(dimensions=("payroll_bank", "name"))
