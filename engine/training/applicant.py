"""Training of the applicant PD model on German Credit (SPEC §6; docs/pd.md).

Procedure, all seeded and deterministic:
1. encode German Credit through engine.pd.features (one encoding shared with prediction);
2. stratified hold-out split (policy pd.training.holdout_fraction);
3. on the training part only: resample (imbalanced-learn) and fit a logistic regression by L-BFGS-B with
   the coefficient of every monotone column bounded at >= 0 (L2 on standardised columns, as sklearn's C);
4. recalibrate (engine.training.calibration.Platt, slope bounded >= 0 so order is kept) on
   out-of-fold logits of the training part, i.e. on rows with the ORIGINAL class mix that the scoring
   model did not see; resampling inflates PD and this takes it back to the data's default rate;
5. measure on the untouched hold-out (ROC-AUC, Brier before/after calibration) and by k-fold CV of the
   whole procedure on all rows;
6. write a versioned JSON artifact and a Markdown model card into the registry (engine.pd.registry); no
   pickle. The version in service changes only by `asesor train promote` (or on an empty registry).

Training does I/O (reads the CSV, writes the artifact); assessment never calls this except through
`engine.pd.load_served` bootstrapping an empty registry.
"""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from engine import ENGINE_VERSION
from engine.pd import features as F
from engine.pd import registry
from engine.pd.artifact import model_card
from engine.pd.model import ApplicantPDModel
from engine.pd.registry import APPLICANT_FORMAT
from engine.pd.scaling import book_bad_rate, score_from_pd
from engine.policy import Policy
from engine.policy.models import PDTraining
from engine.training.calibration import IDENTITY, Platt

DATA_PATH = F.GERMAN_CREDIT_CSV
REPO_ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------- fitting
@dataclass(frozen=True)
class LogisticFit:
    coef: np.ndarray  # on the raw (unstandardised) columns
    intercept: float
    at_bound: np.ndarray  # bool: bounded coefficient held at 0 (the constraint binds; levels merged)
    converged: bool

    def logit(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X @ self.coef + self.intercept)


def fit_logistic(X: np.ndarray, y: np.ndarray, nonnegative: tuple[bool, ...] | list[bool], c: float) -> LogisticFit:
    """Logistic regression with L2 (strength 1/c on standardised columns, intercept free) and bounds.

    Minimises Σ logloss + ||w||² / (2c) over standardised columns — scikit-learn's LogisticRegression
    objective — with w_j >= 0 wherever `nonnegative[j]`. Without active bounds the optimum is sklearn's.
    `c = inf` means no penalty.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd[sd == 0] = 1.0  # as StandardScaler: a constant column stays centred, unscaled
    Z = (X - mu) / sd
    d = Z.shape[1]
    inv_c = 0.0 if np.isinf(c) else 1.0 / c

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        z = Z @ w + b
        loss = float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * inv_c * (w @ w))
        r = expit(z) - y
        grad = np.empty(d + 1)
        grad[:d] = Z.T @ r + inv_c * w
        grad[d] = r.sum()
        return loss, grad

    bounds = [(0.0, None) if nn else (None, None) for nn in nonnegative] + [(None, None)]
    res = minimize(
        objective,
        np.zeros(d + 1),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 20000, "gtol": 1e-10, "ftol": 1e-14},
    )
    w, b = res.x[:d], float(res.x[d])
    coef = w / sd
    intercept = b - float(np.sum(w * mu / sd))
    at_bound = np.array([nn and wj <= 1e-10 for nn, wj in zip(nonnegative, w, strict=True)])
    coef[at_bound] = 0.0
    return LogisticFit(coef=coef, intercept=intercept, at_bound=at_bound, converged=bool(res.success))


def resample(X: np.ndarray, y: np.ndarray, method: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Balance the classes of a TRAINING fold (never the rows a model is judged or calibrated on), with the
    strategies of the seed-001 study (engine.training.resampling: none | over | under | both | smote | ...)."""
    if method == "none":
        return X, y
    import pandas as pd

    from engine.training.resampling import resample as resample_frame

    Xr, yr = resample_frame(pd.DataFrame(X), pd.Series(y), method, seed=seed)
    return Xr.to_numpy(dtype=float), yr.to_numpy()


def fit_resampled(X: np.ndarray, y: np.ndarray, cfg: PDTraining, seed: int) -> LogisticFit:
    Xr, yr = resample(X, y, cfg.resampler, seed)
    return fit_logistic(Xr, yr, F.NONNEGATIVE, cfg.l2_c)


def out_of_fold_logits(X: np.ndarray, y: np.ndarray, cfg: PDTraining, seed: int) -> np.ndarray:
    """Logit of each row from a resampled model fitted on the other folds (rows keep the original mix)."""
    from sklearn.model_selection import StratifiedKFold

    oof = np.empty(len(y))
    folds = StratifiedKFold(n_splits=cfg.calibration_folds, shuffle=True, random_state=seed)
    for k, (tr, te) in enumerate(folds.split(X, y)):
        oof[te] = fit_resampled(X[tr], y[tr], cfg, seed + 1 + k).logit(X[te])
    return oof


