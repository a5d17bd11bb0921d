"""The drift alert (deploy/prometheus/alerts.yml) against the metrics a running API exposes.

The API computes PSI of the stored applicants against the training population of the model in service and
exposes it on /metrics; the test scrapes it, turns the samples into promtool input series held for 90
minutes, and runs `promtool test rules` (Debian's prometheus package; scripts/test.sh unpacks promtool under
var/tools when it is not installed): the rule fires after its hour for every variable at 0.25 or more when
enough applicants stand behind it, and stays quiet for a stable population and for a small one.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from storage.models import Assessment
from storage.repositories import Storage
from tests.api.conftest import PROFILE

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
ALERT = "AsesorPopulationShift"


def _promtool() -> str:
    found = shutil.which("promtool") or (
        str(REPO / "var/tools/promtool") if (REPO / "var/tools/promtool").exists() else None
    )
    if found is None:
        pytest.fail(
            "promtool is missing: bash scripts/test.sh unpacks it from Debian's prometheus package into var/tools"
        )
    return found


async def _scrape(client: httpx.AsyncClient, admin: dict[str, str]) -> list[tuple[str, dict[str, str], float]]:
    r = await client.get("/metrics", headers=admin)
    assert r.status_code == 200
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
        if s.name in ("asesor_model_psi", "asesor_model_psi_applicants")
    ]


def _expected(labels: dict[str, str]) -> dict[str, Any]:
    """The alert the rule must raise for one variable: its labels and its annotations, templated as Prometheus does."""
    rule = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"][0]["rules"][0]
    annotations = {}
    for key, text in rule["annotations"].items():
        for name, value in labels.items():
            text = text.replace(f"{{{{ $labels.{name} }}}}", value)
        annotations[key] = text.strip()
    return {"exp_labels": {**rule["labels"], **labels}, "exp_annotations": annotations}


def _promtool_test(tmp_path: Path, samples: list[tuple[str, dict[str, str], float]], firing: list[dict]) -> None:
    def series(name: str, labels: dict[str, str]) -> str:
        return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"

    spec = {  # JSON is YAML: promtool reads it as its test file
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": series(n, lab), "values": f"{v}x90"} for n, lab, v in samples],
                "alert_rule_test": [
                    {"eval_time": "30m", "alertname": ALERT, "exp_alerts": []},  # pending: `for: 1h`
                    {"eval_time": "75m", "alertname": ALERT, "exp_alerts": firing},
                ],
            }
        ],
    }
    path = tmp_path / "psi_test.json"
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    run = subprocess.run([_promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def _store(storage: Storage, rows: list[dict[str, Any]]) -> None:
    with storage.session() as s:
        s.add_all([Assessment(**r) for r in rows])


def _like_training(reference: dict[str, Any], n: int, base: dict[str, Any], version: str) -> list[dict[str, Any]]:
    """n assessment rows whose inputs and scores fall in the reference's bins in its shares (PSI about 0)."""
    import math

    def values(spec: dict[str, Any], integer: bool) -> list[float]:
        edges, shares = list(spec.get("edges") or []), spec["shares"]
        # one value inside each bin (-inf, e1], …, (ek, inf): its upper edge, and one past the last edge
        reps = [*edges, (edges[-1] if edges else 0.0) + 1.0]
        if integer:
            reps = [math.floor(x) for x in reps]
        cumulative, out = 0.0, []
        bins = []
        for i, share in enumerate(shares):
            cumulative += share
            bins.append((cumulative, reps[i]))
        for j in range(n):
            q = (j + 0.5) / n
            out.append(next((v for c, v in bins if q <= c), bins[-1][1]))
        return out

    columns = {name: values(spec, integer=name == "score") for name, spec in reference.items()}
    rows = []
    for j in range(n):
        row = Storage.assessment_row(base)
        row.update(
            model_version=version,
            credit_score=int(columns["score"][j]),
            pd_features={k: float(v[j]) for k, v in columns.items() if k != "score"},
        )
        rows.append(row)
    return rows


async def test_alert_fires_on_a_significant_shift_with_enough_applicants(
    client: httpx.AsyncClient, staff: dict, storage: Storage, assessor: Any, tmp_path: Path
) -> None:
    # 120 applicants asking for the same car loan: amount and term sit in one bin of the training population
    results = [assessor.assess(PROFILE) for _ in range(2)]
    _store(storage, [Storage.assessment_row(results[i % 2], request=PROFILE) for i in range(120)])
    samples = await _scrape(client, staff["admin"].headers)
    psi = {lab["variable"]: v for name, lab, v in samples if name == "asesor_model_psi"}
    applicants = [v for name, _, v in samples if name == "asesor_model_psi_applicants"]
    assert applicants == [120.0] and psi["credit_amount"] >= 0.25 and "score" in psi
    version = results[0].pd.model_version
    firing = [_expected({"model_version": version, "variable": v}) for v, x in sorted(psi.items()) if x >= 0.25]
    assert len(firing) == len(psi)  # one profile: every input sits in one bin
    _promtool_test(tmp_path, samples, firing)


async def test_alert_stays_quiet_for_a_stable_or_a_small_population(
    client: httpx.AsyncClient, staff: dict, storage: Storage, assessor: Any, app: Any, tmp_path: Path
) -> None:
    result = assessor.assess(PROFILE)
    artifact = assessor.pd_model.artifact
    _store(storage, _like_training(artifact["reference"], 400, result, artifact["model_version"]))
    samples = await _scrape(client, staff["admin"].headers)
    psi = {lab["variable"]: v for name, lab, v in samples if name == "asesor_model_psi"}
    assert set(psi) == set(artifact["reference"]) and max(psi.values()) < 0.10, psi
    _promtool_test(tmp_path, samples, [])

    # shifted, but only 40 applicants: below the rule's 100, no alert
    small = [(n, lab, 40.0 if n == "asesor_model_psi_applicants" else max(v, 0.9)) for n, lab, v in samples]
    _promtool_test(tmp_path, small, [])


def test_rule_file_is_valid() -> None:
    run = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "SUCCESS: 1 rules found" in run.stdout, run.stdout + run.stderr
