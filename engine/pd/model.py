"""The applicant PD model at assessment time: pure Python on precomputed tables, no numpy/sklearn per call.

logit = intercept + Σ coef·x over the encoded columns (engine.pd.features), PD = σ(slope·logit + intercept) (Platt).
The ordinal groups (credit history, employment) are precomputed per rank, so one prediction is a handful
of dict look-ups, two logs and an exp.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np

from engine.pd import features as F
from engine.pd import registry
from engine.pd.registry import APPLICANT_FORMAT
from engine.policy import Policy
from engine.policy.models import PDMapping
from engine.training.calibration import Platt
from engine.types import AssessmentRequest, Derived, PDFeatureContribution, PDResult

GROUP_NAMES: tuple[str, ...] = tuple(F.GROUPS)


class ApplicantPDModel:
    def __init__(self, artifact: dict[str, Any], mapping: PDMapping, reference_rate_annual: float) -> None:
        contract = artifact["feature_contract"]
        if contract["schema"] != F.FEATURE_SCHEMA or tuple(contract["columns"]) != F.COLUMNS:
            raise ValueError(
                f"artifact {artifact.get('model_version')}: feature schema {contract['schema']} "
                f"does not match this code's {F.FEATURE_SCHEMA}; retrain it"
            )
        self.artifact = artifact
        self.model_version: str = artifact["model_version"]
        self.coef = np.array([artifact["coefficients"][c] for c in F.COLUMNS], dtype=float)
        self.mean = np.array([artifact["training_mean"][c] for c in F.COLUMNS], dtype=float)
        self.intercept = float(artifact["intercept"])
        platt = Platt.from_artifact(artifact)  # one meaning of the calibration (engine/training/calibration.py)
        if mapping.portfolio_bad_rate is not None:
            # prior shift: same ranking and odds ratios, average PD moved to the portfolio's default rate
            platt = platt.shifted(float(artifact["metrics"]["bad_rate"]), mapping.portfolio_bad_rate)
        self.cal_a, self.cal_b = platt.slope, platt.intercept  # the hot path reads two floats
        self.clip = F.Clip.from_dict(contract["clip"])
        self.mapper = F.DialogMapper(
            mapping,
            reference_rate_annual,
            float(contract["german_car_median_dm"]),
            float(contract["german_car_median_months"]),
        )
        self.top_k = mapping.top_features
        _check_monotone_mapping(self.mapper)

        c = [float(v) for v in self.coef]
        # precomputed raw log-odds: ordinal groups per rank (cumulative steps), credit answers per code
        self._hist = [sum(c[0:k]) for k in range(5)]
        self._emp = [sum(c[4 : 4 + k]) for k in range(5)]
        self._credits_x = {k: float(min(max(n, 1), 4)) for k, n in mapping.existing_credits.items()}
        self._plans_x = {k: float(v) for k, v in mapping.other_installment_plans.items()}
        self._credits_value = {k: c[8] * x for k, x in self._credits_x.items()}
        self._plans_value = {k: c[9] * x for k, x in self._plans_x.items()}
        self._c = c
        # each group's log-odds at the training mean: the reference of `top_features`
        self._group_mean_list = [
            float(np.dot(self.coef[list(F.GROUPS[g])], self.mean[list(F.GROUPS[g])])) for g in GROUP_NAMES
        ]
        self._log_amount_clip = (math.log(self.clip.amount_dm[0]), math.log(self.clip.amount_dm[1]))

    # ------------------------------------------------------------------------------------ construction
    @classmethod
    def from_artifact(cls, path: str | Path, policy: Policy | None = None) -> ApplicantPDModel:
        """Load a version directory (or model.json). The policy's [pd.mapping] wins over the snapshot."""
        data = registry.read_path(Path(path))
        if data.get("format") != APPLICANT_FORMAT:
            raise registry.RegistryError(f"{path}: not an applicant PD artifact")
        if policy is not None:
            return cls(data, policy.pd.mapping, policy.capacity.reference_rate_annual)
        snap = dict(data["dialog_mapping"])
        rate = float(snap.pop("reference_rate_annual"))
        return cls(data, PDMapping.model_validate(snap), rate)

    # ------------------------------------------------------------------------------------------ scoring
    def raw_features(self, request: AssessmentRequest, derived: Derived) -> F.RawFeatures:
        a = request.answers
        return self.mapper.raw(
            trabajo_tiempo=a.trabajo_tiempo,
            historial_crediticio=a.historial_crediticio,
            creditos_vigentes=a.creditos_vigentes,
            atrasos_12_meses=a.atrasos_12_meses,
            requested_amount=derived.requested_amount,
            term_months=request.loan.term_months,
            income_mxn=derived.income_mxn,
            existing_payments=derived.existing_payments,
            age=derived.age,
        )

    def predict(self, request: AssessmentRequest, derived: Derived) -> PDResult:
        """PD of one applicant and the features that raised it most (the hot path: plain Python)."""
        ans = request.answers
        mp = self.mapper
        cred = ans.creditos_vigentes
        term = request.loan.term_months
        requested = derived.requested_amount
        ratio = mp.payment_ratio(requested, derived.income_mxn, derived.existing_payments)
        c = self._c
        lo, hi = self._log_amount_clip
        dlo, dhi = self.clip.duration
        alo, ahi = self.clip.age
        amount = requested * mp.dm_per_mxn
        hist = mp.history_rank(ans.historial_crediticio, ans.atrasos_12_meses, cred)
        emp = mp.employment[ans.trabajo_tiempo]
        rate_class = mp.installment_class(ratio)
        log_amount = min(max(math.log(amount), lo), hi) if amount > 0 else lo
        duration = min(max(term * mp.duration_per_month, dlo), dhi)
        age = min(max(float(derived.age), alo), ahi)
        # one raw log-odds value per feature group, in GROUP_NAMES order
        values = (
            self._hist[hist],
            self._emp[emp],
            self._credits_value[cred],
            self._plans_value[cred],
            c[10] * rate_class,
            c[11] * log_amount,
            c[12] * duration,
            c[13] * age,
        )
        a = self.cal_a
        s = a * (self.intercept + sum(values)) + self.cal_b
        pd = 1.0 / (1.0 + math.exp(-s)) if s > -700.0 else 0.0
        top: list[PDFeatureContribution] = []
        if self.top_k:
            # reasons: calibrated log-odds each group adds against the training population's mean
            deltas = [(a * (v - m), i) for i, (v, m) in enumerate(zip(values, self._group_mean_list, strict=True))]
            deltas.sort(reverse=True)
            for delta, i in deltas[: self.top_k]:
                if delta <= 1e-9:
                    break
                group = GROUP_NAMES[i]
                top.append(
                    PDFeatureContribution(
                        feature=group,
                        answer=_answer_of(group, request, derived, ratio, self.mapper.mapping.term_reference_months),
                        contribution=round(delta, 4),
                    )
                )
        # each group's value in the design matrix (the rank for the ordinal ones): what monitoring compares
        xs = (hist, emp, self._credits_x[cred], self._plans_x[cred], rate_class, log_amount, duration, age)
        features = {g: float(x) for g, x in zip(GROUP_NAMES, xs, strict=True)}
        return PDResult(probability=pd, model_version=self.model_version, top_features=top, features=features)

    def predict_proba_encoded(self, X: np.ndarray, calibrated: bool = True) -> np.ndarray:
        """Batch PD of encoded rows (training scale); the same numbers as `predict` for one request."""
        z = np.asarray(X, dtype=float) @ self.coef + self.intercept
        if calibrated:
            z = self.cal_a * z + self.cal_b
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def encode(self, request: AssessmentRequest, derived: Derived) -> np.ndarray:
        """One request as an encoded row (1, n_columns), for batch scoring and cross-checks."""
        raw = self.raw_features(request, derived)
        return F.encode_arrays(
            np.array([raw.history_rank]),
            np.array([raw.employment_rank]),
            np.array([raw.existing_credits]),
            np.array([raw.other_plans]),
            np.array([raw.installment_rate]),
            np.array([raw.amount_dm]),
            np.array([raw.duration]),
            np.array([raw.age]),
            self.clip,
        )


