"""The operators' commands say the engine's and storage's refusals in Spanish (issue #18): a policy file that
cannot be read, is not TOML or fails a check (`asesor policy check`), the model registry's unknown names and
unreadable artifacts (`asesor train psi|promote`, `asesor assess`), the dataset definitions of `asesor train` and
the files `asesor etl load` refuses.

The engine and storage keep their plain English str() (logs, developers) and carry a stable code and the values;
cli/errors.py and core/copy_es.py render the Spanish, in the JSON error shape of every command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core import copy_es as copy
from engine.policy import DEFAULT_POLICY_PATH

runner = CliRunner()

# English words a Spanish message has no use for, and the engine's and storage's English openings
ENGLISH = re.compile(
    r"\b(the|of|and|with|for|from|to|or|on|in|is|not|must|be|no model|cannot|file|found|invalid|unknown|missing"
    r"|unexpected|expected|should|Input|Extra|inputs|permitted|valid|got|under|column|columns|empty|text)\b"
)
DEFAULT = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")


def _error(stderr: str) -> dict:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr  # one JSON error, nothing else (no traceback)
    return json.loads(lines[0])["error"]


def _no_english(message: str, *paths: object) -> None:
    text = message
    for p in paths:  # a path is the operator's own words (tmp_path holds "pytest-of-…")
        text = text.replace(str(p), "")
    text = re.sub(r"`[^`]*`", "", text)  # commands such as `asesor train promote`
    found = sorted({m.group(0) for m in ENGLISH.finditer(text)})
    assert not found, f"English words {found} in: {message}"


# ------------------------------------------------------------------------------------------ policy files
def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "politica.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unreadable_policy_file_is_spanish(tmp_path: Path) -> None:
    for path, reason in ((tmp_path / "no-existe.toml", "no existe"), (tmp_path, "es un directorio")):
        r = runner.invoke(app, ["policy", "check", str(path)])
        err = _error(r.stderr)
        assert r.exit_code == 2 and err["code"] == "invalid_policy" and err["field"] == "file", r.stderr
        assert err["message"] == copy.POLICY_UNREADABLE.format(path=path, reason=reason)
        assert err["kind"] == "unreadable"
        _no_english(err["message"], path)


def test_a_policy_file_that_is_not_toml_is_spanish(tmp_path: Path) -> None:
    path = _policy(tmp_path, "[meta\nversion = 1\n")
    r = runner.invoke(app, ["policy", "check", str(path)])
    err = _error(r.stderr)
    assert r.exit_code == 2 and err["kind"] == "invalid_toml", r.stderr
    where = copy.POLICY_NOT_TOML_WHERE.format(line=1, column=6)
    assert err["message"] == copy.POLICY_NOT_TOML.format(path=path, where=where)
    _no_english(err["message"], path)
    path.write_bytes(b"[meta]\nname = '\xff'\n")
    err = _error(runner.invoke(app, ["policy", "check", str(path)]).stderr)
    assert err["message"] == copy.POLICY_NOT_UTF8.format(path=path, start=15)


def test_pydantic_errors_of_a_policy_file_are_spanish(tmp_path: Path) -> None:
    text = DEFAULT.replace("[meta]\n", "[meta]\nsobra = 1\n", 1)
    text = re.sub(r"(?m)^max_dti = .*$", "max_dti = 5", text)
    text = re.sub(r"(?m)^resampler = .*$", 'resampler = "ninguno"', text)
    path = _policy(tmp_path, text)
    r = runner.invoke(app, ["policy", "check", str(path)])
    err = _error(r.stderr)
    assert r.exit_code == 2 and err["kind"] == "invalid_values", r.stderr
    problems = {p["key"]: p for p in err["problems"]}
    assert problems["meta.sobra"]["message"] == copy.FIELD_MESSAGES["extra_forbidden"]
    assert problems["capacity.max_dti"]["message"] == copy.field_message("less_than_equal", None, {"le": 1.0})
    assert problems["pd.training.resampler"]["message"].startswith(copy.FIELD_MESSAGES["literal_error"])
    assert "'none', 'over'" in problems["pd.training.resampler"]["message"]  # the values it admits
    assert err["message"].startswith(copy.POLICY_INVALID.format(path=path, problems=""))
    for key, p in problems.items():
        assert f"{key}: {p['message']}" in err["message"]
    _no_english(err["message"].replace("'none', 'over', 'under', 'both', 'smote'", ""), path)


def _sub(pattern: str, repl: str, count: int = 1) -> tuple[str, str, int]:
    return pattern, repl, count


# (what to change in the shipped policy, the key, the check's kind, its Spanish message)
CHECKS = [
    (
        _sub(r"\{ min = 25, label", "{ min = 1, label"),
        "bank_fit.bands",
        "bands_order",
        copy.POLICY_CHECKS["bands_order"],
    ),
    (
        _sub(r"(?m)^vehicle_price_min = .*$", "vehicle_price_min = 6000000"),
        "limits",
        "price_order",
        copy.POLICY_CHECKS["price_order"],
    ),
    (
        _sub(r"(?m)^term_options = .*$", "term_options = [12, 24, 96]"),
        "limits",
        "term_options_outside",
        "Los plazos 96 de term_options quedan fuera de term_months_min..term_months_max.",
    ),
    (
        _sub(r"(?m)^step = 0\.01$", "step = 0.03"),
        "fuzzy.variables.ingreso",
        "step_divides",
        "El paso 0.03 no divide max − min = 10.0.",
    ),
    (
        _sub(r'if = "ingreso is bajo and puntaje is malo"', 'if = "ingreso is bajisimo and puntaje is malo"'),
        "fuzzy",
        "rule_syntax",
        "rules[0] (F1): 'bajisimo' en la posición 11 no es un término de 'ingreso' (términos: bajo, medio, alto, "
        "mas_o_menos_alto, extremadamente_alto).",
    ),
    (
        _sub(r'if = "ingreso is bajo and puntaje is malo"', 'if = "ingreso bajo"'),
        "fuzzy",
        "rule_syntax",
        "rules[0] (F1): la condición no se entiende a partir de la posición 8.",
    ),
    (
        _sub(r'(?m)^then = "alto"$', 'then = "altisimo"'),
        "fuzzy",
        "rule_output_unknown",
        "rules[0] (F1): el término de salida 'altisimo' no está definido.",
    ),
    (
        _sub(r'(?m)^resampler = "none"$', 'resampler = "over"'),
        "pd.training",
        "resampled_needs_recalibration",
        copy.POLICY_CHECKS["resampled_needs_recalibration"],
    ),
    (
        _sub(r'down_payment = \["menos_15", "minimo_15"\]', 'down_payment = ["menos_15", "nada"]'),
        "",
        "strategy_unknown_codes",
        None,  # the codes the policy knows, listed: checked by their opening words
    ),
    (
        _sub(r"(?m)^\[products\.auto\]$", "[products.moto]"),
        "products",
        "product_required",
        "Falta [products.auto]: el motor evalúa créditos auto.",
    ),
    (
        _sub(r"(?m)^reject_term_above = 60$", "reject_term_above = 6"),
        "",
        "no_term_offered",
        "limits.term_options: ningún plazo es menor o igual que expert.reject_term_above = 6.",
    ),
]


@pytest.mark.parametrize(("change", "key", "kind", "expected"), CHECKS, ids=[c[2] for c in CHECKS])
def test_each_policy_check_is_spanish(
    tmp_path: Path, change: tuple[str, str, int], key: str, kind: str, expected: str | None
) -> None:
    pattern, repl, count = change
    text, n = re.subn(pattern, repl, DEFAULT, count=count)
    assert n == count, pattern
    path = _policy(tmp_path, text)
    r = runner.invoke(app, ["policy", "check", str(path)])
    err = _error(r.stderr)
    assert r.exit_code == 2 and err["code"] == "invalid_policy" and err["kind"] == "invalid_values", r.stderr
    [problem] = [p for p in err["problems"] if p["type"] == kind]
    assert problem["key"] == key
    if expected is None:
        assert problem["message"].startswith(
            "strategies.rules[2].when.down_payment: códigos desconocidos nada; usa algunos de "
        )
    else:
        assert problem["message"] == expected
    _no_english(err["message"], path)


def test_every_policy_check_has_spanish_words() -> None:
    """Each kind engine/policy/models.py raises (and each kind of a rule that does not parse) has its template."""
    models = (Path(__file__).parents[2] / "engine/policy/models.py").read_text(encoding="utf-8")
    kinds = set(re.findall(r'PolicyCheck\(\s*"(\w+)"', models))
    assert len(kinds) > 35 and kinds <= set(copy.POLICY_CHECKS), kinds - set(copy.POLICY_CHECKS)
    rules = (Path(__file__).parents[2] / "engine/fuzzy/rules.py").read_text(encoding="utf-8")
    syntax = set(re.findall(r'^\s+"(\w+)",$', rules, re.M)) & {
        "unexpected_character",
        "expected",
        "unknown_variable",
        "unknown_term",
    }
    assert syntax == set(copy.RULE_SYNTAX)


def test_the_api_policy_lab_speaks_the_same_spanish(tmp_path: Path) -> None:
    """POST /lab/… rendered the engine's English problems too; they come from the same templates now."""
    from engine.policy import PolicyError, parse_policy

    text = re.sub(r"(?m)^vehicle_price_min = .*$", "vehicle_price_min = 6000000", DEFAULT)
    with pytest.raises(PolicyError) as exc:
        parse_policy(text.encode(), Path("policy.toml"))
    assert "vehicle_price_min must be below vehicle_price_max" in str(exc.value)  # the English is for logs
    assert [copy.policy_problem(i) for i in exc.value.issues] == [copy.POLICY_CHECKS["price_order"]]


