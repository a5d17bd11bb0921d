"""Candidate applicant PD models compared in the SAME repeated stratified folds (issue #16 item 3).

Candidates, all on the features the dialog can supply (engine.pd.features, German Credit):
- `served`: the procedure the policy's [pd.training] describes (engine.training.applicant.train_model: the
  monotone constrained logistic regression, with its resampling and Platt step when configured);
- `logit`: a plain scikit-learn logistic regression (standardised columns, the same L2 C), no bounds;
- `resampled`: the served fit after random over-sampling to 50/50 and Platt on out-of-fold logits (what was
  served before issue #16), to show what resampling plus recalibration adds;
- `scorecard`: a monotone WoE scorecard: optbinning's optimal binning per feature group (event rate
  monotone in the direction the answer order says, minimum bin size 5 %, its special and missing bins),
  then a logistic regression on the WoE;
- `gbm`: scikit-learn's HistGradientBoostingClassifier with monotone constraints (PD never falls as an
  answer gets worse; age free), shallow and regularised for 1,000 rows.

Every candidate is fitted on the training part of each fold and judged on its held-out part; the folds are
built once (RepeatedStratifiedKFold, seeded) and shared. Reported per candidate: mean ± sd over folds of
ROC-AUC, Brier and log-loss (the sd is the stability), and paired differences against the best.

Recommendation rule (`recommend`): a candidate is AS GOOD as the best when (1) its AUC is not worse than the best
AUC beyond noise, (2) its Brier is not worse than the best Brier beyond noise, and (3) it is stable: its
fold-to-fold AUC sd is at most `STABILITY_FACTOR` (1.5) times the smallest AUC sd among the candidates that meet
(1) and (2); among the candidates as good, take the SIMPLEST (order `SIMPLICITY`). "Beyond noise" = the mean
paired difference over folds exceeds two standard errors with the Nadeau–Bengio correction (folds of repeated CV
share rows, so the naive standard error is too small): se² = (1/J + n_test/n_train)·s². Stability is judged
only with at least `MIN_STABILITY_FOLDS` (10) folds; with fewer, the sd of 3–5 values is too rough to rank
candidates by, so it is shown but not judged (`stable` is None and does not exclude).
"""

from __future__ import annotations

import hashlib
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.pd import features as F
from engine.policy.models import PDTraining

CANDIDATES: tuple[str, ...] = ("served", "logit", "resampled", "scorecard", "gbm")
# simplest first. `served` leads `logit`: the same number of coefficients, but monotone in every answer (a
# requirement, docs/pd.md §2) and already in service; `resampled` adds two steps (over-sampling, Platt), the
# scorecard adds binning, boosting adds trees.
SIMPLICITY: tuple[str, ...] = ("served", "logit", "resampled", "scorecard", "gbm")
LABELS = {
    "served": "modelo servido ([pd.training]: logística con restricciones monótonas)",
    "logit": "regresión logística simple (scikit-learn, sin restricciones)",
    "resampled": "la logística servida con sobremuestreo 50/50 y Platt fuera de pliegue (el procedimiento anterior)",
    "scorecard": "scorecard WoE monótono (optbinning, tramo mínimo 5 %, tramos especial y faltante)",
    "gbm": "gradient boosting con restricciones monótonas (HistGradientBoosting)",
}
GROUP_NAMES: tuple[str, ...] = tuple(F.GROUPS)
# +1: PD may only rise with the group's value (all answers are encoded worse = higher); age is left free
MONOTONE: tuple[int, ...] = tuple(0 if g == "age" else 1 for g in GROUP_NAMES)
NOISE_SE = 2.0
# Stability, condition (3) of `recommend`. A candidate's fold-to-fold AUC sd holds the test-fold sampling noise,
# which every candidate shares (the same folds), plus its own sensitivity to the rows it was fitted on. At a ratio
# of 1.5 to the steadiest contender the variance is 2.25 times as large: the excess alone exceeds the steadiest
# contender's whole variance, shared noise included, so the candidate swings more with its training rows than the
# test folds make anything swing. The sd judged is the AUC's: P1/P2 read the cut-offs as scores on the
# book-anchored scale, so the decisions rest on the ranking; the Brier sd is reported beside it. The reference is
# the steadiest candidate that meets (1) and (2), not the steadiest overall: a steady but worse model is no
# alternative and must not disqualify the good ones, and the steadiest contender always passes, so the rule
# names a model whenever one is within noise on AUC and Brier.
STABILITY_FACTOR = 1.5
# below this many folds (e.g. the quick 1 × 3) the sd of a handful of values is itself noise: a 1 × 3 run on
# German Credit puts `served` at 1.97× the scorecard's AUC sd, 2 × 5 at 1.24×, 10 × 5 at 1.12×
MIN_STABILITY_FOLDS = 10
_EPS = 1e-12


