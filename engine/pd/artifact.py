"""The Markdown model card of an applicant-model artifact (the artifacts themselves: engine.pd.registry)."""

from __future__ import annotations

from typing import Any

# the data file shipped in engine/pd/data/ (a --from-db export has another name)
SHIPPED_DATA_FILE = "germancredit.csv"


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


def _what_it_is(a: dict[str, Any]) -> str:
    d, m = a["data"], a["metrics"]
    population = f"{d['rows']:,} loans, {m['bad_rate']:.0%} bad"
    if d["file"] == SHIPPED_DATA_FILE:
        return f"""trained on the public German Credit data ({population}, Germany, 1973–1975). It is a **PROXY**:
the bank's own applicants and outcomes differ from German Credit in country, period, currency and product.
Replace it by retraining on the bank's own outcomes once they are loaded through the ETL (`asesor train
applicant --from-db`) and promoting that version (`asesor train promote`)."""
    return f"""trained on `{d["file"]}` ({population}): outcomes loaded through the ETL into `loan_outcomes`
and exported by `asesor train applicant --from-db`, in German Credit's format. Its figures describe that
population only."""


def _metrics_table(a: dict[str, Any]) -> str:
    m, cal = a["metrics"], a["calibration"]
    k = m["cv_folds"]
    rows = [
        "| metric | " + f"{k}-fold CV of the whole procedure (mean ± sd over folds) | hold-out, one split |",
        "|---|---|---|",
        f"| ROC-AUC | **{_fmt(m['cv_auc_mean'])} ± {_fmt(m['cv_auc_std'])}** | {_fmt(m['holdout_auc'])} |",
        f"| Brier | **{_fmt(m['cv_brier_calibrated_mean'])}** | {_fmt(m['holdout_brier_calibrated'])} |",
        f"| Brier of a constant guess at the default rate | | {_fmt(m['holdout_brier_base_rate'])} |",
        f"| mean PD (observed rate {_fmt(m['holdout_bad_rate'])}) | | {_fmt(m['holdout_mean_pd_calibrated'])} |",
    ]
    if cal.get("method") != "none":
        what = "resampled model" if a["training"].get("resampler", "none") != "none" else "model"
        rows += [
            f"| Brier, {what} before calibration | | {_fmt(m['holdout_brier_uncalibrated'])} |",
            f"| mean PD, {what} before calibration | | {_fmt(m['holdout_mean_pd_uncalibrated'])} |",
        ]
    return "\n".join(rows)


def _prior_shift(a: dict[str, Any]) -> str:
    rate = a.get("dialog_mapping", {}).get("portfolio_bad_rate")
    data_rate = a["metrics"]["bad_rate"]
    if rate is None:
        return (
            f"No prior shift: the policy's `[pd.mapping]` has no `portfolio_bad_rate`, so the PD served is on the "
            f"training data's default rate ({data_rate:.0%})."
        )
    return f"""The figures above are on the training data's default rate ({data_rate:.0%}). The PD **served** is
moved to `[pd.mapping].portfolio_bad_rate` = {rate:g} (the policy's value when this version was trained; the
policy in service decides): an **assumption** about the bank's book, not a measurement. It shifts every
applicant's log-odds alike (same ranking, same AUC) and moves the PD shown and the expected loss; on the
training data the shifted PD is miscalibrated by construction (it predicts about {rate:.0%} where {data_rate:.0%}
default). It does not move the credit score or the verdict (the score is anchored at the book's odds and the
PD cut-offs are read as scores). Its effect on the PD shown, the expected loss and the decision mix at other
rates: `asesor train card`."""


def model_card(a: dict[str, Any]) -> str:
    """The Markdown model card of an artifact: what it is, the CV headline with the hold-out beside it, the prior
    shift as an assumption, intended use and non-use (the validator's full card, with repeated CV, reliability,
    log-loss, calibration slope and the candidates: `asesor train card`, engine/training/card.py)."""
    rows = "\n".join(
        f"| `{c}` | {a['coefficients'][c]:+.4f} | {a['training_mean'][c]:.3f} |"
        + (" held at 0 (monotone bound) |" if c in a["at_bound"] else " |")
        for c in a["feature_contract"]["columns"]
    )
    m = a["metrics"]
    return f"""# Model card — {a["model_version"]}

**What it is.** The applicant probability-of-default (PD) model of Asesor: a logistic regression on
features that the Telegram dialog can supply,
{_what_it_is(a)}

| field | value |
|---|---|
| created | {a["created_at"]} |
| code version | {a["code_version"]} |
| policy version | {a["policy_version"]} (`{a["policy_hash"][:12]}`) |
| data | `{a["data"]["file"]}`, sha256 `{a["data"]["sha256"]}`, {a["data"]["rows"]} rows |
| credit-history reading | {a["data"]["credit_history_reading"]} |
| resampling | {a["training"]["resampler"]} (training part only), L2 C = {a["training"]["l2_c"]} |
| calibration | {_calibration_text(a["calibration"])} |

## Metrics
The headline is cross-validation of the whole training procedure on all {m["rows"]:,} rows; the single hold-out
({m["holdout_rows"]} rows, never used to fit or calibrate) is beside it, and one split varies by several
hundredths of AUC. Repeated CV (10 × 5 folds), the reliability table, log-loss, the calibration slope and the
candidate models compared in the same folds are in the full card: `asesor train card`.

{_metrics_table(a)}

About 0.71 ROC-AUC is the honest ceiling of these features; the 0.79 often quoted for German Credit needs
the checking-account status, which the dialog does not ask.

## Prior shift (an assumption)
{_prior_shift(a)}

## Intended use
- May be used for: ranking the dialog's applicants by risk for a **preliminary** verdict (with the bank
  table, the fuzzy risk and the expert rules), escalation to an advisor, and the expected-loss figures of
  the analysts' reports, whose LGD and exposure are themselves assumptions (`[products.auto]`).
- May not be used for: a final credit decision without an advisor, pricing a loan from its PD alone, PD or
  expected-loss figures stated as measured on the bank's book, or populations other than the dialog's
  applicants.

## Coefficients (raw encoded columns; log-odds before calibration)
| column | coefficient | training mean | note |
|---|---|---|---|
{rows}
| intercept | {a["intercept"]:+.4f} | | |

PD never falls when an answer gets worse: every column but age has a coefficient bounded at >= 0 and the
ordinal answers enter as cumulative steps, so a bound that binds merges two adjacent levels.

## Limitations
- Amounts and terms are put on German Credit's scale by matching medians (`pd.mapping.amount_reference_mxn`,
  `term_reference_months`), an assumption.
- {m["rows"]:,} rows: coefficients are uncertain; the checking-account, savings and property features, the
  strongest in German Credit, are not used because the dialog does not ask them.
- Sex, marital status and foreign-worker status are not used.

## Attribution
German Credit (Statlog) data, Prof. Dr. Hans Hofmann, Universität Hamburg; UCI Machine Learning
Repository, CC BY 4.0. Credit-history labels read after U. Grömping (2019), "South German Credit Data:
Correcting a Widely Used Data Set" (when the reading is `groemping_2019`).
"""
