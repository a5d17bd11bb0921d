"""The Markdown model card of an applicant-model artifact (the artifacts themselves: engine.pd.registry)."""

from __future__ import annotations

from typing import Any


def _fmt(x: Any) -> str:
    return f"{x:.4f}" if isinstance(x, float) else str(x)


def _calibration_text(cal: dict[str, Any]) -> str:
    if cal.get("method") == "none":
        return "none: fitted on the original class mix, so its PD is on the data's default rate already"
    from engine.training.calibration import Platt

    platt = Platt.from_dict(cal)
    return (
        "Platt on out-of-fold logits (original class mix), PD = σ(slope·logit + intercept): "
        f"slope = {platt.slope:.4f}, intercept = {platt.intercept:.4f}"
    )


def model_card(a: dict[str, Any]) -> str:
    """The Markdown model card of an artifact."""
    m, cal = a["metrics"], a["calibration"]
    mean_unc, mean_cal = _fmt(m["holdout_mean_pd_uncalibrated"]), _fmt(m["holdout_mean_pd_calibrated"])
    rows = "\n".join(
        f"| `{c}` | {a['coefficients'][c]:+.4f} | {a['training_mean'][c]:.3f} |"
        + (" held at 0 (monotone bound) |" if c in a["at_bound"] else " |")
        for c in a["feature_contract"]["columns"]
    )
    return f"""# Model card — {a["model_version"]}

**What it is.** The applicant probability-of-default (PD) model of Asesor: a logistic regression on
features that the Telegram dialog can supply, trained on the public German Credit data (1,000 loans,
Germany, 1973–1975, 30 % bad). It is a **PROXY**: the bank's own applicants and outcomes differ from
German Credit in country, period, currency and product. Replace it by retraining on the bank's own
outcomes once they are loaded through the ETL (`asesor train applicant` on that data).

| field | value |
|---|---|
| created | {a["created_at"]} |
| code version | {a["code_version"]} |
| policy version | {a["policy_version"]} (`{a["policy_hash"][:12]}`) |
| data | `{a["data"]["file"]}`, sha256 `{a["data"]["sha256"]}`, {a["data"]["rows"]} rows |
| credit-history reading | {a["data"]["credit_history_reading"]} |
| resampling | {a["training"]["resampler"]} (training part only), L2 C = {a["training"]["l2_c"]} |
| calibration | {_calibration_text(cal)} |

## Metrics
Hold-out: {m["holdout_rows"]} rows ({_fmt(m["holdout_bad_rate"])} bad), never used to fit or calibrate.

| metric | value |
|---|---|
| hold-out ROC-AUC | {_fmt(m["holdout_auc"])} |
| hold-out Brier, resampled model before calibration | {_fmt(m["holdout_brier_uncalibrated"])} |
| hold-out Brier, after calibration | {_fmt(m["holdout_brier_calibrated"])} |
| hold-out Brier of the constant base rate | {_fmt(m["holdout_brier_base_rate"])} |
| hold-out mean PD before / after calibration | {mean_unc} / {mean_cal} |
| {m["cv_folds"]}-fold CV ROC-AUC of the whole procedure | {_fmt(m["cv_auc_mean"])} ± {_fmt(m["cv_auc_std"])} |
| {m["cv_folds"]}-fold CV Brier (calibrated) | {_fmt(m["cv_brier_calibrated_mean"])} |

About 0.71 ROC-AUC is the honest ceiling of these features; the 0.79 often quoted for German Credit needs
the checking-account status, which the dialog does not ask.

## Coefficients (raw encoded columns; log-odds before calibration)
| column | coefficient | training mean | note |
|---|---|---|---|
{rows}
| intercept | {a["intercept"]:+.4f} | | |

PD never falls when an answer gets worse: every column but age has a coefficient bounded at >= 0 and the
ordinal answers enter as cumulative steps, so a bound that binds merges two adjacent levels.

## Limitations
- Proxy population (see above); amounts are put on German Credit's scale by matching medians
  (`pd.mapping.amount_reference_mxn`), an assumption.
- 1,000 rows: coefficients are uncertain; the checking-account, savings and property features, the
  strongest in the original data, are not used because the dialog does not ask them.
- Sex, marital status and foreign-worker status are not used.

## Attribution
German Credit (Statlog) data, Prof. Dr. Hans Hofmann, Universität Hamburg; UCI Machine Learning
Repository, CC BY 4.0. Credit-history labels read after U. Grömping (2019), "South German Credit Data:
Correcting a Widely Used Data Set" (when the reading is `groemping_2019`).
"""
