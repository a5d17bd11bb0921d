"""Figures of the report as base64 PNG strings (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve

from engine.training.study import StudyResult


def _png(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def roc_png(study: StudyResult) -> str:
    fig, ax = plt.subplots(figsize=(6, 5))
    y = study.split.y_valid.to_numpy()
    for r in study.strategies:
        fpr, tpr, _ = roc_curve(y, r.pd_raw)
        ax.plot(fpr, tpr, lw=1.5, label=f"{r.strategy} (AUC {r.metrics.roc_auc:.4f})")
    fpr, tpr, _ = roc_curve(y, -study.scorecard_valid_score)
    ax.plot(fpr, tpr, lw=1, ls="--", label=f"scorecard (AUC {study.scorecard_metrics.roc_auc:.4f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set(xlabel="Tasa de falsos positivos", ylabel="Tasa de verdaderos positivos", title="Curva ROC (validación)")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def calibration_png(study: StudyResult) -> str:
    n = len(study.strategies)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.4), squeeze=False)
    for ax, r in zip(axes[0], study.strategies, strict=True):
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
        ax.plot(*r.reliability_raw, "o-", ms=3, label=f"antes (Brier {r.brier_raw:.4f})")
        ax.plot(*r.reliability_calibrated, "s-", ms=3, label=f"después (Brier {r.brier_calibrated:.4f})")
        ax.set(title=r.strategy, xlabel="PD media predicha", xlim=(0, 1), ylim=(0, 1))
        ax.legend(loc="upper left", fontsize=7)
    axes[0][0].set_ylabel("Tasa observada de incumplimiento")
    fig.suptitle("Curvas de confiabilidad antes y después de recalibrar (validación)", fontsize=10)
    return _png(fig)


def score_distribution_png(study: StudyResult) -> str:
    y = study.split.y_valid.to_numpy()
    chosen_score = study.scaling.score_from_pd(study.chosen.pd_calibrated)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, score, title in (
        (axes[0], chosen_score, f"Modelo elegido ({study.chosen.strategy}), PD recalibrada → puntaje"),
        (axes[1], study.scorecard_valid_score, "Scorecard WoE (puntos)"),
    ):
        bins = np.linspace(np.min(score), np.max(score), 40)
        ax.hist(score[y == 0], bins=bins, alpha=0.6, density=True, label="cumplió")
        ax.hist(score[y == 1], bins=bins, alpha=0.6, density=True, label="incumplió")
        ax.set(title=title, xlabel="puntaje", ylabel="densidad")
        ax.legend(fontsize=8)
    return _png(fig)