# ------------------------------------------------------------------------------------------ model registry
def test_an_unknown_model_name_is_spanish(tmp_path: Path) -> None:
    r = runner.invoke(app, ["train", "psi", "--name", "nope", "--model-dir", str(tmp_path)])
    err = _error(r.stderr)
    assert r.exit_code == 2 and err["code"] == "model_not_found" and err["field"] == "--name", r.stderr
    assert err["message"] == copy.REGISTRY_ERRORS["not_in_service"].format(name="nope", model_dir=tmp_path)
    assert err["kind"] == "not_in_service"
    _no_english(err["message"], tmp_path)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "no es JSON válido (línea 1, columna 2)"),
        (None, "no existe"),
    ],
)
def test_an_unreadable_artifact_is_spanish(tmp_path: Path, content: str | None, reason: str) -> None:
    (tmp_path / "nope" / "v1").mkdir(parents=True)
    (tmp_path / "nope" / "current").write_text("v1\n", encoding="utf-8")
    artifact = tmp_path / "nope" / "v1" / "model.json"
    if content is not None:
        artifact.write_text(content, encoding="utf-8")
    r = runner.invoke(app, ["train", "psi", "--name", "nope", "--model-dir", str(tmp_path)])
    err = _error(r.stderr)
    assert r.exit_code == 2 and err["code"] == "model_not_found" and err["kind"] == "unreadable_artifact", r.stderr
    assert err["message"] == copy.REGISTRY_ERRORS["unreadable_artifact"].format(file=artifact, reason=reason)
    _no_english(err["message"], artifact)


