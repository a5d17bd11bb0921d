"""`asesor train report | compare | promote | psi` end to end on a small data set, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from typer.testing import CliRunner

from cli.main import app
from tests.training.conftest import make_frame

runner = CliRunner()


def _run(*args: str | Path) -> tuple[int, Any, str]:
    """Exit code, stdout's JSON (None when it printed none), stderr."""
    result = runner.invoke(app, [str(a) for a in args])
    try:
        body = json.loads(result.stdout) if result.stdout.strip() else None
    except json.JSONDecodeError:
        body = None
    return result.exit_code, body, result.stderr


def test_report_compare_promote_psi(definition_file: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    code, first, err = _run(
        "train", "report", "--dataset-file", definition_file, "--out", tmp_path / "r1", "--model-dir", models
    )
    assert code == 0, err
    assert (tmp_path / "r1" / "report.html").stat().st_size > 10_000
    assert (tmp_path / "r1" / "summary.md").read_text(encoding="utf-8").startswith("# Informe de PD")
    assert "informe sintetico" not in err  # stderr is no terminal here: no progress bar lines (tqdm disable=None)
    name = first["model_name"]
    assert first["in_service"] == first["model_version"]  # the first version goes into service
    artifact = json.loads((Path(first["model_path"]) / "model.json").read_text(encoding="utf-8"))
    assert artifact["data"]["sha256"] == first["data_sha256"] and artifact["code_version"]
    assert artifact["metrics"]["roc_auc"] > 0.7
    assert not list(models.rglob("*.pkl")) and not list(models.rglob("*.pickle"))

    code, second, err = _run(
        "train",
        "report",
        "--dataset-file",
        definition_file,
        "--seed",
        "9",
        "--strategies",
        "none,smote",
        "--out",
        tmp_path / "r2",
        "--model-dir",
        models,
    )
    assert code == 0, err
    assert second["model_version"] != first["model_version"]
    assert second["in_service"] == first["model_version"]  # a challenger waits for promotion

    code, cmp, err = _run(
        "train",
        "compare",
        "--name",
        name,
        "--challenger",
        second["model_version"],
        "--dataset-file",
        definition_file,
        "--model-dir",
        models,
    )
    assert code == 0, err
    assert cmp["champion"]["model_version"] == first["model_version"]
    assert cmp["cohort_rows"] == 1200  # the 40 % validation part of 3,000 rows
    for side in ("champion", "challenger"):
        assert 0.5 < cmp[side]["roc_auc"] <= 1 and 0 <= cmp[side]["approval_rate"] <= 1
    assert cmp["score_psi"] >= 0 and cmp["score_psi_band"] in {"estable", "vigilar", "cambio significativo"}

    code, promo, err = _run(
        "train", "promote", second["model_version"], "--name", name, "--reason", "mejor F1", "--model-dir", models
    )
    assert code == 0, err
    assert (promo["from"], promo["to"]) == (first["model_version"], second["model_version"])
    assert promo["comparison"]["challenger"]["model_version"] == second["model_version"]
    assert (models / name / "current").read_text().strip() == second["model_version"]
    # promotions.jsonl: the first version's bootstrap, then this one with who, when, why and the comparison
    lines = [json.loads(x) for x in (models / name / "promotions.jsonl").read_text().splitlines()]
    assert [x["to"] for x in lines] == [first["model_version"], second["model_version"]]
    assert lines[-1]["reason"] == "mejor F1" and lines[-1]["by"] and lines[-1]["at"] and lines[-1]["comparison"]

    # monitoring: applicants of a "period" without outcomes; one feature shifted
    cohort = make_frame(1500, seed=11).drop(columns=["malo"])
    cohort["deuda"] += 1.5
    cohort.to_csv(tmp_path / "cohort.csv", index=False)
    code, psi, err = _run(
        "train",
        "psi",
        "--name",
        name,
        "--cohort",
        tmp_path / "cohort.csv",
        "--dataset-file",
        definition_file,
        "--model-dir",
        models,
    )
    assert code == 0, err
    by = {r["variable"]: r for r in psi["psi"]}
    assert by["deuda"]["band"] == "cambio significativo" and "deuda" in psi["shifted"]
    assert by["ruido"]["band"] == "estable" and "score" in by

    # per-applicant PD, score and reason codes of the model in service
    result = runner.invoke(
        app,
        [
            "train",
            "score",
            "--name",
            name,
            "--cohort",
            str(tmp_path / "cohort.csv"),
            "--dataset-file",
            str(definition_file),
            "--model-dir",
            str(models),
            "--top",
            "2",
        ],
    )
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(lines) == 1500 and lines[0]["model_version"] == second["model_version"]
    assert all(0 < r["pd"] < 1 and 0 <= r["score"] <= 1000 and len(r["reasons"]) <= 2 for r in lines)
    riskiest = max(lines, key=lambda r: r["pd"])
    assert riskiest["reasons"] and riskiest["reasons"][0]["puntos_perdidos"] > 0


def test_errors_are_json_with_exit_2(tmp_path: Path, definition_file: Path) -> None:
    code, _, err = _run("train", "report", "--dataset", "nope", "--out", tmp_path / "x")
    assert code == 2 and json.loads(err)["error"]["code"] == "invalid_dataset"
    code, _, err = _run(
        "train", "report", "--dataset-file", definition_file, "--strategies", "magic", "--out", tmp_path / "x"
    )
    assert code == 2 and json.loads(err)["error"]["code"] == "invalid_strategies"
    code, _, err = _run("train", "promote", "v0", "--name", "nada", "--reason", "prueba", "--model-dir", tmp_path)
    assert code == 2 and json.loads(err)["error"]["code"] == "model_not_found"
    code, _, err = _run("train", "promote", "v0", "--name", "nada", "--model-dir", tmp_path)
    assert code == 2 and json.loads(err)["error"]["code"] == "missing_reason"
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "bad.csv", index=False)
    code, _, err = _run(
        "train", "report", "--dataset-file", definition_file, "--data", tmp_path / "bad.csv", "--out", tmp_path / "x"
    )
    error = json.loads(err)["error"]  # in Spanish (core.copy_es.DATASET_ERRORS), with the engine's code as kind
    assert code == 2 and error["kind"] == "columns_absent" and "faltan en los datos las columnas" in error["message"]