@dataclass(frozen=True)
class FittedModel:
    fit: LogisticFit
    platt: Platt  # engine.training.calibration: PD = σ(slope·logit + intercept)
    mean: np.ndarray  # training mean of the encoded columns (original rows): the reference of reasons

    def proba_uncalibrated(self, X: np.ndarray) -> np.ndarray:
        return expit(self.fit.logit(X))

    def proba(self, X: np.ndarray) -> np.ndarray:
        return self.platt.on_logit(self.fit.logit(X))


def train_model(X: np.ndarray, y: np.ndarray, cfg: PDTraining, seed: int) -> FittedModel:
    """Steps 3–4 on one training set: (resampled) constrained fit, then Platt on out-of-fold logits when the
    policy asks for it (a fit on the original class mix needs none)."""
    fit = fit_resampled(X, y, cfg, seed)
    platt = Platt.fit(out_of_fold_logits(X, y, cfg, seed), y) if cfg.recalibration == "platt" else IDENTITY
    return FittedModel(fit=fit, platt=platt, mean=X.mean(axis=0))


# ------------------------------------------------------------------------------------------- metrics
def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2))


def auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def cross_validate(X: np.ndarray, y: np.ndarray, cfg: PDTraining) -> dict[str, float]:
    """k-fold CV of the whole procedure (resampling, constrained fit, recalibration) on all rows."""
    from sklearn.model_selection import StratifiedKFold

    aucs, briers = [], []
    folds = StratifiedKFold(n_splits=cfg.cv_folds, shuffle=True, random_state=cfg.seed)
    for k, (tr, te) in enumerate(folds.split(X, y)):
        model = train_model(X[tr], y[tr], cfg, cfg.seed + 100 * (k + 1))
        p = model.proba(X[te])
        aucs.append(auc(y[te], p))
        briers.append(brier(y[te], p))
    return {
        "cv_folds": cfg.cv_folds,
        "cv_auc_mean": round(float(np.mean(aucs)), 4),
        "cv_auc_std": round(float(np.std(aucs)), 4),
        "cv_brier_calibrated_mean": round(float(np.mean(briers)), 4),
    }


# ------------------------------------------------------------------------------------------- running
def load_german(path: Path = DATA_PATH) -> tuple[Any, str]:
    import pandas as pd

    raw = path.read_bytes()
    return pd.read_csv(path), hashlib.sha256(raw).hexdigest()