def test_something_that_is_not_an_artifact_is_spanish(tmp_path: Path) -> None:
    (tmp_path / "nope" / "v1").mkdir(parents=True)
    (tmp_path / "nope" / "current").write_text("v1\n", encoding="utf-8")
    artifact = tmp_path / "nope" / "v1" / "model.json"
    artifact.write_text("{}", encoding="utf-8")
    err = _error(runner.invoke(app, ["train", "psi", "--name", "nope", "--model-dir", str(tmp_path)]).stderr)
    assert err["message"] == copy.REGISTRY_ERRORS["not_an_artifact"].format(file=artifact)


def test_promoting_an_unknown_version_is_spanish(tmp_path: Path) -> None:
    args = ["train", "promote", "v9", "--name", "nope", "--reason", "prueba", "--model-dir", str(tmp_path)]
    r = runner.invoke(app, args)
    err = _error(r.stderr)
    assert r.exit_code == 2 and err["code"] == "model_not_found" and err["kind"] == "unknown_version", r.stderr
    assert err["message"] == f"No existe la versión 'v9' de 'nope' en {tmp_path} (hay: ninguno)."
    _no_english(err["message"], tmp_path)


def test_a_model_in_service_that_cannot_serve_is_spanish(tmp_path: Path) -> None:
    """`current` names a version whose artifact is gone: ModelUnavailable, classified by cli.errors (exit 3)."""
    (tmp_path / "applicant").mkdir()
    (tmp_path / "applicant" / "current").write_text("applicant-gone\n", encoding="utf-8")
    profile = (Path(__file__).parents[2] / "examples" / "profile.json").read_text(encoding="utf-8")
    r = runner.invoke(app, ["assess", "--model-dir", str(tmp_path)], input=profile)
    err = _error(r.stderr)
    assert r.exit_code == 3 and err["code"] == "model_unavailable" and err["kind"] == "unreadable", r.stderr
    artifact = tmp_path / "applicant" / "applicant-gone" / "model.json"
    assert (
        f"(falta su artefacto o no se puede leer: no se pudo leer el artefacto {artifact}: no existe)"
        in (err["message"])
    )
    _no_english(err["message"], artifact, tmp_path)


