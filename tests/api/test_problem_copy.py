"""The API's problem+json speaks the operator copy of core/copy_es.py, and that copy lives only there (#18)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from api.errors import problem_responses
from core import copy_es as copy
from tests.samples import sample_profile

ROOT = Path(__file__).resolve().parents[2]


async def test_titles_and_field_messages_come_from_the_copy(client: httpx.AsyncClient, staff: Any) -> None:
    r = await client.get("/no/existe")
    assert r.status_code == 404 and r.json()["title"] == copy.PROBLEM_TITLES[404]
    r = await client.post("/v1/assessments", json={})
    assert r.status_code == 401 and r.json()["title"] == copy.PROBLEM_TITLES[401]
    r = await client.post("/v1/assessments", json={"answers": {}}, headers=staff["advisor"].headers)
    body = r.json()
    assert r.status_code == 422 and body["title"] == copy.PROBLEM_TITLES[422]
    assert {e["message"] for e in body["errors"]} == {copy.FIELD_MESSAGES["missing"]}


async def test_policy_checks_are_said_in_spanish(client: httpx.AsyncClient, staff: Any) -> None:
    bad = sample_profile()
    bad["answers"]["enganche"] = "zz"
    r = await client.post("/v1/assessments", json=bad, headers=staff["advisor"].headers)
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert error["field"] == "answers.enganche" and error["message"].startswith("Código desconocido 'zz'")


def test_the_openapi_responses_use_the_same_titles() -> None:
    described = problem_responses(*copy.PROBLEM_TITLES)
    assert {s: d["description"] for s, d in described.items()} == copy.PROBLEM_TITLES


def test_no_adapter_keeps_a_copy_of_the_titles() -> None:
    """One place of copy: a title written again in api/ or cli/ could drift from core/copy_es.py."""
    copies = [
        f"{path.relative_to(ROOT)}: {title}"
        for path in [*(ROOT / "api").rglob("*.py"), *(ROOT / "cli").rglob("*.py")]
        for title in copy.PROBLEM_TITLES.values()
        if f'"{title}"' in path.read_text(encoding="utf-8")
    ]
    assert not copies
