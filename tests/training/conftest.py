"""Small synthetic credit data for the training pipeline: known signal, a pure-noise column, one factor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.training.datasets import Dataset, DatasetDefinition


def make_frame(n: int = 3000, seed: int = 0, base_rate_shift: float = -2.4) -> pd.DataFrame:
    """Defaults driven by `deuda` (+), `cuentas` (−) and the factor `zona`; `ruido` has no effect at all."""
    rng = np.random.default_rng(seed)
    deuda = rng.normal(0, 1, n)
    cuentas = rng.poisson(1.5, n)
    ruido = rng.normal(0, 1, n)
    zona = rng.choice(["norte", "centro", "sur"], n, p=[0.3, 0.5, 0.2])
    monto = rng.uniform(1000, 5000, n)
    z = base_rate_shift + 1.4 * deuda - 0.8 * (cuentas - 1.5) + np.where(zona == "sur", 0.9, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return pd.DataFrame(
        {
            "deuda": deuda,
            "cuentas": cuentas,
            "ruido": ruido,
            "zona": zona,
            "monto": monto,
            "id": np.arange(n),
            "malo": y,
        }
    )


DEFINITION_TOML = """
name = "sintetico"
title = "Datos sintéticos de prueba"
file = "sintetico.csv"
target = "malo"
positive = 1
drop = ["id"]
categorical = ["zona"]
ead_column = "monto"
ead_note = "EAD = monto × factor"

[seed_reference]
chosen_strategy = "smote"
roc_auc = 0.80
train_rows = 1790
"""


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture
def definition_file(tmp_path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(tmp_path / "sintetico.csv", index=False)
    path = tmp_path / "sintetico.toml"
    path.write_text(DEFINITION_TOML, encoding="utf-8")
    return path


@pytest.fixture
def dataset(definition_file: Path) -> Dataset:
    from engine.training.datasets import load_dataset, load_definition

    return load_dataset(load_definition(path=definition_file))


@pytest.fixture
def definition(definition_file: Path) -> DatasetDefinition:
    from engine.training.datasets import load_definition

    return load_definition(path=definition_file)