# ------------------------------------------------------------------------------------------ ETL
def _etl(tmp_path: Path, file: Path, source: str = "taiwan") -> tuple[int, dict]:
    url = f"sqlite:///{tmp_path / 'etl.db'}"
    r = runner.invoke(app, ["etl", "load", str(file), "--source", source, "--url", url, "--no-migrate"])
    return r.exit_code, _error(r.stderr)


def test_etl_refusals_are_spanish(tmp_path: Path) -> None:
    missing = tmp_path / "no-existe.csv"
    code, err = _etl(tmp_path, missing)
    assert code == 2 and err["code"] == "invalid_etl_input" and err["kind"] == "file_not_found", err
    assert err["message"] == copy.ETL_ERRORS["file_not_found"].format(file=missing)
    _no_english(err["message"], missing)

    wrong = tmp_path / "columnas.csv"
    wrong.write_text("ID,X1,foo,foo\n1,2,3,4\n", encoding="utf-8")
    code, err = _etl(tmp_path, wrong)
    assert code == 2 and err["kind"] == "columns_mismatch" and err["unexpected_columns"] == ["foo", "foo"], err
    assert err["message"].startswith(
        f"Las columnas del archivo {wrong} no corresponden a la fuente 'taiwan': faltan X2, X3, "
    )
    assert err["message"].endswith("; sobran foo, foo. Columnas repetidas: foo.")
    _no_english(err["message"], wrong)

    empty = tmp_path / "vacio.csv"
    empty.write_text("", encoding="utf-8")
    code, err = _etl(tmp_path, empty)
    assert err["message"] == f"El archivo {empty} está vacío (no tiene encabezado)."

    binary = tmp_path / "binario.csv"
    binary.write_bytes(b"\xff\xfe\x00x\n")
    code, err = _etl(tmp_path, binary)
    assert code == 2 and err["message"] == f"El archivo {binary} no es texto utf-8-sig."

    code, err = _etl(tmp_path, wrong, source="nada")
    assert code == 2 and err["kind"] == "unknown_source" and err["field"] == "--source", err
    assert err["message"] == (
        "Fuente desconocida 'nada': usa una de scoring_bancario, german, taiwan, asesor o la ruta de un archivo "
        "MAPEO.toml."
    )