def _answer_of(
    group: str, request: AssessmentRequest, derived: Derived, payment_ratio: float, reference_months: float
) -> str:
    """The dialog answer(s) a feature group came from, as `question=code` (reasons shown to people)."""
    a = request.answers
    if group == "credit_history":
        return (
            f"historial_crediticio={a.historial_crediticio}; atrasos_12_meses={a.atrasos_12_meses}; "
            f"creditos_vigentes={a.creditos_vigentes}"
        )
    if group == "employment_since":
        return f"trabajo_tiempo={a.trabajo_tiempo}"
    if group in ("existing_credits", "other_installment_plans"):
        return f"creditos_vigentes={a.creditos_vigentes}"
    if group == "installment_rate":
        ratio = "sin ingreso disponible" if math.isinf(payment_ratio) else f"{payment_ratio:.0%}"
        return (
            f"pago a {reference_months} meses/ingreso disponible={ratio}; ingreso_mensual={a.ingreso_mensual}; "
            f"creditos_vigentes={a.creditos_vigentes}; enganche={a.enganche}; "
            f"vehicle_price={request.loan.vehicle_price:g}"
        )
    if group == "credit_amount":
        return f"enganche={a.enganche}; vehicle_price={request.loan.vehicle_price:g}"
    if group == "duration":
        return f"term_months={request.loan.term_months}"
    return f"birth_year={request.applicant.birth_year}; age={derived.age}"


