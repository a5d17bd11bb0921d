"""The policy lab through the API (#12 item 5): analysts start a replay with the policy file as the body; it
runs as a background job in its own process; status, JSON, CSV and HTML come back; the dashboard shows the
last replay and the expected-loss assumptions with their source. Both databases."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.main import create_app
from tests.api.conftest import make_settings, shared_assessor
from tests.lab.conftest import BOOK_SIZE, store_book, table_digest
from tests.models import default_model_dir
from tests.samples import policy_variant

TOML = {"Content-Type": "application/toml"}


@pytest.fixture
def lab_client(storage: Any, db_url: str, tmp_path: Path, event_sink: Any) -> Any:
    # the job process serves the model this process uses (no training in a fresh directory)
    settings = make_settings(db_url, tmp_path, ASESOR_MODEL_DIR=default_model_dir())
    app = create_app(settings, storage=storage, event_sink=event_sink, assessor_factory=shared_assessor)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def _wait(client: httpx.AsyncClient, url: str, headers: dict[str, str], seconds: float = 240) -> dict:
    for _ in range(int(seconds * 2)):
        body = (await client.get(url, headers=headers)).json()
        if body["status"] in ("done", "failed"):
            return body
        await asyncio.sleep(0.5)
    raise AssertionError(f"the run did not finish: {body}")


async def test_analyst_replays_through_the_api_and_the_dashboard_shows_it(
    lab_client: httpx.AsyncClient, storage: Any, staff: dict, tmp_path: Path
) -> None:
    store_book(storage, n=BOOK_SIZE)
    before = table_digest(storage)
    policy = policy_variant(
        tmp_path / "p.toml", {"reject_term_above = 60": "reject_term_above = 36", "lgd = 0.45": "lgd = 0.90"},
        version="api-estricta",
    )  # fmt: skip
    analyst = staff["analyst"].headers
    page_session = {"Cookie": f"asesor_session={staff['analyst'].token}"}  # pages read the session cookie
    async with lab_client as client:
        empty = await client.get("/dashboard", headers=page_session)
        assert "Aún no hay replays" in empty.text and "Supuesto, no medido" in empty.text

        res = await client.post(
            "/v1/policy/replays?desde=2026-11-01", content=policy.read_bytes(), headers={**analyst, **TOML}
        )
        assert res.status_code == 202, res.text
        run = res.json()
        assert res.headers["location"] == run["links"]["status"] == f"/v1/policy/replays/{run['id']}"
        assert run["status"] in ("queued", "running") and run["policy_version"] == "api-estricta"
        early = await client.get(run["links"]["report"], headers=analyst)
        assert early.status_code in (200, 409)

        done = await _wait(client, run["links"]["status"], analyst)
        assert done["status"] == "done", done
        assert done["progress"] == {"done": BOOK_SIZE, "total": BOOK_SIZE}
        report = (await client.get(run["links"]["report"], headers=analyst)).json()
        assert report["replayed"] == BOOK_SIZE and report["policy"]["version"] == "api-estricta"
        assert report["replayed_figures"]["lgd"] == pytest.approx(0.90) and report["stored"]["lgd"] == pytest.approx(
            0.45
        )
        assert done["summary"]["expected_loss"] == {
            "stored": report["stored"]["expected_loss"], "replayed": report["replayed_figures"]["expected_loss"],
        }  # fmt: skip

        changes = await client.get(run["links"]["changes_csv"], headers=analyst)
        assert changes.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(changes.text)))
        assert len(rows) == report["changed"] > 0
        page = await client.get(run["links"]["report_html"], headers=page_session)  # the tile's link works
        assert page.status_code == 200 and "api-estricta" in page.text and rows[0]["assessment_id"] in page.text

        dash = await client.get("/dashboard", headers=page_session)
        tile = dash.text[dash.text.index('id="ultimo-replay"') :]
        assert "api-estricta" in tile and run["links"]["report_html"] in tile
        stored = report["stored"]["approval_rate"] * 100
        assert f"{stored:.1f} % →" in tile
        listed = (await client.get("/v1/policy/replays", headers=analyst)).json()
        assert [r["id"] for r in listed] == [run["id"]]
    assert table_digest(storage) == before  # the replay touched no stored assessment


async def test_policy_lab_refuses_bad_policies_roles_and_bodies(
    lab_client: httpx.AsyncClient, staff: dict, tmp_path: Path
) -> None:
    bad = policy_variant(tmp_path / "bad.toml", {"lgd = 0.45": "lgd = 1.5"})
    analyst = staff["analyst"].headers
    async with lab_client as client:
        res = await client.post("/v1/policy/replays", content=bad.read_bytes(), headers={**analyst, **TOML})
        assert res.status_code == 422 and res.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in res.json()["errors"]] == ["products.auto.lgd"]
        not_toml = await client.post(
            "/v1/policy/replays", content=b"{}", headers={**analyst, "Content-Type": "application/json"}
        )
        assert not_toml.status_code == 415
        garbage = await client.post("/v1/policy/replays", content=b"[[[", headers={**analyst, **TOML})
        assert garbage.status_code == 422 and "TOML" in garbage.text
        good = policy_variant(tmp_path / "good.toml", {})
        advisor = await client.post(
            "/v1/policy/replays", content=good.read_bytes(), headers={**staff["advisor"].headers, **TOML}
        )
        assert advisor.status_code == 403
        anonymous = await client.post("/v1/policy/replays", content=good.read_bytes(), headers=TOML)
        assert anonymous.status_code == 401
        assert (await client.get("/v1/policy/replays/nope", headers=analyst)).status_code == 404
        period = await client.post(
            "/v1/policy/replays?desde=2026-12-02&hasta=2026-12-01",
            content=good.read_bytes(),
            headers={**analyst, **TOML},
        )
        assert period.status_code == 422 and period.json()["errors"][0]["field"] == "desde"


# the lab grid cut to 2 prices × 2 ages: the same answer space, a run of seconds
SMALL_GRID = {
    "vehicle_prices = [100000, 200000, 300000, 400000, 500000, 600000, 700000, 800000, 900000, 1000000]": (
        "vehicle_prices = [100000, 300000]"
    ),
    "ages = [18, 25, 30, 40, 50, 60, 70, 75]": "ages = [40, 60]",
}


async def test_analyst_simulates_through_the_api(lab_client: httpx.AsyncClient, staff: dict, tmp_path: Path) -> None:
    """POST /v1/policy/simulations runs `asesor policy simulate`'s function as a job; the status and the report
    come back (the report is the CLI's JSON), and a policy that breaks an invariant says which."""
    good = policy_variant(tmp_path / "good.toml", SMALL_GRID, version="sim-api")
    broken = policy_variant(
        tmp_path / "broken.toml", {**SMALL_GRID, "base_rate_intercept = 5.0": "base_rate_intercept = 9.0"}
    )
    analyst = staff["analyst"].headers
    async with lab_client as client:
        res = await client.post("/v1/policy/simulations", content=good.read_bytes(), headers={**analyst, **TOML})
        assert res.status_code == 202, res.text
        run = res.json()
        assert res.headers["location"] == run["links"]["status"] == f"/v1/policy/simulations/{run['id']}"
        bad = await client.post("/v1/policy/simulations", content=broken.read_bytes(), headers={**analyst, **TOML})
        assert bad.status_code == 202, bad.text

        done = await _wait(client, run["links"]["status"], analyst)
        assert done["status"] == "done", done
        assert done["progress"]["done"] == done["progress"]["total"] > 0  # the heartbeat reached the end
        report = (await client.get(run["links"]["report"], headers=analyst)).json()
        assert report["ok"] is True and report["policy_version"] == "sim-api"
        assert report["space"]["points"] == report["space"]["answer_combinations"] * report["space"]["grid_points"]
        assert report["space"]["answer_combinations"] == 179_200
        assert sum(d["share"] for d in report["decisions"].values()) == pytest.approx(1.0)
        assert report["invariants"] and all(i["held"] for i in report["invariants"])
        assert done["summary"]["ok"] is True and done["summary"]["invariants_broken"] == []
        assert done["summary"]["points"] == report["space"]["points"]

        failed = await _wait(client, bad.json()["links"]["status"], analyst)
        assert failed["status"] == "done", failed  # a broken invariant is a result, not a failed run
        broken_report = (await client.get(bad.json()["links"]["report"], headers=analyst)).json()
        assert broken_report["ok"] is False
        names = [i["name"] for i in broken_report["invariants"] if not i["held"]]
        assert names and failed["summary"]["invariants_broken"] == names
        assert (await client.get(run["links"]["report"], headers=staff["advisor"].headers)).status_code == 403