def code_version() -> str:
    """`git describe` of the checkout when there is one, else the installed package's version."""
    try:
        if not (REPO_ROOT / ".git").exists():  # an installed package: don't describe some enclosing repo
            raise FileNotFoundError(REPO_ROOT / ".git")
        out = subprocess.run(
            ["git", "describe", "--always", "--tags", "--dirty"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        if out.stdout.strip():
            return registry.safe(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from importlib.metadata import version

        return registry.safe(version("asesor"))
    except Exception:  # metadata missing in a bare checkout
        return ENGINE_VERSION


@dataclass(frozen=True)
class TrainingRun:
    """Everything a training run produced (the artifact dict plus the arrays tests and reports need)."""

    artifact: dict[str, Any]
    model: FittedModel
    X_train: np.ndarray
    y_train: np.ndarray
    X_holdout: np.ndarray
    y_holdout: np.ndarray


def _single_blas_thread() -> contextlib.AbstractContextManager[object]:
    """Hundreds of tiny matrix products: a multi-threaded BLAS only adds contention (6 s -> 0.9 s here)."""
    try:
        from threadpoolctl import threadpool_limits  # a dependency of scikit-learn
    except ImportError:
        return contextlib.nullcontext()
    limits: contextlib.AbstractContextManager[object] = threadpool_limits(limits=1, user_api="blas")
    return limits


def run_training(policy: Policy, data_path: Path = DATA_PATH) -> TrainingRun:
    """Train, calibrate and measure; returns the artifact (not yet written)."""
    with _single_blas_thread():
        return _run_training(policy, data_path)


def _run_training(policy: Policy, data_path: Path) -> TrainingRun:
    from sklearn.model_selection import train_test_split

    cfg = policy.pd.training
    df, data_sha = load_german(data_path)
    clip = F.german_clip(df)
    car_median_dm, car_median_months = F.german_car_medians(df)
    X, y = F.encode_german(df, cfg.credit_history_reading, clip)
    X_tr, X_ho, y_tr, y_ho = train_test_split(X, y, test_size=cfg.holdout_fraction, stratify=y, random_state=cfg.seed)
    model = train_model(X_tr, y_tr, cfg, cfg.seed)
    p_unc, p_cal = model.proba_uncalibrated(X_ho), model.proba(X_ho)
    metrics: dict[str, Any] = {
        "rows": len(y),
        "bad_rate": round(float(y.mean()), 4),
        "holdout_rows": len(y_ho),
        "holdout_bad_rate": round(float(y_ho.mean()), 4),
        "holdout_auc": round(auc(y_ho, p_cal), 4),
        "holdout_auc_uncalibrated": round(auc(y_ho, p_unc), 4),
        "holdout_brier_uncalibrated": round(brier(y_ho, p_unc), 4),
        "holdout_brier_calibrated": round(brier(y_ho, p_cal), 4),
        "holdout_mean_pd_uncalibrated": round(float(p_unc.mean()), 4),
        "holdout_mean_pd_calibrated": round(float(p_cal.mean()), 4),
        # Brier of always predicting the training default rate: the bar a useful model must clear
        "holdout_brier_base_rate": round(brier(y_ho, np.full(len(y_ho), y_tr.mean())), 4),
        **cross_validate(X, y, cfg),
    }
    version_code = code_version()
    fingerprint = registry.training_fingerprint(policy.pd.training.model_dump(), data_sha, F.FEATURE_SCHEMA)
    model_version = f"{policy.pd.applicant_model}-{data_sha[:8]}-{version_code}-t{fingerprint[:6]}"
    artifact = {
        "format": APPLICANT_FORMAT,
        "format_version": 1,
        "model_version": model_version,
        "name": policy.pd.applicant_model,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": version_code,
        "engine_version": ENGINE_VERSION,
        "policy_version": policy.version,
        "policy_hash": policy.content_hash,
        "training_fingerprint": fingerprint,
        "data": {
            "file": data_path.name,
            "sha256": data_sha,
            "rows": len(y),
            "source": (
                "German Credit (Statlog), Hofmann 1994, UCI ML Repository, CC BY 4.0"
                if data_path.name == DATA_PATH.name
                else "loan_outcomes (asesor etl load), exported by asesor train applicant --from-db"
            ),
            "credit_history_reading": cfg.credit_history_reading,
        },
        "training": cfg.model_dump(),
        "feature_contract": {
            "schema": F.FEATURE_SCHEMA,
            "columns": list(F.COLUMNS),
            "nonnegative": list(F.NONNEGATIVE),
            "groups": {g: list(ix) for g, ix in F.GROUPS.items()},
            "group_sources": {g: list(s) for g, s in F.GROUP_SOURCES.items()},
            "history_order": list(F.HISTORY_ORDER),
            "employment_order": list(F.EMPLOYMENT_ORDER),
            "clip": clip.to_dict(),
            "german_car_median_dm": car_median_dm,
            "german_car_median_months": car_median_months,
        },
        "coefficients": dict(zip(F.COLUMNS, (float(v) for v in model.fit.coef), strict=True)),
        "intercept": model.fit.intercept,
        "at_bound": [c for c, b in zip(F.COLUMNS, model.fit.at_bound, strict=True) if b],
        "training_mean": dict(zip(F.COLUMNS, (float(v) for v in model.mean), strict=True)),
        "calibration": model.platt.to_dict(),
        # snapshot for audit and for from_artifact() without a policy; a given policy's mapping wins
        "dialog_mapping": {
            **policy.pd.mapping.model_dump(mode="json"),
            "reference_rate_annual": policy.capacity.reference_rate_annual,
        },
        "metrics": metrics,
    }
    artifact["reference"] = _population_reference(artifact, policy, X_tr)
    return TrainingRun(artifact, model, X_tr, y_tr, X_ho, y_ho)


def _population_reference(artifact: dict[str, Any], policy: Policy, X_tr: np.ndarray) -> dict[str, Any]:
    """The training rows as monitoring compares applicants with them (PSI, issue 15): each feature group and
    the credit score the served model (this artifact under this policy) gives them."""
    from engine.training.monitoring import applicant_reference

    served = ApplicantPDModel(artifact, policy.pd.mapping, policy.capacity.reference_rate_annual)
    book = book_bad_rate(served)  # the score is anchored at the book's odds (engine/pd/scaling.py)
    scores = np.array([score_from_pd(float(p), policy.score_scaling, book) for p in served.predict_proba_encoded(X_tr)])
    return applicant_reference(X_tr, F.GROUPS, scores)


def train_applicant(model_dir: Path, policy: Policy, data_path: Path = DATA_PATH) -> tuple[Path, dict[str, Any]]:
    """Train and write the versioned artifact and its model card. `current` is left alone (a new version goes
    into service by `asesor train promote`), except on an empty registry, where it is the first version."""
    run = run_training(policy, data_path)
    path = registry.write(Path(model_dir), run.artifact, model_card(run.artifact))
    registry.promote_if_empty(
        Path(model_dir), run.artifact["name"], run.artifact["model_version"], by="asesor train", reason="first version"
    )
    return path, run.artifact
