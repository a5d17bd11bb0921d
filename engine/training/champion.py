"""Champion/challenger comparison on one cohort, and population-stability monitoring of a model in service.

Both model kinds in the registry can be scored here from their JSON artifacts:
- `asesor.seed001_pd` (the report's chosen logit + Platt + policy score scaling), on a data set's features;
- `asesor.applicant_pd` (the applicant model of engine/pd), on German-Credit-format rows, through the same
  encoding engine.pd.features uses in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from engine.training.calibration import Platt
from engine.training.logit import LogitModel
from engine.training.metrics import approval_rate, evaluate
from engine.training.monitoring import BinnedReference, population_reference, psi_band, psi_table
from engine.training.registry import APPLICANT_FORMAT, SEED001_FORMAT
from engine.training.scorecard import Scaling


class Scorer(Protocol):
    version: str
    features: list[str]
    categorical: list[str]

    def probability(self, X: pd.DataFrame) -> np.ndarray: ...

    def score(self, X: pd.DataFrame) -> np.ndarray: ...


@dataclass
class Seed001Scorer:
    artifact: dict[str, Any]

    def __post_init__(self) -> None:
        a = self.artifact
        self.version = a["model_version"]
        self.model = LogitModel.from_dict(a["model"])
        self.calibrator = Platt.from_artifact(a)
        self.scaling = Scaling(**a["scaling"])
        self.features = list(a["features"])
        self.categorical = list(a["categorical"])

    def probability(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated PD per row (named so it does not shadow pandas' `pd`)."""
        return self.calibrator(self.model.predict_proba(X))

    def score(self, X: pd.DataFrame) -> np.ndarray:
        return self.scaling.score_from_pd(self.probability(X))

    def reference(self) -> dict[str, BinnedReference]:
        return {k: BinnedReference.from_dict(v) for k, v in self.artifact["reference"].items()}

    def explain(self, X: pd.DataFrame, top: int = 3) -> list[dict[str, Any]]:
        """Per applicant: PD and score of the model, scorecard points and the reason codes behind them."""
        from engine.training.scorecard import Scorecard

        card = Scorecard.from_dict(self.artifact["scorecard"])
        p, score = self.probability(X), self.score(X)
        points = card.score(X)
        reasons = card.reason_codes(X, top=top)
        return [
            {
                "pd": float(p[i]),
                "score": round(float(score[i]), 1),
                "scorecard_points": round(float(points[i]), 1),
                "reasons": reasons[i],
            }
            for i in range(len(X))
        ]


@dataclass
class ApplicantScorer:
    """The applicant model of engine/pd on German-Credit-format rows (raw columns, as in the CSV)."""

    artifact: dict[str, Any]
    scaling: Scaling

    def __post_init__(self) -> None:
        from engine.pd import features as F

        a = self.artifact
        self.version = a["model_version"]
        self._F = F
        contract = a["feature_contract"]
        self.coef = np.array([a["coefficients"][c] for c in contract["columns"]], dtype=float)
        self.intercept = float(a["intercept"])
        self.clip = F.Clip.from_dict(contract["clip"])
        self.calibrator = Platt.from_artifact(a)
        self.reading = a["data"]["credit_history_reading"]
        self.features = [
            F.COL_HISTORY,
            F.COL_EMPLOYMENT,
            F.COL_CREDITS,
            F.COL_PLANS,
            F.COL_RATE,
            F.COL_AMOUNT,
            F.COL_DURATION,
            F.COL_AGE,
        ]
        self.categorical = [F.COL_HISTORY, F.COL_EMPLOYMENT, F.COL_PLANS]

    def probability(self, X: pd.DataFrame) -> np.ndarray:
        frame = X.copy()
        if self._F.TARGET not in frame:
            frame[self._F.TARGET] = "good"  # encode_german also returns y; scoring does not need it
        design, _ = self._F.encode_german(frame, self.reading, self.clip)
        return self.calibrator.on_logit(design @ self.coef + self.intercept)

    def score(self, X: pd.DataFrame) -> np.ndarray:
        return self.scaling.score_from_pd(self.probability(X))


def scorer_for(artifact: dict[str, Any], scaling: Scaling) -> Scorer:
    fmt = artifact.get("format")
    if fmt == SEED001_FORMAT:
        return Seed001Scorer(artifact)
    if fmt == APPLICANT_FORMAT:
        return ApplicantScorer(artifact, scaling)
    raise ValueError(f"artifact {artifact.get('model_version')}: unknown format {fmt!r}")


def _summary(scorer: Scorer, X: pd.DataFrame, y: np.ndarray | None, approve: float, review: float) -> dict[str, Any]:
    p = scorer.probability(X)
    out: dict[str, Any] = {
        "model_version": scorer.version,
        "mean_pd": float(p.mean()),
        "approval_rate": approval_rate(p, approve),
        "review_or_better_rate": approval_rate(p, review),
    }
    if y is not None and 0 < y.sum() < len(y):
        m = evaluate(y, p)
        out |= {
            "roc_auc": m.roc_auc,
            "ks": m.ks,
            "gini": m.gini,
            "brier": m.brier,
            "observed_default_rate": float(y.mean()),
        }
    return out


def compare(
    champion: Scorer,
    challenger: Scorer,
    X: pd.DataFrame,
    y: np.ndarray | None,
    *,
    approve_pd_below: float,
    review_pd_below: float,
) -> dict[str, Any]:
    """Both models on the same cohort: AUC, KS, Brier, approval rates at the policy's cut-offs, PSI of the
    challenger's scores against the champion's, and how many decisions change."""
    champ = _summary(champion, X, y, approve_pd_below, review_pd_below)
    chall = _summary(challenger, X, y, approve_pd_below, review_pd_below)
    s_champ, s_chall = champion.score(X), challenger.score(X)
    score_psi = BinnedReference.numeric("score", s_champ).psi(s_chall)
    p_champ, p_chall = champion.probability(X), challenger.probability(X)
    approve_changes = float(np.mean((p_champ < approve_pd_below) != (p_chall < approve_pd_below)))
    deltas = {k: chall[k] - champ[k] for k in ("roc_auc", "ks", "brier", "approval_rate") if k in champ and k in chall}
    better = (
        deltas.get("roc_auc", 0) >= 0 and deltas.get("ks", 0) >= 0 and deltas.get("brier", 0) <= 0
        if "roc_auc" in deltas
        else None
    )
    return {
        "cohort_rows": len(X),
        "champion": champ,
        "challenger": chall,
        "delta": deltas,
        "score_psi": score_psi,
        "score_psi_band": psi_band(score_psi),
        "approval_decisions_changed": approve_changes,
        "challenger_not_worse": better,
    }


def monitor(
    scorer: Scorer,
    X: pd.DataFrame,
    reference: dict[str, BinnedReference] | None = None,
    training: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """PSI per feature and for the score of cohort `X` against the training population: the artifact's stored
    reference, or one built from `training` rows (applicant models keep no reference of their own)."""
    if reference is None:
        if training is None:
            raise ValueError("monitoring needs a stored reference or the training rows")
        reference = population_reference(training[scorer.features], scorer.categorical, score=scorer.score(training))
    return psi_table(reference, X, scorer.score(X))
