"""ETL of historical clients: validation per row with line and reason, de-dup, idempotent re-runs, JSON CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import app
from storage.db import make_engine
from storage.etl import EtlError, load_file, load_mapping
from storage.models import Assessment, EtlLoad, LoanOutcome
from storage.repositories import Storage

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
GERMAN = DATA / "german_credit" / "germancredit.csv"
SCORING_HEADER = (
    "Empleado,Tiempo_empleo,Saldo_cuenta,Valor_prestamo,Cuentas_otros,Autocontrol,Impulsividad,Confianza,Incumplimiento"
)


def _count(engine, source: str) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(LoanOutcome).where(LoanOutcome.source == source)) or 0)


def test_scoring_file_with_bad_rows_reports_each_line_and_reason(db_url: str, tmp_path: Path) -> None:
    f = tmp_path / "score.csv"
    f.write_text(
        SCORING_HEADER + "\n"
        "1,3,100.5,2000,1,45,50,74,0\n"  # line 2: good, tenure 3y -> mas_2a
        "0,0,20.0,1500,0,40,60,50,1\n"  # line 3: good, default, tenure 0 -> menos_6m
        "1,abc,1.0,1000,1,45,50,74,0\n"  # line 4: Tiempo_empleo not an int
        "1,2,nan,1000,1,45,50,74,0\n"  # line 5: NaN is not coerced
        "1,2,5.0,1000,1,145,50,74,0\n"  # line 6: Autocontrol > 100
        "1,2,5.0,1000,1,45,50,74,2\n"  # line 7: unknown outcome
        "1,3,100.5,2000,1,45,50,74,0\n"  # line 8: duplicate of line 2
        "1,2,5.0,1000,1,45,50\n"  # line 9: missing fields
        "1,,5.0,1000,1,45,50,74,0\n",  # line 10: empty required cell
        encoding="utf-8",
    )
    engine = make_engine(db_url)
    report = load_file(engine, f, "scoring_bancario", batch_size=1, progress=False)
    assert (report["rows_read"], report["rows_loaded"], report["rows_rejected"], report["rows_duplicate_in_file"]) == (
        9,
        2,
        6,
        1,
    )
    by_line = {r["line"]: " ".join(r["reasons"]) for r in report["rejections"]}
    assert set(by_line) == {4, 5, 6, 7, 8, 9, 10}
    assert "Tiempo_empleo" in by_line[4] and "'abc'" in by_line[4]
    assert "Saldo_cuenta" in by_line[5]
    assert "Autocontrol" in by_line[6] and "100" in by_line[6]
    assert "Incumplimiento" in by_line[7]
    assert "duplicate of line 2" in by_line[8]
    assert "expected 9 fields, got 7" in by_line[9]
    assert "Tiempo_empleo: required value is empty" in by_line[10]
    assert report["default_rate_loaded"] == 0.5
    with engine.connect() as conn:
        rows = {r.line: r for r in conn.execute(select(LoanOutcome)).all()}
        stored = conn.execute(select(EtlLoad.report, EtlLoad.rows_rejected)).one()
    assert rows[2].tenure == "mas_2a" and rows[2].employed is True and not rows[2].defaulted
    assert rows[3].tenure == "menos_6m" and rows[3].employed is False and rows[3].defaulted
    assert rows[2].amount == 2000.0 and rows[2].features["Saldo_cuenta"] == 100.5
    assert stored.rows_rejected == 6 and stored.report["rows_loaded"] == 2
    # a re-run loads nothing twice
    again = load_file(engine, f, "scoring_bancario", progress=False)
    assert again["rows_loaded"] == 0 and again["rows_already_loaded"] == 2 and _count(engine, "scoring_bancario") == 2
    engine.dispose()


def test_german_credit_loads_whole_and_reruns_idempotently(db_url: str) -> None:
    engine = make_engine(db_url)
    first = load_file(engine, GERMAN, "german", progress=False)
    assert (first["rows_read"], first["rows_loaded"], first["rows_rejected"]) == (1000, 1000, 0)
    assert first["default_rate_loaded"] == pytest.approx(0.30)  # SOURCE.md: 300 bad of 1,000
    second = load_file(engine, GERMAN, "german", progress=False)
    assert (second["rows_loaded"], second["rows_already_loaded"]) == (0, 1000)
    assert _count(engine, "german") == 1000
    with engine.connect() as conn:
        tenures = dict(conn.execute(select(LoanOutcome.tenure, func.count()).group_by(LoanOutcome.tenure)).all())
    assert set(tenures) == {"menos_6m", "6m_1a", "1a_2a", "mas_2a"} and sum(tenures.values()) == 1000
    engine.dispose()


def test_wrong_columns_are_refused_by_name(sqlite_url: str, tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("ID,X1,foo\n1,2,3\n", encoding="utf-8")
    engine = make_engine(sqlite_url)
    with pytest.raises(EtlError) as exc:
        load_file(engine, f, "taiwan", progress=False)
    assert exc.value.payload["unexpected_columns"] == ["foo"]
    assert "X2" in exc.value.payload["missing_columns"] and "Y" in exc.value.payload["missing_columns"]
    with engine.connect() as conn:  # nothing written, not even a load record
        assert conn.scalar(select(func.count()).select_from(EtlLoad)) == 0
    engine.dispose()


def test_custom_mapping_file_with_bins(sqlite_url: str, tmp_path: Path) -> None:
    mapping = tmp_path / "banco.toml"
    mapping.write_text(
        """
