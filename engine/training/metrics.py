"""Validation metrics of the seed (confusion matrix, precision, recall, F1, ROC-AUC) plus KS, Gini and Brier."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve


@dataclass(frozen=True)
class Metrics:
    threshold: float
    tn: int
    fp: int
    fn: int
    tp: int
    precision: float
    recall: float
    f1: float
    accuracy: float
    roc_auc: float
    ks: float
    gini: float
    brier: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def ks_statistic(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov–Smirnov: the largest gap between the score CDFs of defaulters and non-defaulters."""
    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


def evaluate(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> Metrics:
    """Metrics of PD `p` against outcomes `y`; a client is predicted to default when p >= threshold (R's 0.5)."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    pred = p >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    tn = int(np.sum(~pred & (y == 0)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
    return Metrics(
        threshold=threshold,
        tn=tn,
        fp=fp,
        fn=fn,
        tp=tp,
        precision=precision,
        recall=recall,
        f1=f1,
        accuracy=(tp + tn) / len(y),
        roc_auc=auc,
        ks=ks_statistic(y, p),
        gini=2 * auc - 1,
        brier=float(brier_score_loss(y, p)),
    )


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) of the cut-off `p >= threshold` with the highest F1 on these rows."""
    from sklearn.metrics import precision_recall_curve

    prec, rec, thr = precision_recall_curve(np.asarray(y).astype(int), np.asarray(p, dtype=float))
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.nan_to_num(2 * prec * rec / (prec + rec))[:-1]  # the last point has no threshold
    i = int(np.argmax(f1))
    return float(thr[i]), float(f1[i])


def auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUC: how far two honest runs may differ by sampling alone."""
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return float(np.sqrt(max(var, 0.0)))


def approval_rate(p: np.ndarray, approve_pd_below: float) -> float:
    """Share of applicants whose PD is below the policy's approval cut-off."""
    p = np.asarray(p, dtype=float)
    return float(np.mean(p < approve_pd_below)) if len(p) else float("nan")


def expected_loss(pd_: np.ndarray, ead: np.ndarray, lgd: float) -> float:
    """Σ PD·LGD·EAD."""
    return float(np.sum(np.asarray(pd_, dtype=float) * lgd * np.asarray(ead, dtype=float)))
