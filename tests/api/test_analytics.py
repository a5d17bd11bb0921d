"""Analytics over real stored data: JSON and CSV agree, filters and periods apply, no personal data."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import seed_analytics, seed_funnel

pytestmark = pytest.mark.asyncio


async def test_funnel_json_and_csv(client: httpx.AsyncClient, staff: dict, storage: Any, assessor: Any) -> None:
    seed_funnel(storage, assessor)
    h = staff["analyst"].headers
    r = await client.get("/v1/analytics/funnel", headers=h)
    assert r.status_code == 200
    steps = {(s["event"], s["step"]): s for s in r.json()}
    assert steps[("BotStarted", None)]["users"] == 3
    assert steps[("ProfileCompleted", None)]["users"] == 2
    assert steps[("HandoffOpened", None)]["users"] == 1
    assert steps[("ConsentGiven", None)]["drop_off"] == 0

    c = await client.get("/v1/analytics/funnel", params={"format": "csv"}, headers=h)
    assert c.status_code == 200 and c.headers["content-type"].startswith("text/csv")
    assert "attachment" in c.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(c.text)))
    assert [int(row["users"]) for row in rows] == [s["users"] for s in r.json()]
    same = await client.get("/v1/analytics/funnel", headers={**h, "accept": "text/csv"})
    assert same.text == c.text


async def test_portfolio_reports(client: httpx.AsyncClient, staff: dict, storage: Any, assessor: Any) -> None:
    results = seed_funnel(storage, assessor)
    h = staff["analyst"].headers
    dec = (await client.get("/v1/analytics/decisions", headers=h)).json()
    assert dec["total"] == 3
    expected: dict[str, int] = {}
    for res in results:
        expected[res.expert.decision] = expected.get(res.expert.decision, 0) + 1
    assert dec["by_decision"] == expected

    pd = (await client.get("/v1/analytics/distributions/pd", params={"bins": 10}, headers=h)).json()
    assert pd["count"] == 3 and sum(b["count"] for b in pd["histogram"]) == 3 and len(pd["histogram"]) == 10
    loss = (await client.get("/v1/analytics/expected-loss", headers=h)).json()
    pipeline = [r for r in results if r.expert.decision in loss["decisions"]]
    assert loss["assessments"] == len(pipeline)
    seg = (await client.get("/v1/analytics/segments", params={"by": "income_band"}, headers=h)).json()
    assert {s["segment"]: s["assessments"] for s in seg} == {"20k_30k": 2, "menos_15k_comprobado": 1}
    banks = (await client.get("/v1/analytics/banks", headers=h)).json()
    assert sum(b["assessments"] for b in banks) == 3
    for path in (
        "/v1/analytics/funnel/periods",
        "/v1/analytics/funnel/time-to-complete",
        "/v1/analytics/default-rates",
    ):
        assert (await client.get(path, headers=h)).status_code == 200
    csv_loss = await client.get("/v1/analytics/expected-loss", params={"format": "csv"}, headers=h)
    assert csv_loss.text.splitlines()[0].startswith("bank,")
    # nothing personal leaks into any report
    for path in ("/v1/analytics/funnel", "/v1/analytics/segments", "/v1/analytics/banks"):
        body = (await client.get(path, headers=h)).text
        assert "Persona" not in body and "5511111111" not in body


async def test_filters_and_periods(client: httpx.AsyncClient, staff: dict, storage: Any, assessor: Any) -> None:
    seed_funnel(storage, assessor)
    h = staff["analyst"].headers
    old = (datetime.now(UTC) - timedelta(days=400)).date().isoformat()
    r = await client.get("/v1/analytics/decisions", params={"desde": old, "hasta": old}, headers=h)
    assert r.json()["total"] == 0
    r = await client.get("/v1/analytics/decisions", params={"income_band": "menos_15k_comprobado"}, headers=h)
    assert r.json()["total"] == 1
    bad = await client.get("/v1/analytics/decisions", params={"bank": "banco_x", "decision": "quizas"}, headers=h)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"bank", "decision"}
    swapped = await client.get("/v1/analytics/funnel", params={"desde": "2026-02-01", "hasta": "2026-01-01"}, headers=h)
    assert swapped.status_code == 422 and swapped.json()["errors"][0]["field"] == "desde"


async def test_time_per_step_json_and_csv(
    client: httpx.AsyncClient, staff: dict, storage: Any, assessor: Any, tmp_path: Any
) -> None:
    seed_analytics(storage, assessor, tmp_path)
    h = staff["analyst"].headers
    rows = (await client.get("/v1/analytics/funnel/steps", headers=h)).json()
    by = {(r["event"], r["step"]): r for r in rows}
    first = by[("QuestionAnswered", "trabajo_tiempo")]  # the 4th step: 13 s after the profile (26 s if slow)
    assert first["users"] == 36 and first["median_seconds"] == 13.0 and first["p90_seconds"] == 26.0
    fourth = by[("QuestionAnswered", "creditos_vigentes")]
    assert fourth["users"] == 32 and fourth["drop_off"] == 4  # every ninth applicant stopped before it
    assert by[("HandoffOpened", None)]["users"] == 16
    c = await client.get("/v1/analytics/funnel/steps", params={"format": "csv"}, headers=h)
    table = list(csv.DictReader(io.StringIO(c.text)))
    assert [float(r["median_seconds"]) if r["median_seconds"] else None for r in table] == [
        r["median_seconds"] for r in rows
    ]


async def test_delinquency_json_and_csv(
    client: httpx.AsyncClient, staff: dict, storage: Any, assessor: Any, tmp_path: Any
) -> None:
    seeded = seed_analytics(storage, assessor, tmp_path)
    h = staff["analyst"].headers
    r = await client.get("/v1/analytics/delinquency", headers=h)
    assert r.status_code == 200
    body = r.json()
    loans = seeded.outcomes
    assert body["total"]["loans"] == len(loans) == body["total"]["with_prediction"]  # every loan is linked
    assert body["total"]["defaults"] == sum(o["incumplimiento"] for o in loans)
    pds = {aid: res.pd.probability for aid, res in zip(seeded.assessment_ids, seeded.results, strict=True)}
    expected = sum(pds[o["assessment_id"]] for o in loans)
    assert body["total"]["expected_defaults"] == pytest.approx(expected, abs=1e-3)
    assert [row["segment"] for row in body["rows"]] == ["2026-01-01", "2026-02-01", "2026-03-01"]
    by_bank = (await client.get("/v1/analytics/delinquency", params={"by": "recommended_bank"}, headers=h)).json()
    banks: dict[str, int] = {}
    for o in loans:
        bank = seeded.results[seeded.assessment_ids.index(o["assessment_id"])].bank_fit.recommended
        banks[bank] = banks.get(bank, 0) + 1
    assert {row["segment"]: row["loans"] for row in by_bank["rows"]} == banks
    c = await client.get("/v1/analytics/delinquency", params={"format": "csv", "by": "income_band"}, headers=h)
    table = list(csv.DictReader(io.StringIO(c.text)))
    assert table[-1]["segment"] == "total" and int(table[-1]["loans"]) == len(loans)
    # a period filters the origination date; without one every cohort counts
    feb = {"desde": "2026-02-01", "hasta": "2026-02-28"}
    only = (await client.get("/v1/analytics/delinquency", params=feb, headers=h)).json()
    assert [row["segment"] for row in only["rows"]] == ["2026-02-01"]
    bad = await client.get("/v1/analytics/delinquency", params={"by": "decision"}, headers=h)
    assert bad.status_code == 422
    assert (await client.get("/v1/analytics/delinquency", headers=staff["advisor"].headers)).status_code == 403


async def test_segment_strategies_json_and_csv_with_the_policys_rules(
    storage: Any, assessor: Any, tmp_path: Any, password_hash: str
) -> None:
    """The ranked segments carry the action of the policy file's first rule that holds; an analyst's policy
    (here: segments of 2 or more, a rule per payroll bank) changes the suggestions without a code change."""
    from pathlib import Path

    from api.main import create_app
    from api.security import create_access_token
    from engine.policy import load_policy
    from engine.strategies import suggest
    from tests.api.conftest import make_settings, shared_assessor

    seed_analytics(storage, assessor, tmp_path)
    shipped = (Path(__file__).resolve().parents[2] / "engine/policy/default.toml").read_text(encoding="utf-8")
    mine = tmp_path / "politica.toml"
    mine.write_text(
        shipped.replace("min_applicants = 20", "min_applicants = 2")
        + '\n[[strategies.rules]]\naction = "route_to_advisor"\nlabel = "Asesor para nómina {bank}"\n'
        'when = { payroll_bank = ["otro"] }\n',
        encoding="utf-8",
    )
    settings = make_settings(storage.engine.url.render_as_string(hide_password=False), tmp_path, ASESOR_POLICY=mine)
    app = create_app(settings, storage=storage, assessor_factory=shared_assessor)
    user = storage.create_user("analista", password_hash=password_hash, role="analyst")
    h = {"Authorization": f"Bearer {create_access_token(settings, subject=str(user.id), role=user.role)}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        body = (await client.get("/v1/analytics/strategies", headers=h)).json()
        assert body["dimensions"] == ["payroll_bank", "income_band", "down_payment"] and body["min_applicants"] == 2
        segments = body["segments"]
        assert sum(s["applicants"] for s in segments) == 32 and [s["rank"] for s in segments] == list(
            range(1, len(segments) + 1)
        )
        policy = load_policy(mine)
        for s in segments:
            figures = {k: v for k, v in s.items() if k not in ("suggestion", "rank")}
            want = suggest(figures, policy)
            assert (s["suggestion"]["action"], s["suggestion"]["rule"]) == (want["action"], want["rule"])
        big = [s for s in segments if s["applicants"] >= 2]
        assert big and [s["approval_rate"] for s in big] == sorted((s["approval_rate"] for s in big), reverse=True)
        # the analyst's own rule (the last one) fires for payroll "otro" where no earlier rule does
        assert any(s["suggestion"]["rule"] == 5 and s["payroll_bank"] == "otro" for s in segments)
        c = await client.get("/v1/analytics/strategies", params={"format": "csv"}, headers=h)
        rows = list(csv.DictReader(io.StringIO(c.text)))
        assert [r["suggestion"] for r in rows] == [s["suggestion"]["label"] for s in segments]
        assert rows[0].keys() >= {"payroll_bank", "income_band", "down_payment", "applicants", "action", "rank"}
