"""The advisors' work for their managers: cases per reason, time to first answer and to resolution (median and
p90), the service level, outcomes; JSON, CSV and the dashboard tile. Both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from storage.models import Escalation

pytestmark = pytest.mark.asyncio


def _cases(storage: Any) -> None:
    """Five cases opened an hour ago: first answers after 5, 10, 20 and 40 minutes (one never answered),
    three resolved after 30, 60 and 90 minutes."""
    opened = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    plan = [  # reason, first answer, resolved, outcome
        ("low_score,revisar", 5, 30, "contactado"),
        ("revisar", 10, 60, "solicitud_enviada"),
        ("applicant_request", 20, 90, "contactado"),
        ("low_score", 40, None, None),
        ("applicant_request", None, None, None),
    ]
    for i, (reason, first, done, outcome) in enumerate(plan):
        key = storage.upsert_applicant(telegram_id=950_000 + i).user_key
        esc, _ = storage.create_escalation(key, reason=reason)
        values: dict[str, Any] = {"created_at": opened}
        if first is not None:
            values.update(status="claimed", first_answer_at=opened + timedelta(minutes=first))
        if done is not None:
            values.update(status="resolved", resolved_at=opened + timedelta(minutes=done), outcome=outcome)
        with storage.session() as s:
            s.execute(update(Escalation).where(Escalation.id == esc.id).values(**values))


async def test_case_analytics(client: httpx.AsyncClient, staff: dict, storage: Any) -> None:
    _cases(storage)
    analyst = staff["analyst"].headers
    assert (await client.get("/v1/analytics/cases", headers=staff["advisor"].headers)).status_code == 403
    r = await client.get("/v1/analytics/cases", headers=analyst)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["cases"] == 5 and d["by_status"] == {"open": 1, "claimed": 1, "resolved": 3}
    # first answers 5, 10, 20, 40: median 15, p90 by linear interpolation 34; two of four within 15 minutes
    assert d["first_answer"] == {"cases": 4, "median_minutes": 15.0, "p90_minutes": 34.0, "within_target": 2,
                                 "within_target_rate": 0.5}  # fmt: skip
    assert d["resolution"] == {"cases": 3, "median_minutes": 60.0, "p90_minutes": 84.0}
    assert {r["reason"]: r["cases"] for r in d["reasons"]} == {"applicant_request": 2, "low_score": 2, "revisar": 2}
    assert {o["outcome"]: o["cases"] for o in d["outcomes"]} == {
        "contactado": 2, "solicitud_enviada": 1, "no_interesado": 0, "sin_respuesta": 0
    }  # fmt: skip
    assert d["target_minutes"] == 15

    csv = await client.get("/v1/analytics/cases", params={"format": "csv", "table": "reasons"}, headers=analyst)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "reason,cases,label" and "el cliente pidió un asesor" in csv.text
    times = await client.get("/v1/analytics/cases", params={"format": "csv"}, headers=analyst)
    assert times.text.splitlines()[1].startswith("first_answer,4,15.0,34.0")

    r = await client.get("/dashboard", headers={"Cookie": f"asesor_session={staff['analyst'].token}"})
    assert r.status_code == 200 and 'id="casos"' in r.text
    assert 'id="casos-total">5<' in r.text and "15.0 min" in r.text and 'id="casos-objetivo">50 %<' in r.text
    assert "/v1/analytics/cases?" in r.text and "table=outcomes" in r.text
