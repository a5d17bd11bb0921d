from __future__ import annotations

import base64
import json
import re

import numpy as np

from engine.policy import default_policy
from engine.training.report import build_tables, render_html, render_markdown
from engine.training.resampling import STRATEGIES
from engine.training.study import artifact_body, run_study


def test_study_renders_tables_and_images(dataset) -> None:
    steps: list[str] = []
    study = run_study(dataset, default_policy(), seed=3, progress=steps.append)
    assert steps == ["partición", *(f"estrategia {s}" for s in STRATEGIES), "scorecard"]
    # picked by F1, as the seed does
    assert study.chosen.metrics.f1 == max(r.metrics.f1 for r in study.strategies)
    # expected loss of the validation clients: Σ PD·LGD·EAD with the policy's LGD and EAD factor
    pol = default_policy().product
    ead = study.split.X_valid["monto"].to_numpy() * pol.ead_factor
    assert np.isclose(study.chosen.el_calibrated, np.sum(study.chosen.pd_calibrated * pol.lgd * ead))

    tables = build_tables(study)
    html = render_html(study, tables)
    md = render_markdown(study, tables)
    assert html.count("<table") >= 8
    for heading in (
        "Métricas en validación",
        "Calibración",
        "Pérdida esperada",
        "Scorecard",
        "Diferencias con la semilla",
    ):
        assert heading in html
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 3
    assert all(base64.b64decode(b)[:8] == b"\x89PNG\r\n\x1a\n" for b in images)
    assert "http" not in html.split("<body>")[1]  # self-contained: no outside resource
    assert f"`{study.chosen.strategy}`" in md and "| estrategia |" in md
    assert "ROC-AUC del modelo elegido" in md  # the seed-reference table of the definition


def test_artifact_body_is_plain_json(dataset) -> None:
    study = run_study(dataset, default_policy(), seed=3, strategies=("none", "smote"))
    body = artifact_body(study)
    text = json.dumps(body)  # no numpy objects, no pickle
    again = json.loads(text)
    assert again["data_sha256"] == dataset.sha256
    assert again["strategy"] == study.chosen.strategy
    assert set(again["reference"]) == {*dataset.X.columns, "score"}
