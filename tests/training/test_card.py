"""The applicant model card and the candidates' comparison (issue #16 items 2–3), with few folds for speed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli.main import app
from engine.pd import features as F
from engine.policy import default_policy
from engine.training.applicant import load_german
from engine.training.candidates import (
    CANDIDATES,
    STABILITY_FACTOR,
    CandidateScores,
    Comparison,
    Folds,
    compare_candidates,
)
from engine.training.card import build_card, render_markdown

POLICY = default_policy()
FEW = Folds(n_splits=3, n_repeats=1, seed=7)


@pytest.fixture(scope="module")
def german() -> tuple[np.ndarray, np.ndarray]:
    df, _ = load_german()
    return F.encode_german(df, POLICY.pd.training.credit_history_reading, F.german_clip(df))


@pytest.fixture(scope="module")
def card() -> dict:
    return build_card(POLICY, folds=FEW, candidates=("served", "logit"), rates=(0.05, 0.20))[0]


def test_every_candidate_is_judged_on_the_same_folds(german: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = german
    comparison = compare_candidates(X, y, POLICY.pd.training, FEW, CANDIDATES)
    expected = hashlib.sha256()
    for _, te in FEW.split(y):
        expected.update(np.asarray(te, dtype=np.int64).tobytes())
    assert {s.folds_digest for s in comparison.scores.values()} == {expected.hexdigest()}
    for s in comparison.scores.values():
        assert len(s.auc) == len(s.brier) == len(s.log_loss) == 3
        assert 0.6 < s.auc.mean() < 0.8 and s.brier.mean() < 0.21  # each beats a constant 30 % guess
        assert not np.isnan(s.oof_first_repeat).any()  # the first repeat predicts every row once
    # another seed makes other folds, so other figures
    other = compare_candidates(X, y, POLICY.pd.training, Folds(3, 1, 8), ("logit",))
    assert other.scores["logit"].folds_digest != comparison.scores["logit"].folds_digest
    assert other.scores["logit"].auc.mean() != comparison.scores["logit"].auc.mean()


def _scores(name: str, auc: np.ndarray, brier: np.ndarray) -> CandidateScores:
    return CandidateScores(name, auc, brier, brier * 3, 0.0, "same", np.zeros(1))


def test_the_simpler_model_is_recommended_when_the_better_one_is_within_noise() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(0.71, 0.03, 50)
    brier = rng.normal(0.19, 0.01, 50)
    noisy = base + 0.004 + rng.normal(0, 0.02, 50)  # a little better on average, by less than the noise
    comp = Comparison(
        Folds(5, 10), 1000, 0.2, {"served": _scores("served", base, brier), "gbm": _scores("gbm", noisy, brier)}
    )
    rec = comp.recommend()
    assert rec["best_auc"] == "gbm" and rec["recommended"] == "served"
    clearly = base + 0.03 + rng.normal(0, 0.002, 50)  # better in every fold, beyond the noise
    comp = Comparison(
        Folds(5, 10), 1000, 0.2, {"served": _scores("served", base, brier), "gbm": _scores("gbm", clearly, brier)}
    )
    rec = comp.recommend()
    assert rec["recommended"] == "gbm" and not rec["verdicts"]["served"]["within_noise"]


def test_a_simpler_model_within_noise_but_unsteady_across_folds_is_not_recommended() -> None:
    rng = np.random.default_rng(1)
    shared = rng.normal(0, 0.02, 50)  # the test folds' own noise, common to both candidates
    steady = 0.71 + shared
    # the same mean AUC, but a swing of its own with the training rows: its sd is about 3 times the steady one's
    swinging = 0.71 + shared + rng.normal(0, 0.055, 50)
    swinging += steady.mean() - swinging.mean()
    brier = rng.normal(0.19, 0.01, 50)
    scores = {"served": _scores("served", swinging, brier), "gbm": _scores("gbm", steady + 0.001, brier)}
    rec = Comparison(Folds(5, 10), 1000, 0.2, scores).recommend()
    served, gbm = rec["verdicts"]["served"], rec["verdicts"]["gbm"]
    assert rec["best_auc"] == "gbm" and served["within_noise"] and gbm["within_noise"]  # as good on AUC and Brier
    assert rec["stability_reference"] == "gbm" and rec["stability_judged"]
    assert served["auc_sd_ratio"] > STABILITY_FACTOR and served["stable"] is False and not served["as_good"]
    assert gbm["auc_sd_ratio"] == 1.0 and gbm["stable"] and gbm["as_good"]
    assert rec["recommended"] == "gbm"  # the simplest is not chosen: it is not stable
    assert f"{STABILITY_FACTOR:g} veces" in rec["rule"]
    # with a handful of folds the sd is not judged: the simplest within noise is chosen again
    few = {n: _scores(n, s.auc[:3], s.brier[:3]) for n, s in scores.items()}
    rec = Comparison(Folds(3, 1), 1000, 1 / 3, few).recommend()
    assert not rec["stability_judged"] and rec["verdicts"]["served"]["stable"] is None
    assert rec["verdicts"]["served"]["within_noise"] and rec["recommended"] == "served"


def test_the_card_heads_with_cv_mean_and_sd_and_keeps_the_holdout_beside(card: dict) -> None:
    h = card["headline"]
    assert h["n_repeats"] == 1 and h["n_splits"] == 3
    md = render_markdown(card)
    for metric in ("auc", "brier", "log_loss"):
        assert f"{h[metric]['mean']:.4f} ± {h[metric]['sd']:.4f}" in md
        assert h[metric]["sd"] > 0
    assert f"{card['holdout']['auc']:.4f}" in md
    oof = card["calibration"]["out_of_fold"]
    assert len(oof["reliability"]) == 10 and sum(r["rows"] for r in oof["reliability"]) == 1000
    assert f"pendiente de calibración {oof['calibration_slope']:.3f}" in md
    assert "Uso previsto" in md and "No previsto" in md
    rec = card["candidates"]["recommendation"]
    assert "sd del AUC ÷ la del más estable" in md and not rec["stability_judged"]  # 3 folds: shown, not judged
    assert all(v["stable"] is None and v["auc_sd"] > 0 for v in rec["verdicts"].values())
    json.dumps(card)  # the JSON beside the Markdown


def test_the_prior_shift_is_a_stated_assumption_with_its_effect_shown(card: dict) -> None:
    ps = card["prior_shift"]
    assert ps["assumed_rate"] == POLICY.pd.mapping.portfolio_bad_rate
    rates = [r["rate"] for r in ps["rows"]]
    assert rates == [None, 0.05, ps["assumed_rate"], 0.20]
    means = [r["mean_pd"] for r in ps["rows"][1:]]
    assert means == sorted(means)  # a higher assumed rate shows a higher PD
    # P1/P2 read scores anchored at the book: the verdict does not move; read literally the mix does
    assert len({tuple(r["served_pd_rules"].values()) for r in ps["rows"]}) == 1
    assert len({tuple(r["literal"].values()) for r in ps["rows"]}) == len(rates)
    assert card["expected_loss_inputs"]["source"] == POLICY.product.source
    md = render_markdown(card)
    assert "SUPUESTO" in md and POLICY.product.source in md


def test_card_command_writes_both_files_and_promote_cites_the_comparison(tmp_path: Path) -> None:
    runner = CliRunner()
    models, out = tmp_path / "models", tmp_path / "card"
    res = runner.invoke(
        app,
        [
            "train",
            "card",
            "--repeats",
            "1",
            "--folds",
            "3",
            "--candidates",
            "served,logit",
            "--out",
            str(out),
            "--model-dir",
            str(models),
        ],
    )
    assert res.exit_code == 0, res.stderr
    body = json.loads(res.stdout)
    assert (out / "MODEL_CARD.md").read_text(encoding="utf-8").startswith("# Ficha del modelo")
    assert json.loads((out / "model_card.json").read_text(encoding="utf-8"))["model_version"] == body["model_version"]
    res = runner.invoke(app, ["train", "applicant", "--model-dir", str(models)])
    assert res.exit_code == 0, res.stderr
    version = json.loads(res.stdout)["model_version"]
    assert version == body["model_version"]  # the card describes the version training writes
    res = runner.invoke(
        app,
        ["train", "promote", version, "--name", "applicant", "--model-dir", str(models), "--reason", "ficha revisada"],
    )
    assert res.exit_code == 0, res.stderr
    record = json.loads(res.stdout)
    assert record["comparison"]["kind"] == "candidates_same_folds"
    assert record["comparison"]["recommendation"]["recommended"] == body["recommended"]


def test_card_command_refuses_an_unknown_candidate(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["train", "card", "--candidates", "served,magic", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert json.loads(res.stderr)["error"]["code"] == "invalid_candidates"