def _sd(a: np.ndarray) -> float:
    return float(a.std(ddof=1)) if len(a) > 1 else 0.0


def group_matrix(X: np.ndarray) -> np.ndarray:
    """One column per feature group: an ordinal group's rank (the sum of its cumulative steps), else the column."""
    X = np.asarray(X, dtype=float)
    return np.column_stack([X[:, list(ix)].sum(axis=1) for ix in F.GROUPS.values()])


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    q = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    y = np.asarray(y, dtype=float)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, dtype=float) - np.asarray(y, dtype=float)) ** 2))


def auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


# ------------------------------------------------------------------------------------------ candidates
Predictor = Callable[[np.ndarray], np.ndarray]


def fit_served(X: np.ndarray, y: np.ndarray, cfg: PDTraining, seed: int) -> Predictor:
    from engine.training.applicant import train_model

    model = train_model(X, y, cfg, seed)
    return model.proba


def fit_logit(X: np.ndarray, y: np.ndarray, cfg: PDTraining, seed: int) -> Predictor:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=cfg.l2_c, max_iter=5000))
    pipe.fit(X, y)
    return lambda Xt: pipe.predict_proba(Xt)[:, 1]


def fit_resampled(X: np.ndarray, y: np.ndarray, cfg: PDTraining, seed: int) -> Predictor:
    """The procedure served until issue #16: random over-sampling to 50/50, then Platt on out-of-fold logits."""
    return fit_served(X, y, cfg.model_copy(update={"resampler": "over", "recalibration": "platt"}), seed)


