"""POST /v1/assessments runs the real engine and stores the result; reads and the Turtle graph."""

from __future__ import annotations

import copy
import re
from typing import Any

import httpx
import pytest

from tests.api.conftest import PROFILE

pytestmark = pytest.mark.asyncio


async def test_assess_store_and_read_back(client: httpx.AsyncClient, staff: dict, assessor: Any) -> None:
    body = copy.deepcopy(PROFILE)
    body["applicant"]["name"] = "Ana López"
    r = await client.post("/v1/assessments", json=body, headers=staff["advisor"].headers)
    assert r.status_code == 201, r.text
    out = r.json()
    # the SPEC §7 contract, the same numbers as the engine in-process, plus the stored id
    expected = assessor.assess(body).model_dump(mode="json")
    for key in ("bank_fit", "pd", "credit_score", "fuzzy", "expert", "policy_version"):
        assert out[key] == expected[key]
    assert r.headers["location"] == f"/v1/assessments/{out['id']}"

    got = await client.get(f"/v1/assessments/{out['id']}", headers=staff["advisor"].headers)
    assert got.status_code == 200
    stored = got.json()
    assert stored["expert"] == out["expert"] and stored["created_at"] == out["created_at"]
    assert stored["ontology"]["facts"]["name"] == ""  # the name is never stored in clear


async def test_graph_export_is_the_inferred_turtle(client: httpx.AsyncClient, staff: dict) -> None:
    r = await client.post("/v1/assessments", json=PROFILE, headers=staff["analyst"].headers)
    assert r.status_code == 201
    aid = r.json()["id"]
    assert (await client.get(f"/v1/assessments/{aid}/graph.ttl", headers=staff["analyst"].headers)).status_code == 403
    g = await client.get(f"/v1/assessments/{aid}/graph.ttl", headers=staff["advisor"].headers)
    assert g.status_code == 200 and g.headers["content-type"].startswith("text/turtle")
    import rdflib

    graph = rdflib.Graph().parse(data=g.text, format="turtle")
    # the same closure the assessment used: its header's counts are the result's, and every triple is there
    # except the generalized ones (literal subjects) that Turtle cannot express
    onto = r.json()["ontology"]
    m = re.search(r"asserted triples: (\d+); inferred triples: (\d+); omitted here: (\d+)", g.text)
    assert m is not None and (int(m.group(1)), int(m.group(2))) == (onto["asserted_triples"], onto["inferred_triples"])
    assert len(graph) + int(m.group(3)) == onto["asserted_triples"] + onto["inferred_triples"]
    assert onto["inferred_triples"] > 0


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["answers"].update(enganche="todo"), "answers.enganche"),
        (lambda b: b["answers"].pop("ingreso_mensual"), "answers.ingreso_mensual"),
        (lambda b: b["loan"].update(vehicle_price=-5), "loan.vehicle_price"),
        (lambda b: b["loan"].update(term_months=600), "loan.term_months"),
        (lambda b: b["applicant"].update(birth_year=1800), "applicant.birth_year"),
        (lambda b: b.update(extra=1), "extra"),
    ],
)
async def test_invalid_input_names_the_field(client: httpx.AsyncClient, staff: dict, mutate, field: str) -> None:
    body = copy.deepcopy(PROFILE)
    mutate(body)
    r = await client.post("/v1/assessments", json=body, headers=staff["advisor"].headers)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert field in [e["field"] for e in problem["errors"]]
    assert field in problem["detail"]


async def test_malformed_json_is_a_problem(client: httpx.AsyncClient, staff: dict) -> None:
    r = await client.post(
        "/v1/assessments",
        content=b'{"answers": ',
        headers={**staff["advisor"].headers, "content-type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "json_invalid"
    # the body as a whole is at fault, not a field named after the character offset ("1")
    assert r.json()["errors"][0]["field"] == "(cuerpo)" and "carácter" in r.json()["errors"][0]["message"]
