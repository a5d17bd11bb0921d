"""`asesor train applicant --from-db`: outcomes loaded by the ETL feed the applicant training."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

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
        assert result.exit_code == 2 and json.loads(result.stderr)["error"] == "no_outcomes"
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
