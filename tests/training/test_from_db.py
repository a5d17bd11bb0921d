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
    """The applicants the served model assessed, binned where they are stored (the inputs each assessment
    recorded) against the training population its artifact keeps; --fail-on makes a shift exit 1."""
    from datetime import UTC, datetime

    from engine.assess import Assessor
    from engine.pd import load_served
    from engine.policy import default_policy
    from engine.training.applicant import train_applicant
    from storage.repositories import Storage

    models = tmp_path / "m"
    policy = default_policy()
    train_applicant(models, policy)
    assessor = Assessor(policy, load_served(models, policy))
    storage = Storage(sqlite_url, pseudonym_key="k", data_dir=tmp_path)
    try:
        for i in range(120):
            request = _request(i, drift=i >= 60)
            storage.save_assessment(assessor.assess(request), request=request)
        # an assessment of another model does not count
        other = assessor.assess(_request(0, drift=False)).model_copy(update={"model_version": "otro-modelo"})
        storage.save_assessment(other.model_copy(update={"pd": other.pd.model_copy(update={"model_version": "otro"})}))
    finally:
        storage.dispose()
    runner = CliRunner()
    args = ["train", "psi", "--name", "applicant", "--from-db", "--url", sqlite_url, "--model-dir", str(models)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert "120 solicitantes" in out["cohort"]
    by = {r["variable"]: r for r in out["psi"]}
    assert set(by) >= {"credit_history", "employment_since", "score"}
    # half the applicants with the worst history and no job tenure: history and the score shift
    assert by["credit_history"]["band"] == "cambio significativo" and by["credit_history"]["band_code"] == "significant"
    assert by["score"]["band_code"] == "significant" and "score" in out["shifted"]
    # for cron jobs: the same report, and exit 1 when a variable reaches the band
    failing = runner.invoke(app, [*args, "--fail-on", "significant"])
    assert failing.exit_code == 1 and json.loads(failing.stdout)["shifted"] == out["shifted"]
    assert runner.invoke(app, [*args, "--fail-on", "moderate"]).exit_code == 1
    bad = runner.invoke(app, [*args, "--fail-on", "grave"])
    assert bad.exit_code == 2
    # an empty period is an error, not a table of zeros
    future = datetime(2100, 1, 1, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    result = runner.invoke(app, [*args, "--since", future])
    assert result.exit_code == 2 and json.loads(result.stderr)["error"]["code"] == "empty_cohort"


def test_psi_fail_on_stays_zero_for_the_training_population(tmp_path: Path) -> None:
    from engine.policy import default_policy
    from engine.training.applicant import train_applicant

    models = tmp_path / "m"
    train_applicant(models, default_policy())
    args = ["train", "psi", "--name", "applicant", "--cohort", str(GERMAN_CREDIT_CSV), "--model-dir", str(models)]
    result = CliRunner().invoke(app, [*args, "--fail-on", "moderate"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert all(r["band_code"] == "stable" for r in json.loads(result.stdout)["psi"])