# The order in which each answer gets worse; PD must not fall along it (checked at load and by tests).
WORSENING: dict[str, tuple[str, ...]] = {
    "trabajo_tiempo": ("mas_2a", "1a_2a", "6m_1a", "menos_6m"),
    "historial_crediticio": ("excelente", "bueno", "sin_historial", "regular", "malo"),
    "creditos_vigentes": ("ninguno", "1_2", "3_mas", "pagos_pendientes"),
    "atrasos_12_meses": ("ninguno", "regularizado", "mas_1_mes", "varios_sin_regularizar"),
    "enganche": ("35_mas", "20_30", "minimo_15", "menos_15"),
    "ingreso_mensual": ("mas_30k", "20k_30k", "15k_20k", "menos_15k_comprobado", "menos_10k_sin_comprobar"),
}


def _check_monotone_mapping(mapper: F.DialogMapper) -> None:
    """A [pd.mapping] that maps a worse answer to a better German level breaks monotonicity: refuse it."""
    m = mapper.mapping
    checks = {
        "pd.mapping.history_level": (mapper.history, WORSENING["historial_crediticio"]),
        "pd.mapping.arrears_floor": (mapper.arrears, WORSENING["atrasos_12_meses"]),
        "pd.mapping.credits_floor": (mapper.credits_floor, WORSENING["creditos_vigentes"]),
        "pd.mapping.employment_level": (mapper.employment, WORSENING["trabajo_tiempo"]),
        "pd.mapping.existing_credits": (m.existing_credits, WORSENING["creditos_vigentes"]),
        "pd.mapping.other_installment_plans": (
            {k: int(v) for k, v in m.other_installment_plans.items()},
            WORSENING["creditos_vigentes"],
        ),
    }
    for key, (table, order) in checks.items():
        values = [table[code] for code in order]
        if any(b < a for a, b in itertools.pairwise(values)):
            raise ValueError(f"{key}: must not get better as the answer gets worse (order {list(order)})")