def fit_scorecard(X: np.ndarray, y: np.ndarray, cfg: PDTraining, seed: int) -> Predictor:
    import pandas as pd
    from optbinning import BinningProcess
    from sklearn.linear_model import LogisticRegression

    names = list(GROUP_NAMES)
    trend = {g: ("ascending" if m > 0 else "auto_asc_desc") for g, m in zip(names, MONOTONE, strict=True)}
    process = BinningProcess(
        names,
        min_bin_size=0.05,
        binning_fit_params={g: {"monotonic_trend": trend[g]} for g in names},
    )
    frame = pd.DataFrame(group_matrix(X), columns=names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optbinning's solver chatter on tiny bins
        process.fit(frame, y)
        woe = process.transform(frame, metric="woe")
    lr = LogisticRegression(C=cfg.l2_c, max_iter=5000).fit(woe.to_numpy(), y)

    def predict(Xt: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = process.transform(pd.DataFrame(group_matrix(Xt), columns=names), metric="woe")
        return np.asarray(lr.predict_proba(w.to_numpy())[:, 1])

    return predict


def fit_gbm(X: np.ndarray, y: np.ndarray, cfg: PDTraining, seed: int) -> Predictor:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=150,
        max_leaf_nodes=6,
        min_samples_leaf=30,
        l2_regularization=1.0,
        monotonic_cst=list(MONOTONE),
        early_stopping=False,
        random_state=seed,
    )
    model.fit(group_matrix(X), y)
    return lambda Xt: model.predict_proba(group_matrix(Xt))[:, 1]


FITTERS: dict[str, Callable[[np.ndarray, np.ndarray, PDTraining, int], Predictor]] = {
    "served": fit_served,
    "logit": fit_logit,
    "resampled": fit_resampled,
    "scorecard": fit_scorecard,
    "gbm": fit_gbm,
}


# ---------------------------------------------------------------------------------------------- folds
@dataclass(frozen=True)
class Folds:
    n_splits: int = 5
    n_repeats: int = 10
    seed: int = 0

    def split(self, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        from sklearn.model_selection import RepeatedStratifiedKFold

        cv = RepeatedStratifiedKFold(n_splits=self.n_splits, n_repeats=self.n_repeats, random_state=self.seed)
        return list(cv.split(np.zeros(len(y)), y))

    def describe(self) -> str:
        return f"{self.n_repeats} × {self.n_splits} pliegues estratificados (semilla {self.seed})"


@dataclass(frozen=True)
class CandidateScores:
    name: str
    auc: np.ndarray
    brier: np.ndarray
    log_loss: np.ndarray
    seconds: float
    folds_digest: str  # sha256 of the held-out rows of every fold this candidate was judged on
    # out-of-fold PD of the first repeat (every row once): the calibration of the candidate
    oof_first_repeat: np.ndarray = field(repr=False)

    def summary(self) -> dict[str, Any]:
        def ms(a: np.ndarray) -> dict[str, float]:
            return {"mean": float(a.mean()), "sd": _sd(a)}

        return {
            "label": LABELS[self.name],
            "auc": ms(self.auc),
            "brier": ms(self.brier),
            "log_loss": ms(self.log_loss),
            "seconds": round(self.seconds, 2),
            "folds_digest": self.folds_digest[:16],
        }


@dataclass(frozen=True)
class Comparison:
    folds: Folds
    rows: int
    test_share: float
    scores: dict[str, CandidateScores]

    def paired(self, metric: str, a: str, b: str) -> dict[str, float]:
        """Mean and corrected standard error of (a − b) over the shared folds."""
        d = getattr(self.scores[a], metric) - getattr(self.scores[b], metric)
        j = len(d)
        ratio = self.test_share / (1 - self.test_share)
        var = float(d.var(ddof=1)) if j > 1 else 0.0
        return {"mean": float(d.mean()), "se": math.sqrt((1 / j + ratio) * var)}

    def recommend(self) -> dict[str, Any]:
        best_auc = max(self.scores, key=lambda c: self.scores[c].auc.mean())
        best_brier = min(self.scores, key=lambda c: self.scores[c].brier.mean())
        verdicts: dict[str, dict[str, Any]] = {}
        for c in self.scores:
            da = self.paired("auc", best_auc, c)  # > 0: c ranks worse
            db = self.paired("brier", c, best_brier)  # > 0: c is less accurate
            auc_ok = da["mean"] <= NOISE_SE * da["se"]
            brier_ok = db["mean"] <= NOISE_SE * db["se"]
            verdicts[c] = {
                "auc_gap_to_best": da["mean"],
                "auc_gap_se": da["se"],
                "brier_gap_to_best": db["mean"],
                "brier_gap_se": db["se"],
                "within_noise": bool(auc_ok and brier_ok),
                "auc_sd": _sd(self.scores[c].auc),
                "brier_sd": _sd(self.scores[c].brier),
            }
        contenders = [c for c in self.scores if verdicts[c]["within_noise"]]
        reference = min(contenders, key=lambda c: verdicts[c]["auc_sd"]) if contenders else None
        folds = min(len(s.auc) for s in self.scores.values())
        judged = reference is not None and folds >= MIN_STABILITY_FOLDS
        ref_sd = verdicts[reference]["auc_sd"] if reference is not None else None
        for v in verdicts.values():
            ratio = None
            if ref_sd is not None and ref_sd > 0:
                ratio = v["auc_sd"] / ref_sd
            elif ref_sd == 0 and v["auc_sd"] == 0:
                ratio = 1.0  # (a steadiest sd of 0 leaves any positive sd unbounded: no ratio, not stable)
            v["auc_sd_ratio"] = ratio
            v["stable"] = bool(ratio is not None and ratio <= STABILITY_FACTOR) if judged else None
            v["as_good"] = bool(v["within_noise"] and v["stable"] is not False)
        order = [c for c in SIMPLICITY if c in self.scores]
        chosen = next((c for c in order if verdicts[c]["as_good"]), best_auc)
        stability = (
            f"y cuya desviación estándar del AUC entre pliegues no pasa de {STABILITY_FACTOR:g} veces la del más "
            "estable de los que cumplen ambas condiciones"
        )
        if folds < MIN_STABILITY_FOLDS:
            stability += f" (no se juzga con menos de {MIN_STABILITY_FOLDS} pliegues: aquí {folds})"
        return {
            "rule": (
                "entre los candidatos cuyo AUC no es peor que el mejor y cuyo Brier no es peor que el mejor más "
                f"allá de {NOISE_SE:g} errores estándar (diferencias pareadas en los mismos pliegues, corrección de "
                f"Nadeau–Bengio), {stability}, el más simple en el orden {' < '.join(order)}"
            ),
            "best_auc": best_auc,
            "best_brier": best_brier,
            "stability_reference": reference,
            "stability_factor": STABILITY_FACTOR,
            "stability_judged": judged,
            "recommended": chosen,
            "verdicts": verdicts,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "folds": {"n_splits": self.folds.n_splits, "n_repeats": self.folds.n_repeats, "seed": self.folds.seed},
            "rows": self.rows,
            "candidates": {c: s.summary() for c, s in self.scores.items()},
            "recommendation": self.recommend(),
        }


def compare_candidates(
    X: np.ndarray,
    y: np.ndarray,
    cfg: PDTraining,
    folds: Folds,
    candidates: tuple[str, ...] = CANDIDATES,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """Every candidate fitted and judged on the same folds (built once from `folds`)."""
    unknown = [c for c in candidates if c not in FITTERS]
    if unknown:
        raise ValueError(f"unknown candidates {unknown}; known: {', '.join(FITTERS)}")
    from threadpoolctl import threadpool_limits

    splits = folds.split(y)
    scores = {}
    # hundreds of small fits on 2 shared cores: BLAS and OpenMP threads only fight (the boosting fit is ~30x
    # slower with them)
    with threadpool_limits(limits=1):
        for name in candidates:
            scores[name] = _score(name, X, y, cfg, folds, splits)
            if progress:
                progress(name)
    return Comparison(folds, len(y), 1 / folds.n_splits, scores)


def _score(
    name: str, X: np.ndarray, y: np.ndarray, cfg: PDTraining, folds: Folds, splits: list[tuple[np.ndarray, np.ndarray]]
) -> CandidateScores:
    t0 = time.perf_counter()
    aucs, briers, losses = [], [], []
    oof = np.full(len(y), np.nan)
    digest = hashlib.sha256()
    for k, (tr, te) in enumerate(splits):
        digest.update(np.asarray(te, dtype=np.int64).tobytes())
        predict = FITTERS[name](X[tr], y[tr], cfg, folds.seed + k)
        p = np.asarray(predict(X[te]), dtype=float)
        aucs.append(auc(y[te], p))
        briers.append(brier(y[te], p))
        losses.append(log_loss(y[te], p))
        if k < folds.n_splits:
            oof[te] = p
    return CandidateScores(
        name,
        np.array(aucs),
        np.array(briers),
        np.array(losses),
        time.perf_counter() - t0,
        digest.hexdigest(),
        oof,
    )