def test_a_malformed_csv_is_spanish(tmp_path: Path) -> None:
    """A header csv cannot read (a field over its 131,072-character limit) was exit 70, 'Error inesperado'."""
    bad = tmp_path / "roto.csv"
    bad.write_text('ID,"' + "x" * 140_000 + '"\n', encoding="utf-8")
    code, err = _etl(tmp_path, bad)
    assert code == 2 and err["kind"] == "malformed_csv" and err["line"] == 1, err
    assert err["message"] == copy.ETL_ERRORS["malformed_csv"].format(file=bad, line=1)
    _no_english(err["message"], bad)


def test_an_invalid_mapping_file_is_spanish(tmp_path: Path) -> None:
    mapping = tmp_path / "mapeo.toml"
    mapping.write_text(
        '[source]\nname = "banco"\n[target]\ncolumn = "mora"\ndefault_values = ["si"]\ngood_values = ["no"]\n'
        '[columns]\nmora = { type = "category" }\nedad = { type = "entero" }\n',
        encoding="utf-8",
    )
    data = tmp_path / "datos.csv"
    data.write_text("mora,edad\nsi,3\n", encoding="utf-8")
    code, err = _etl(tmp_path, data, source=str(mapping))
    assert code == 2 and err["kind"] == "invalid_mapping" and "detail" not in err, err
    assert err["message"].startswith(
        f"El mapeo {mapping} no es válido: columns.mora: una columna de categorías necesita `values`. "
        f"columns.edad.type: {copy.FIELD_MESSAGES['literal_error']} Se espera 'int', 'float', "
    )
    mapping.write_text("[source\n", encoding="utf-8")
    code, err = _etl(tmp_path, data, source=str(mapping))
    assert err["message"] == f"El mapeo {mapping} no es válido: no es TOML válido (línea 1, columna 8)."


# ------------------------------------------------------------------------------- `asesor train`'s datasets
def test_dataset_definitions_are_refused_in_spanish(tmp_path: Path) -> None:
    r = runner.invoke(app, ["train", "report", "--dataset", "nada"])
    err = _error(r.stderr)
    assert r.exit_code == 2 and err["code"] == "invalid_dataset" and err["kind"] == "unknown_dataset", r.stderr
    assert err["field"] == "--dataset"
    assert (
        err["message"] == "Conjunto de datos desconocido 'nada'; los incluidos son: german, scoring_bancario, taiwan."
    )
    _no_english(err["message"])

    missing = tmp_path / "no-existe.toml"
    err = _error(runner.invoke(app, ["train", "report", "--dataset-file", str(missing)]).stderr)
    assert err["field"] == "--dataset-file" and err["kind"] == "definition_unreadable", err
    assert err["message"] == f"No se pudo leer la definición de datos {missing}: no existe."

    broken = tmp_path / "rota.toml"
    broken.write_text("[x\n", encoding="utf-8")
    err = _error(runner.invoke(app, ["train", "report", "--dataset-file", str(broken)]).stderr)
    assert err["message"] == f"No se pudo leer la definición de datos {broken}: no es TOML válido (línea 1, columna 3)."

    nowhere = tmp_path / "sin-datos.toml"
    nowhere.write_text('name = "d"\nfile = "/no/existe.csv"\ntarget = "y"\npositive = 1\n', encoding="utf-8")
    err = _error(runner.invoke(app, ["train", "report", "--dataset-file", str(nowhere)]).stderr)
    assert err["kind"] == "data_not_found", err
    assert err["message"] == (
        "No se encontró el archivo de datos de 'd' (se buscó en /no/existe.csv; define ASESOR_SHARED_DATA)."
    )
    _no_english(err["message"])


def test_policy_replay_names_why_it_cannot_read_the_policy(tmp_path: Path) -> None:
    missing = tmp_path / "no-existe.toml"
    r = runner.invoke(app, ["policy", "replay", "--policy", str(missing)])
    err = _error(r.stderr)
    assert r.exit_code == 2 and err["code"] == "invalid_policy" and err["field"] == "--policy", r.stderr
    assert err["message"] == copy.ERR_CANNOT_READ.format(path=missing, reason="no existe")  # not "[Errno 2] No such…"
