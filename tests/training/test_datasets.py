from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from engine.training.datasets import (
    SHARED_DATA_ENV,
    DatasetDefinition,
    DatasetError,
    builtin_names,
    load_dataset,
    load_definition,
    prepare,
    resolve_data_path,
)


def test_shipped_definitions_name_the_three_datasets() -> None:
    assert builtin_names() == ["german", "scoring_bancario", "taiwan"]
    sb = load_definition("scoring_bancario")
    assert (sb.target, sb.positive, sb.drop, sb.ead_column) == ("Incumplimiento", 1, ("Empleado",), "Valor_prestamo")
    assert load_definition("german").positive == "bad"
    assert load_definition("taiwan").rename["X1"] == "LIMIT_BAL"


def test_definition_file_reads_data_beside_it(dataset, frame: pd.DataFrame) -> None:
    assert list(dataset.X.columns) == ["deuda", "cuentas", "ruido", "zona", "monto"]  # id dropped, target split off
    assert dataset.y.tolist() == frame["malo"].tolist()
    assert dataset.categorical == ["zona"] and "zona" not in dataset.numeric
    assert len(dataset.sha256) == 64


def test_shared_root_is_handed_in_not_read_from_the_environment(
    tmp_path: Path, frame: pd.DataFrame, monkeypatch
) -> None:
    (tmp_path / "sub").mkdir()
    frame.to_csv(tmp_path / "sub" / "d.csv", index=False)
    defn = DatasetDefinition.from_mapping({"name": "x", "file": "sub/d.csv", "target": "malo", "positive": 1})
    assert resolve_data_path(defn, shared_root=tmp_path) == tmp_path / "sub" / "d.csv"
    monkeypatch.setenv(SHARED_DATA_ENV, str(tmp_path))  # the engine ignores it: core.config reads it
    with pytest.raises(DatasetError, match=f"not found.*{SHARED_DATA_ENV}"):
        resolve_data_path(defn, shared_root=tmp_path / "nowhere")


def test_scoring_bancario_is_read_from_the_shared_folder_not_the_repo() -> None:
    path = resolve_data_path(load_definition("scoring_bancario"))
    repo = Path(__file__).resolve().parents[2]
    assert path.is_file() and repo not in path.resolve().parents


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "x", "file": "f.csv", "target": "malo"}, "lacks positive"),
        ({"name": "x", "file": "f.csv", "target": "malo", "positive": 1, "colour": "red"}, "unknown keys"),
    ],
)
def test_bad_definitions_are_refused(raw: dict, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        DatasetDefinition.from_mapping(raw)


def test_prepare_checks_positive_class_and_text_columns(frame: pd.DataFrame) -> None:
    defn = DatasetDefinition.from_mapping({"name": "x", "file": "f", "target": "malo", "positive": "bad"})
    with pytest.raises(DatasetError, match="positive class"):
        prepare(frame, defn)
    defn = DatasetDefinition.from_mapping({"name": "x", "file": "f", "target": "malo", "positive": 1})
    with pytest.raises(DatasetError, match="zona"):  # a text column not declared categorical
        prepare(frame, defn)


def test_unknown_dataset_name() -> None:
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_definition("nope")


def test_german_definition_loads_the_shared_file() -> None:
    ds = load_dataset(load_definition("german"))
    assert len(ds.y) == 1000 and int(ds.y.sum()) == 300
    assert set(ds.categorical) == set(load_definition("german").categorical)
