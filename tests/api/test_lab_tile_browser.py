"""The dashboard's policy-lab tile in Chromium (#12 item 5): an analyst starts a replay over real HTTP (the job runs
in its own process, as in production), and the tile "Último replay" shows the figures the API returns for that
run — approval rate and expected loss stored → replayed, the counts, the link to the HTML report, which opens;
axe-core finds no violation on the dashboard with the tile filled, at 1280 and 390 px."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api import test_browser
from tests.api.conftest import PASSWORD, LiveServer
from tests.api.test_accessibility import _axe, _fits, _login, _page
from tests.api.test_browser import _num
from tests.lab.conftest import BOOK_SIZE, store_book
from tests.models import default_model_dir
from tests.samples import policy_variant

live = test_browser.live
browser = test_browser.browser


def _money(text: str) -> float:
    value = _num(text)
    assert value is not None, text
    return value


@pytest.mark.parametrize("live", [{"ASESOR_MODEL_DIR": str(default_model_dir())}], indirect=True)
def test_lab_tile_shows_the_last_replay_as_the_api_reports_it(
    live: LiveServer, browser: Any, password_hash: str, tmp_path: Path
) -> None:
    store_book(live.storage, n=BOOK_SIZE)
    live.storage.create_user("analista", password_hash=password_hash, role="analyst")
    token = httpx.post(f"{live.url}/v1/auth/token", data={"username": "analista", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    policy = policy_variant(
        tmp_path / "p.toml", {"reject_term_above = 60": "reject_term_above = 36", "lgd = 0.45": "lgd = 0.90"},
        version="tile-estricta",
    )  # fmt: skip
    res = httpx.post(
        f"{live.url}/v1/policy/replays",
        content=policy.read_bytes(),
        headers={**headers, "Content-Type": "application/toml"},
    )
    assert res.status_code == 202, res.text
    links = res.json()["links"]
    deadline = time.time() + 240
    while (status := httpx.get(f"{live.url}{links['status']}", headers=headers).json())["status"] not in (
        "done",
        "failed",
    ):
        assert time.time() < deadline, status
        time.sleep(0.5)
    assert status["status"] == "done", status
    report = httpx.get(f"{live.url}{links['report']}", headers=headers).json()
    stored, replayed = report["stored"], report["replayed_figures"]
    assert report["changed"] > 0  # the tile has changes to show
    assert replayed["expected_loss"] > stored["expected_loss"]  # twice the LGD

    for width in (1280, 390):
        page = _page(browser, width)
        _login(page, live)
        tile = page.locator("#ultimo-replay")
        assert "tile-estricta" in tile.inner_text()
        rate = page.inner_text("#replay-aprobacion").split("→")
        assert [_num(x) for x in rate] == [
            round(stored["approval_rate"] * 100, 1),
            round(replayed["approval_rate"] * 100, 1),
        ]
        loss = page.inner_text("#replay-perdida").split("→")
        assert [_money(x) for x in loss] == [round(stored["expected_loss"]), round(replayed["expected_loss"])]
        counts = f"{report['replayed']} evaluaciones guardadas re-evaluadas, {report['changed']} cambian de decisión"
        assert counts in tile.inner_text()
        assert page.get_attribute("#replay-informe", "href") == links["report_html"]
        _axe(page, f"dashboard with the last replay {width}")
        _fits(page, width)
    with page.expect_navigation():
        page.click("#replay-informe")
    assert page.url.endswith(links["report_html"]) and "tile-estricta" in page.content()
