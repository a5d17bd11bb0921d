"""`asesor train applicant --from-db`: outcomes loaded by the ETL feed the applicant training."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from cli.main import app
from cli.train_from_db import OutcomesError, export_outcomes_csv
from engine.pd.features import GERMAN_CREDIT_CSV
from storage.db import make_engine
from storage.etl import load_file


def _load_german(url: str) -> None:
    engine = make_engine(url)
    try:
        load_file(engine, GERMAN_CREDIT_CSV, "german", progress=False)
    finally:
        engine.dispose()


def test_export_gives_back_the_loaded_rows(sqlite_url: str, tmp_path: Path) -> None:
    try:
        export_outcomes_csv("german", tmp_path, sqlite_url)
        raise AssertionError("an empty table must be refused")
    except OutcomesError as exc:
        assert "asesor etl load" in str(exc)
    _load_german(sqlite_url)
    path = export_outcomes_csv("german", tmp_path, sqlite_url)
    got, want = pd.read_csv(path), pd.read_csv(GERMAN_CREDIT_CSV)
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want) and (got["creditability"] == "bad").sum() == (want["creditability"] == "bad").sum()
    # stable order: the same outcomes give the same bytes, hence the same data hash and model version
    first = hashlib.sha256(path.read_bytes()).hexdigest()
    assert hashlib.sha256(export_outcomes_csv("german", tmp_path, sqlite_url).read_bytes()).hexdigest() == first


def test_train_applicant_from_db(sqlite_url: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ASESOR_DATA_DIR", str(tmp_path))
    from core.config import get_settings

    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(
            app, ["train", "applicant", "--from-db", "--url", sqlite_url, "--model-dir", str(tmp_path / "m")]
        )
        assert result.exit_code == 2 and json.loads(result.stderr)["error"]["code"] == "no_outcomes"
        _load_german(sqlite_url)
        result = runner.invoke(
            app, ["train", "applicant", "--from-db", "--url", sqlite_url, "--model-dir", str(tmp_path / "m")]
        )
        assert result.exit_code == 0, result.stderr
        out = json.loads(result.stdout)
        snapshot = tmp_path / "training_data" / "loan_outcomes-german.csv"
        assert out["data_sha256"] == hashlib.sha256(snapshot.read_bytes()).hexdigest()
        assert out["metrics"]["rows"] == 1000 and out["metrics"]["bad_rate"] == 0.3
    finally:
        get_settings.cache_clear()


def _request(i: int, drift: bool) -> dict:
    rng = np.random.default_rng(i)
    answers = {
        "trabajo_tiempo": "menos_6m" if drift else str(rng.choice(["6m_1a", "1a_2a", "mas_2a"])),
        "banco_nomina": "bbva",
        "historial_crediticio": "malo" if drift else str(rng.choice(["excelente", "bueno", "regular"])),
        "creditos_vigentes": "pagos_pendientes" if drift else str(rng.choice(["ninguno", "1_2"])),
        "atrasos_12_meses": "varios_sin_regularizar" if drift else "ninguno",
        "enganche": "20_30",
        "prioridad_financiamiento": "pagos_fijos",
        "ingreso_mensual": str(rng.choice(["15k_20k", "20k_30k", "mas_30k"])),
    }
    return {
        "answers": answers,
        "loan": {"vehicle_price": float(rng.integers(150_000, 600_000)), "term_months": int(rng.choice([24, 36, 48]))},
        "applicant": {"birth_year": int(rng.integers(1960, 2002)), "monthly_income": None},
    }


def test_psi_of_applicants_assessed_in_a_period(sqlite_url: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from engine.policy import default_policy
    from engine.training.applicant import train_applicant
    from storage.repositories import Storage

    models = tmp_path / "m"
    train_applicant(models, default_policy())
    storage = Storage(sqlite_url, pseudonym_key="k", data_dir=tmp_path)
    result = {"pd": {"probability": 0.1, "model_version": "x"}, "credit_score": 600, "expert": {"decision": "revisar"}}
    try:
        for i in range(120):
            storage.save_assessment(result, request=_request(i, drift=i >= 60))
    finally:
        storage.dispose()
    runner = CliRunner()
    args = ["train", "psi", "--name", "applicant", "--from-db", "--url", sqlite_url, "--model-dir", str(models)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert "120 solicitantes" in out["cohort"]
    by = {r["variable"]: r for r in out["psi"]}
    # half the applicants with the worst history and no job tenure: the score shifts
    assert by["score"]["band"] == "cambio significativo" and "score" in out["shifted"]
    # an empty period is an error, not a table of zeros
    future = datetime(2100, 1, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    result = runner.invoke(app, [*args, "--since", future])
    assert result.exit_code == 2 and json.loads(result.stderr)["error"]["code"] == "empty_cohort"
