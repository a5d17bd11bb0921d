"""Features of the applicant PD model: German Credit columns <-> dialog answers, one encoding for both.

Both directions end in the same `RawFeatures` (German Credit's scale), and one function, `encode_arrays`,
turns those into the model's design matrix, so training and prediction cannot drift apart:

    German Credit row --german_raw()-->  RawFeatures  <--DialogMapper.raw()-- answers + loan + Derived
                                             |
                                       encode_arrays() -> 14 columns (COLUMNS)

Credit history and employment are ordinal: each level has a risk rank (0 = best) and is encoded as
cumulative steps `rank >= k` (k = 1..4). With a non-negative coefficient on every step the PD can only
rise along the rank, which is how the model is kept monotone (docs/pd.md). The mapping constants an
analyst may tune live in the policy's [pd.mapping]; what is fixed here is what the German data means.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np

from engine.policy.models import EmploymentLevel, HistoryLevel, PDMapping

# The shipped training data (CC BY 4.0; attribution in data/SOURCE.md).
GERMAN_CREDIT_CSV = Path(__file__).resolve().parent / "data" / "germancredit.csv"

# Bumped whenever COLUMNS or their meaning change: an artifact with another schema is retrained.
FEATURE_SCHEMA = 1

# Risk order, best first (rank 0). Names are the policy's meanings ([pd.mapping]).
HISTORY_ORDER: tuple[str, ...] = ("all_paid_here", "existing_paid", "none_or_all_paid", "critical", "delay")
EMPLOYMENT_ORDER: tuple[str, ...] = ("ge_7y", "4_7y", "1_4y", "lt_1y", "unemployed")
HISTORY_RANK = {m: i for i, m in enumerate(HISTORY_ORDER)}
EMPLOYMENT_RANK = {m: i for i, m in enumerate(EMPLOYMENT_ORDER)}
if set(HISTORY_ORDER) != set(get_args(HistoryLevel)) or set(EMPLOYMENT_ORDER) != set(get_args(EmploymentLevel)):
    raise RuntimeError("engine.pd.features orders and engine.policy.models levels disagree")

# ------------------------------------------------------------------------------ German Credit -> meaning
TARGET = "creditability"
BAD = "bad"
COL_HISTORY = "credit_history"
COL_EMPLOYMENT = "present_employment_since"
COL_CREDITS = "number_of_existing_credits_at_this_bank"
COL_PLANS = "other_installment_plans"
COL_RATE = "installment_rate_in_percentage_of_disposable_income"
COL_AMOUNT = "credit_amount"
COL_DURATION = "duration_in_month"
COL_AGE = "age_in_years"
COL_PURPOSE = "purpose"
CAR_PURPOSES = ("car (new)", "car (used)")

# credit_history labels as printed in the file (UCI documentation of codes A30..A34)
HISTORY_AS_PRINTED: dict[str, str] = {
    "no credits taken/ all credits paid back duly": "none_or_all_paid",  # A30
    "all credits at this bank paid back duly": "all_paid_here",  # A31
    "existing credits paid back duly till now": "existing_paid",  # A32
    "delay in paying off in the past": "delay",  # A33
    "critical account/ other credits existing (not at this bank)": "critical",  # A34
}
# The same codes read with Grömping (2019)'s correction (UCI 573 "South German Credit", variable `moral`
# 0..4 = A30..A34): the printed labels are permuted. Read this way the default rate falls steadily from
# "delay" (62.5 %) to "all paid at this bank" (17.1 %); read as printed, "critical account" defaults least.
HISTORY_GROEMPING_2019: dict[str, str] = {
    "no credits taken/ all credits paid back duly": "delay",  # A30 = moral 0
    "all credits at this bank paid back duly": "critical",  # A31 = moral 1
    "existing credits paid back duly till now": "none_or_all_paid",  # A32 = moral 2
    "delay in paying off in the past": "existing_paid",  # A33 = moral 3
    "critical account/ other credits existing (not at this bank)": "all_paid_here",  # A34 = moral 4
}
HISTORY_READINGS: dict[str, dict[str, str]] = {
    "as_printed": HISTORY_AS_PRINTED,
    "groemping_2019": HISTORY_GROEMPING_2019,
}
EMPLOYMENT_LABELS: dict[str, str] = {
    "... >= 7 years": "ge_7y",
    "4 <= ... < 7 years": "4_7y",
    "1 <= ... < 4 years": "1_4y",
    "... < 1 year": "lt_1y",
    "unemployed": "unemployed",
}
NO_OTHER_PLANS = "none"  # other_installment_plans: bank | stores | none

# ------------------------------------------------------------------------------------- design matrix
COLUMNS: tuple[str, ...] = (
    "credit_history_ge_1",  # rank >= 1: worse than "all_paid_here"
    "credit_history_ge_2",
    "credit_history_ge_3",
    "credit_history_ge_4",  # "delay"
    "employment_ge_1",  # worse than ">= 7 years"
    "employment_ge_2",
    "employment_ge_3",
    "employment_ge_4",  # "unemployed"
    "existing_credits",  # 1..4
    "other_installment_plans",  # 0 / 1
    "installment_rate",  # class 1..4, higher = larger share of disposable income
    "log_credit_amount",  # ln(DM), clipped to the training range
    "duration_months",  # clipped to the training range
    "age_years",  # clipped to the training range
)
# columns whose coefficient is bounded at >= 0 (PD may not fall as they grow); age keeps a free sign
NONNEGATIVE: tuple[bool, ...] = tuple(c != "age_years" for c in COLUMNS)
# feature groups: what `top_features` reports, and the columns each one covers
GROUPS: dict[str, tuple[int, ...]] = {
    "credit_history": (0, 1, 2, 3),
    "employment_since": (4, 5, 6, 7),
    "existing_credits": (8,),
    "other_installment_plans": (9,),
    "installment_rate": (10,),
    "credit_amount": (11,),
    "duration": (12,),
    "age": (13,),
}
# dialog answers / loan fields each group comes from (the reasons shown to people)
GROUP_SOURCES: dict[str, tuple[str, ...]] = {
    "credit_history": ("historial_crediticio", "atrasos_12_meses", "creditos_vigentes"),
    "employment_since": ("trabajo_tiempo",),
    "existing_credits": ("creditos_vigentes",),
    "other_installment_plans": ("creditos_vigentes",),
    "installment_rate": ("ingreso_mensual", "creditos_vigentes", "enganche", "vehicle_price"),
    "credit_amount": ("enganche", "vehicle_price"),
    "duration": ("term_months",),
    "age": ("birth_year",),
}


@dataclass(frozen=True)
class Clip:
    """Training range of the numeric features; prediction clamps to it (clamping keeps monotonicity)."""

    amount_dm: tuple[float, float]
    duration: tuple[float, float]
    age: tuple[float, float]

    def to_dict(self) -> dict[str, list[float]]:
        return {"amount_dm": list(self.amount_dm), "duration": list(self.duration), "age": list(self.age)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Sequence[float]]) -> Clip:
        return cls(
            amount_dm=(float(d["amount_dm"][0]), float(d["amount_dm"][1])),
            duration=(float(d["duration"][0]), float(d["duration"][1])),
            age=(float(d["age"][0]), float(d["age"][1])),
        )


def encode_arrays(
    history_rank: np.ndarray,
    employment_rank: np.ndarray,
    existing_credits: np.ndarray,
    other_plans: np.ndarray,
    installment_rate: np.ndarray,
    amount_dm: np.ndarray,
    duration: np.ndarray,
    age: np.ndarray,
    clip: Clip,
) -> np.ndarray:
    """RawFeatures as arrays (German scale) -> design matrix (n, len(COLUMNS))."""
    hr = np.asarray(history_rank)
    er = np.asarray(employment_rank)
    cols = [(hr >= k).astype(float) for k in range(1, 5)]
    cols += [(er >= k).astype(float) for k in range(1, 5)]
    cols.append(np.clip(np.asarray(existing_credits, dtype=float), 1, 4))
    cols.append(np.asarray(other_plans, dtype=float))
    cols.append(np.clip(np.asarray(installment_rate, dtype=float), 1, 4))
    cols.append(np.log(np.clip(np.asarray(amount_dm, dtype=float), *clip.amount_dm)))
    cols.append(np.clip(np.asarray(duration, dtype=float), *clip.duration))
    cols.append(np.clip(np.asarray(age, dtype=float), *clip.age))
    return np.column_stack(cols)


# ---------------------------------------------------------------------------------- German -> raw
def german_clip(df: Any) -> Clip:
    """The numeric training range of a German Credit frame."""
    return Clip(
        amount_dm=(float(df[COL_AMOUNT].min()), float(df[COL_AMOUNT].max())),
        duration=(float(df[COL_DURATION].min()), float(df[COL_DURATION].max())),
        age=(float(df[COL_AGE].min()), float(df[COL_AGE].max())),
    )


def german_car_medians(df: Any) -> tuple[float, float]:
    """Median amount (DM) and duration (months) of German Credit's car loans: anchors of the dialog's scale."""
    car = df.loc[df[COL_PURPOSE].isin(CAR_PURPOSES)]
    return float(car[COL_AMOUNT].median()), float(car[COL_DURATION].median())


def encode_german(df: Any, reading: str, clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """German Credit frame -> (design matrix, y with 1 = bad). Unknown labels fail loudly."""
    history_map = HISTORY_READINGS[reading]
    unknown = set(df[COL_HISTORY]) - set(history_map) | set(df[COL_EMPLOYMENT]) - set(EMPLOYMENT_LABELS)
    if unknown:
        raise ValueError(f"German Credit labels not in the mapping: {sorted(unknown)}")
    X = encode_arrays(
        history_rank=df[COL_HISTORY].map(lambda s: HISTORY_RANK[history_map[s]]).to_numpy(),
        employment_rank=df[COL_EMPLOYMENT].map(lambda s: EMPLOYMENT_RANK[EMPLOYMENT_LABELS[s]]).to_numpy(),
        existing_credits=df[COL_CREDITS].to_numpy(),
        other_plans=(df[COL_PLANS] != NO_OTHER_PLANS).to_numpy(),
        installment_rate=df[COL_RATE].to_numpy(),
        amount_dm=df[COL_AMOUNT].to_numpy(),
        duration=df[COL_DURATION].to_numpy(),
        age=df[COL_AGE].to_numpy(),
        clip=clip,
    )
    y = (df[TARGET] == BAD).to_numpy().astype(int)
    return X, y


# ---------------------------------------------------------------------------------- dialog -> raw
def monthly_payment(amount: float, annual_rate: float, months: float) -> float:
    """Level monthly payment of a loan (nominal annual rate, monthly compounding)."""
    if months <= 0:
        return math.inf
    r = annual_rate / 12.0
    if r == 0:
        return amount / months
    return float(amount * r / (1.0 - (1.0 + r) ** -months))


@dataclass(frozen=True)
class RawFeatures:
    history_rank: int
    employment_rank: int
    existing_credits: int
    other_plans: bool
    installment_rate: int
    amount_dm: float
    duration: float
    age: float
    payment_ratio: float  # payment at the reference term / disposable income (for reasons)


class DialogMapper:
    """Dialog answers + loan + Derived -> RawFeatures, with the policy's [pd.mapping] constants.

    Amount and term are put on German Credit's scale by matching medians (a ratio, i.e. a shift on the log
    scale): the policy's reference amount/term of a Mexican car loan lands on German Credit's car-loan
    median amount/duration.

    The instalment-rate class is measured with the payment of the requested amount over the policy's
    REFERENCE term (`term_reference_months`), not over the requested term: with the requested term a longer
    loan would lower the class (a smaller monthly payment) by more than its longer duration raises PD, so PD
    could fall as the term grows. Measured this way PD never falls when the amount or the term grows (the
    duration coefficient is bounded at >= 0); the real payment burden is judged by the capacity rules.
    """

    def __init__(
        self, mapping: PDMapping, reference_rate_annual: float, car_median_dm: float, car_median_months: float
    ) -> None:
        self.mapping = mapping
        self.reference_rate_annual = reference_rate_annual
        self.dm_per_mxn = car_median_dm / mapping.amount_reference_mxn
        self.duration_per_month = car_median_months / mapping.term_reference_months
        m = mapping
        self.history = {c: HISTORY_RANK[v] for c, v in m.history_level.items()}
        self.arrears = {c: HISTORY_RANK[v] for c, v in m.arrears_floor.items()}
        self.credits_floor = {c: HISTORY_RANK[v] for c, v in m.credits_floor.items()}
        self.employment = {c: EMPLOYMENT_RANK[v] for c, v in m.employment_level.items()}
        self.thresholds = m.installment_rate_thresholds
        # the annuity factor of the reference term: payment = requested × this (see the class docstring)
        self._payment_per_unit = monthly_payment(1.0, reference_rate_annual, m.term_reference_months)

    def history_rank(self, historial: str, atrasos: str, creditos: str) -> int:
        return max(self.history[historial], self.arrears[atrasos], self.credits_floor[creditos])

    def installment_class(self, ratio: float) -> int:
        t1, t2, t3 = self.thresholds
        return 1 if ratio < t1 else 2 if ratio < t2 else 3 if ratio < t3 else 4

    def payment_ratio(self, requested: float, income: float, existing: float) -> float:
        """Payment of `requested` over the reference term / disposable income (inf without disposable income)."""
        disposable = income - existing
        payment = requested * self._payment_per_unit
        return payment / disposable if disposable > 0 else math.inf

    def raw(
        self,
        *,
        trabajo_tiempo: str,
        historial_crediticio: str,
        creditos_vigentes: str,
        atrasos_12_meses: str,
        requested_amount: float,
        term_months: int,
        income_mxn: float,
        existing_payments: float,
        age: float,
    ) -> RawFeatures:
        ratio = self.payment_ratio(requested_amount, income_mxn, existing_payments)
        return RawFeatures(
            history_rank=self.history_rank(historial_crediticio, atrasos_12_meses, creditos_vigentes),
            employment_rank=self.employment[trabajo_tiempo],
            existing_credits=self.mapping.existing_credits[creditos_vigentes],
            other_plans=self.mapping.other_installment_plans[creditos_vigentes],
            installment_rate=self.installment_class(ratio),
            amount_dm=requested_amount * self.dm_per_mxn,
            duration=term_months * self.duration_per_month,
            age=float(age),
            payment_ratio=ratio,
        )

    def encode_batch(
        self,
        *,
        trabajo_tiempo: Sequence[str],
        historial_crediticio: Sequence[str],
        creditos_vigentes: Sequence[str],
        atrasos_12_meses: Sequence[str],
        requested_amount: np.ndarray,
        term_months: np.ndarray,
        income_mxn: np.ndarray,
        existing_payments: np.ndarray,
        age: np.ndarray,
        clip: Clip,
    ) -> np.ndarray:
        """Vectorised dialog -> design matrix, for whole-answer-space checks and batch scoring."""
        hr = np.maximum.reduce(
            [
                np.array([self.history[c] for c in historial_crediticio]),
                np.array([self.arrears[c] for c in atrasos_12_meses]),
                np.array([self.credits_floor[c] for c in creditos_vigentes]),
            ]
        )
        er = np.array([self.employment[c] for c in trabajo_tiempo])
        term = np.asarray(term_months, dtype=float)
        requested = np.asarray(requested_amount, dtype=float)
        payment = requested * self._payment_per_unit
        disposable = np.asarray(income_mxn, dtype=float) - np.asarray(existing_payments, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(disposable > 0, payment / np.where(disposable > 0, disposable, 1.0), np.inf)
        t1, t2, t3 = self.thresholds
        rate = 1 + (ratio >= t1).astype(int) + (ratio >= t2).astype(int) + (ratio >= t3).astype(int)
        return encode_arrays(
            history_rank=hr,
            employment_rank=er,
            existing_credits=np.array([self.mapping.existing_credits[c] for c in creditos_vigentes]),
            other_plans=np.array([self.mapping.other_installment_plans[c] for c in creditos_vigentes]),
            installment_rate=rate,
            amount_dm=requested * self.dm_per_mxn,
            duration=term * self.duration_per_month,
            age=np.asarray(age, dtype=float),
            clip=clip,
        )
