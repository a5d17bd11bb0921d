"""The seed-001 study as one computation: split, five strategies, stepwise logit, validation metrics, choice by
F1, recalibration, expected loss, scorecard and the population reference for monitoring.

Pure computation on a loaded `Dataset` and a `Policy`: no files are read or written here (report.py renders,
registry.py stores), so tests can run it on small samples.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from engine.pd.scaling import fixed_base_odds
from engine.policy.models import Policy
from engine.training.calibration import Platt, reliability
from engine.training.datasets import Dataset
from engine.training.logit import DesignSpec, LogitModel
from engine.training.metrics import Metrics, approval_rate, best_f1_threshold, evaluate, expected_loss
from engine.training.monitoring import BinnedReference, population_reference
from engine.training.resampling import STRATEGIES, STRATEGY_LABELS, Split, resample, stratified_split
from engine.training.scorecard import Scaling, Scorecard, fit_scorecard
from engine.training.stepwise import StepwiseResult, stepwise_aic

DEFAULT_SEED = 42
VALID_SHARE = 0.4
# the seed classifies a client as a defaulter when the model's PD is at least 0.5 (R's predict > 0.5)
CLASS_THRESHOLD = 0.5


@dataclass(frozen=True)
class StrategyResult:
    strategy: str
    label: str
    n_rows: int
    n_pos: int
    stepwise: StepwiseResult
    model: LogitModel
    metrics: Metrics  # raw PD of the resampled model, threshold 0.5: the seed's figures
    # F1 is a property of a threshold, not only of a model: the cut-off with the best F1 on the TRAINING part
    # (original mix), applied to validation, and the best F1 validation itself allows (an upper bound)
    threshold_train: float
    metrics_threshold_train: Metrics
    threshold_best_valid: float
    f1_best_valid: float
    calibrator: Platt
    brier_raw: float
    brier_calibrated: float
    reliability_raw: tuple[np.ndarray, np.ndarray]
    reliability_calibrated: tuple[np.ndarray, np.ndarray]
    mean_pd_raw: float
    mean_pd_calibrated: float
    el_raw: float
    el_calibrated: float
    approval_rate: float  # calibrated PD below the policy's cut-off
    pd_raw: np.ndarray = field(repr=False)
    pd_calibrated: np.ndarray = field(repr=False)
    seconds: float = 0.0

    @property
    def n_neg(self) -> int:
        return self.n_rows - self.n_pos


@dataclass(frozen=True)
class StudyResult:
    dataset: Dataset
    policy_version: str
    policy_hash: str
    seed: int
    valid_share: float
    split: Split
    strategies: list[StrategyResult]
    chosen: StrategyResult
    scaling: Scaling
    lgd: float
    ead_factor: float
    loss_source: str  # [products.auto].source: LGD and EAD are assumptions, and where they come from
    approve_pd_below: float
    ead_valid: np.ndarray
    realised_loss: float
    scorecard: Scorecard
    scorecard_metrics: Metrics
    scorecard_valid_score: np.ndarray
    reason_examples: pd.DataFrame
    reference: dict[str, BinnedReference]
    seconds: float

    @property
    def default_rate(self) -> float:
        return float(self.dataset.y.mean())


def _ead(ds: Dataset, X: pd.DataFrame, ead_factor: float) -> np.ndarray:
    col = ds.definition.ead_column
    # without an exposure column every client counts as one unit, so EL reads as a loss rate
    base = X[col].to_numpy(dtype=float) if col else np.ones(len(X))
    return base * ead_factor


def run_study(
    ds: Dataset,
    policy: Policy,
    *,
    seed: int = DEFAULT_SEED,
    valid_share: float = VALID_SHARE,
    strategies: tuple[str, ...] = STRATEGIES,
    progress: Callable[[str], None] | None = None,
) -> StudyResult:
    """The whole study. `progress(step_name)` is called after each step (the CLI drives a tqdm bar with it)."""
    tick = progress or (lambda _name: None)
    t0 = time.perf_counter()
    # hundreds of small fits: BLAS threads mostly fight each other (benchmarks/training.py: ~4x faster on German
    # Credit's 49-column fits with one thread, about even on scoring_bancario)
    with threadpool_limits(limits=1, user_api="blas"):
        split = stratified_split(ds.X, ds.y, valid_share=valid_share, seed=seed)
        tick("partición")
        spec = DesignSpec.fit(ds.X, ds.categorical)
        ead = _ead(ds, split.X_valid, policy.product.ead_factor)
        yv = split.y_valid.to_numpy()
        results = []
        for strategy in strategies:
            t = time.perf_counter()
            Xr, yr = resample(split.X_train, split.y_train, strategy, seed=seed, categorical=ds.categorical)
            step = stepwise_aic(spec, Xr, yr)
            model = LogitModel.from_fit(spec, step.fit)
            pd_raw = model.predict_proba(split.X_valid)
            # recalibrate on the original-mix training part (the validation part stays untouched for judging)
            pd_train = model.predict_proba(split.X_train)
            calibrator = Platt.fit_pd(pd_train, split.y_train.to_numpy())
            pd_cal = calibrator(pd_raw)
            m = evaluate(yv, pd_raw, CLASS_THRESHOLD)
            t_train, _ = best_f1_threshold(split.y_train.to_numpy(), pd_train)
            t_best, f1_best = best_f1_threshold(yv, pd_raw)
            results.append(
                StrategyResult(
                    strategy=strategy,
                    label=STRATEGY_LABELS[strategy],
                    n_rows=len(yr),
                    n_pos=int(yr.sum()),
                    stepwise=step,
                    model=model,
                    metrics=m,
                    threshold_train=t_train,
                    metrics_threshold_train=evaluate(yv, pd_raw, t_train),
                    threshold_best_valid=t_best,
                    f1_best_valid=f1_best,
                    calibrator=calibrator,
                    brier_raw=m.brier,
                    brier_calibrated=evaluate(yv, pd_cal, CLASS_THRESHOLD).brier,
                    reliability_raw=reliability(yv, pd_raw),
                    reliability_calibrated=reliability(yv, pd_cal),
                    mean_pd_raw=float(pd_raw.mean()),
                    mean_pd_calibrated=float(pd_cal.mean()),
                    el_raw=expected_loss(pd_raw, ead, policy.product.lgd),
                    el_calibrated=expected_loss(pd_cal, ead, policy.product.lgd),
                    approval_rate=approval_rate(pd_cal, policy.pd.approve_pd_below),
                    pd_raw=pd_raw,
                    pd_calibrated=pd_cal,
                    seconds=time.perf_counter() - t,
                )
            )
            tick(f"estrategia {strategy}")
        # the seed's rule: the best F1 on the validation part (ties: the earlier strategy)
        chosen = max(results, key=lambda r: (r.metrics.f1, -results.index(r)))
        s = policy.score_scaling
        scaling = Scaling(s.base_points, fixed_base_odds(policy), s.pdo, s.min_score, s.max_score)
        card = fit_scorecard(split.X_train, split.y_train, ds.categorical, scaling)
        card_pd = card.predict_proba(split.X_valid)
        card_metrics = evaluate(yv, card_pd, CLASS_THRESHOLD)
        sample = split.X_valid.head(5)
        reasons = card.reason_codes(sample)
        examples = pd.DataFrame(
            {
                "puntaje": np.round(card.score(sample), 0).astype(int),
                "PD": card_pd[:5],
                "incumplió": yv[:5],
                "razones": [
                    "; ".join(f"{r['variable']} {r['tramo']} (−{r['puntos_perdidos']})" for r in rs) or "—"
                    for rs in reasons
                ],
            }
        )
        tick("scorecard")
        train_score = scaling.score_from_pd(chosen.calibrator(chosen.model.predict_proba(split.X_train)))
        reference = population_reference(split.X_train, ds.categorical, score=train_score)
    return StudyResult(
        dataset=ds,
        policy_version=policy.version,
        policy_hash=policy.content_hash,
        seed=seed,
        valid_share=valid_share,
        split=split,
        strategies=results,
        chosen=chosen,
        scaling=scaling,
        lgd=policy.product.lgd,
        ead_factor=policy.product.ead_factor,
        loss_source=policy.product.source,
        approve_pd_below=policy.pd.approve_pd_below,
        ead_valid=ead,
        realised_loss=expected_loss(yv, ead, policy.product.lgd),
        scorecard=card,
        scorecard_metrics=card_metrics,
        scorecard_valid_score=card.score(split.X_valid),
        reason_examples=examples,
        reference=reference,
        seconds=time.perf_counter() - t0,
    )


def artifact_body(study: StudyResult) -> dict[str, Any]:
    """The chosen model as plain JSON: what scoring, comparison and monitoring need, and how it was made."""
    c = study.chosen
    return {
        "kind": "seed001_logit",
        "dataset": study.dataset.definition.name,
        "data_sha256": study.dataset.sha256,
        "policy_version": study.policy_version,
        "policy_hash": study.policy_hash,
        "seed": study.seed,
        "valid_share": study.valid_share,
        "strategy": c.strategy,
        "model": c.model.to_dict(),
        "calibration": c.calibrator.to_dict(),
        "scaling": study.scaling.__dict__,
        "scorecard": study.scorecard.to_dict(),
        "categorical": list(study.dataset.categorical),
        "features": list(study.dataset.X.columns),
        "reference": {k: v.to_dict() for k, v in study.reference.items()},
        "metrics": {
            **{k: v for k, v in c.metrics.to_dict().items()},
            "brier_calibrated": c.brier_calibrated,
            "approval_rate": c.approval_rate,
            "expected_loss_calibrated": c.el_calibrated,
            "scorecard_roc_auc": study.scorecard_metrics.roc_auc,
        },
    }