[source]
name = "banco_propio"
id_column = "cliente"
currency = "MXN"
[target]
column = "mora"
default_values = ["si"]
good_values = ["no"]
[columns]
cliente = { type = "str" }
ingreso = { type = "float", min = 0 }
nomina = { type = "category", values = ["bbva", "banorte", "otro"] }
mora = { type = "category", values = ["si", "no"] }
[normalize]
income = "ingreso"
income_band = { column = "ingreso", bins = [10000, 15000, 20000, 30000], labels = [
  "menos_10k_sin_comprobar", "menos_15k_comprobado", "15k_20k", "20k_30k", "mas_30k"] }
payroll_bank = "nomina"
""",
        encoding="utf-8",
    )
    f = tmp_path / "banco.csv"
    f.write_text("cliente,ingreso,nomina,mora\nA1,12000,bbva,no\nA2,45000,otro,si\nA1,9999,bbva,no\nA3,1,hsbc,no\n")
    engine = make_engine(sqlite_url)
    report = load_file(engine, f, str(mapping), progress=False)
    assert report["rows_loaded"] == 2 and report["rows_duplicate_in_file"] == 1 and report["rows_rejected"] == 1
    assert "nomina" in report["rejections"][-1]["reasons"][0]
    with engine.connect() as conn:
        got = dict(conn.execute(select(LoanOutcome.external_id, LoanOutcome.income_band)).all())
    assert got == {"A1": "menos_15k_comprobado", "A2": "mas_30k"}
    engine.dispose()


def test_cli_prints_report_and_json_errors(sqlite_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["etl", "load", str(GERMAN), "--source", "german", "--url", sqlite_url, "--no-progress"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["rows_loaded"] == 1000
    bad = runner.invoke(app, ["etl", "load", str(GERMAN), "--source", "taiwan", "--url", sqlite_url])
    assert bad.exit_code == 2
    err = json.loads(bad.stderr)["error"]
    assert err["code"] == "invalid_etl_input"
    assert "creditability" in err["unexpected_columns"] and "Y" in err["missing_columns"]
    unknown = runner.invoke(app, ["etl", "load", str(GERMAN), "--source", "nope", "--url", sqlite_url])
    err = json.loads(unknown.stderr)["error"]  # Spanish (tests/cli/test_operator_errors_es.py), with its kind
    assert unknown.exit_code == 2 and err["kind"] == "unknown_source" and "Fuente desconocida 'nope'" in err["message"]


def test_builtin_mappings_match_the_shipped_data_headers() -> None:
    for name, path in {
        "german": GERMAN,
        "taiwan": DATA / "taiwan_default_credit_card" / "UCI_Credit_Card.csv",
        "scoring_bancario": DATA / "scoring_bancario" / "score_train.csv",
    }.items():
        header = path.open(encoding="utf-8-sig").readline().strip().split(",")
        assert list(load_mapping(name).columns) == header


def test_asesor_outcomes_are_filled_from_their_assessments(storage: Storage, tmp_path: Path, result_factory) -> None:
    """The bank's performance file names the assessment: predicted PD, origination date, bank and segment codes
    come from it when the file lacks them; a file's own values win; an unknown id is loaded and counted."""
    when = datetime(2026, 3, 14, 10, 30, tzinfo=UTC)
    req, res = result_factory(pd=0.123, recommended="banorte")
    req["answers"].update(ingreso_mensual="15k_20k", trabajo_tiempo="mas_2a", banco_nomina="bbva")
    row = Storage.assessment_row(res, request=req, channel="api", created_at=when)
    with storage.session() as s:
        s.add(Assessment(**row))
    aid = row["id"]
    f = tmp_path / "desempeno.csv"
    f.write_text(
        "folio,assessment_id,fecha_originacion,banco,monto,plazo_meses,incumplimiento\n"
        f"AS-1,{aid},,,250000,48,1\n"
        f"AS-2,{aid},2026-04-02,bbva,250000,48,0\n"
        "AS-3,00000000-0000-0000-0000-000000000000,2026-05-01,afirme,90000,24,0\n"
        "AS-4,,2026-13-01,,1,1,0\n",
        encoding="utf-8",
    )
    report = load_file(storage.engine, f, "asesor", progress=False)
    assert report["rows_loaded"] == 3 and report["rows_rejected"] == 1  # month 13 is not a date
    assert "fecha_originacion" in report["rejections"][0]["reasons"][0]
    assert report["rows_linked_to_assessment"] == 2 and report["rows_unknown_assessment"] == 1
    with storage.engine.connect() as conn:
        rows = {r.external_id: r for r in conn.execute(select(LoanOutcome)).all()}
    one, two, three = rows["AS-1"], rows["AS-2"], rows["AS-3"]
    assert one.predicted_pd == pytest.approx(0.123) and one.originated_at == when and one.defaulted
    segments = (one.recommended_bank, one.income_band, one.tenure, one.payroll_bank)
    assert segments == ("banorte", "15k_20k", "mas_2a", "bbva")
    assert two.originated_at == datetime(2026, 4, 2, tzinfo=UTC) and two.recommended_bank == "bbva"
    assert two.features["fecha_originacion"] == "2026-04-02"
    assert three.predicted_pd is None and three.income_band is None and three.recommended_bank == "afirme"
