"""`assess`: the one entry point of the engine (SPEC §5).

answers + loan + birth year → bank fit; → PD features → PD → credit score; income, stability, score →
fuzzy risk; everything → applicant graph → RDFS closure (owlrl) → facts read back from the inferred graph →
expert system → decision, rate, fired rules.

An `Assessor` holds everything that is expensive to build (the policy's tables, the fuzzy system, the
closed ontology, one experta engine, the PD model), built once; `assess()` then does no I/O. The engine is
handed its policy and model directory (the adapters take them from core.config.Settings); it reads no
environment variable.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from engine import ENGINE_VERSION
from engine.bank_fit import fit_banks
from engine.derive import derive
from engine.expert import decide_many, expert_system
from engine.fuzzy import fuzzy_model
from engine.fuzzy.envelope import monotone_risk
from engine.ontology import CreditOntology, InferredApplicant
from engine.pd import ApplicantPDModel, ModelUnavailable, load_served
from engine.pd.registry import current_version
from engine.pd.scaling import book_bad_rate, score_from_pd
from engine.policy import ASSESSED_PRODUCT, Policy, default_policy, load_policy
from engine.types import (
    AssessmentRequest,
    AssessmentResult,
    BankFitResult,
    Derived,
    ExpertResult,
    FuzzyResult,
    LossInputs,
    OntologyResult,
    PDResult,
)
from engine.validation import AssessmentInputError, parse_request

__all__ = ["AssessmentInputError", "Assessor", "ModelUnavailable", "assess", "get_assessor", "load_assessor"]


@dataclass(frozen=True, slots=True)
class _Inputs:
    """What the expert facts are made of, computed once per request by `_inputs` for `assess` and `verdicts`."""

    bank_fit: BankFitResult
    derived: Derived
    pd: PDResult
    score: int
    ingreso: float  # seed units (MXN / money_scale), the fuzzy input
    rule_risk: float  # the risk the rules read


class Assessor:
    def __init__(self, policy: Policy, pd_model: ApplicantPDModel) -> None:
        self.policy = policy
        self.pd_model = pd_model
        self.fuzzy = fuzzy_model(policy)
        # the risk the rules read: the seed's made monotone (engine/fuzzy/envelope.py), unless the policy says not
        self.envelope = monotone_risk(policy, self.fuzzy) if policy.fuzzy.envelope.monotone else None
        self.book_rate = book_bad_rate(pd_model)
        self.ontology = CreditOntology.load()
        self.expert = expert_system(policy)
        # experta's engine holds per-run state: one assessment at a time per Assessor (and its `with_model` copies)
        self._lock = threading.Lock()

    @property
    def model_version(self) -> str:
        return self.pd_model.model_version

    def with_model(self, pd_model: ApplicantPDModel) -> Assessor:
        """This assessor serving another PD model (a promotion): the policy's parts are shared, not rebuilt."""
        other = copy.copy(self)
        other.pd_model = pd_model
        other.book_rate = book_bad_rate(pd_model)
        return other

    # ------------------------------------------------------------------------------------------- steps
    def score_of(self, pd: float) -> int:
        """The credit score of a PD under this policy's scaling (anchored at the book's odds when it says so)."""
        return score_from_pd(pd, self.policy.score_scaling, self.book_rate)

    def rule_risk_many(self, ingreso: np.ndarray, estabilidad: np.ndarray, puntaje: np.ndarray) -> np.ndarray:
        """The risk 0–100 the expert rules read (seed units in)."""
        if self.envelope is None:
            return self.fuzzy.risk_many(ingreso, estabilidad, puntaje)
        return self.envelope.risk_many(ingreso, estabilidad, puntaje)

    def rule_risk(self, ingreso: float, estabilidad: float, puntaje: float) -> float:
        if self.envelope is None:
            return self.fuzzy.risk(ingreso, estabilidad, puntaje)
        return self.envelope.risk(ingreso, estabilidad, puntaje)

    # ------------------------------------------------------------------------------------------- entry
    def validate(self, data: Any, as_of: date | None = None) -> AssessmentRequest:
        """Decoded JSON (or a request) -> a request checked against the policy; raises AssessmentInputError."""
        return parse_request(data, self.policy, as_of or date.today())

    def assess(self, data: Any, as_of: date | None = None) -> AssessmentResult:
        as_of = as_of or date.today()
        request = parse_request(data, self.policy, as_of)
        return self._assess(request, as_of)[0]

    def verdicts(self, requests: Sequence[Any], as_of: date | None = None) -> list[ExpertResult]:
        """What `assess(r).expert` gives for each request (decision, rate, fired rules), from the rules' plain copy
        over all of them at once: `decide_many`, which the property tests hold to experta float for float, fed
        the facts the ontology would read back (floats go through it unchanged: `Decimal(repr(x))`). No
        ontology, no experta, no explanation: about a tenth of an assessment each. For screening variants (the
        card's what-if); what is shown or stored comes from `assess`."""
        as_of = as_of or date.today()
        rows: list[tuple[int, float, float, float, float, float, int, int]] = []
        for data in requests:
            request = parse_request(data, self.policy, as_of)
            x = self._inputs(request, as_of)
            rows.append((
                as_of.year - request.applicant.birth_year,  # as the ontology's read-back computes it
                x.rule_risk,
                x.derived.income_mxn,
                float(x.score),
                x.derived.debt_capacity,
                x.derived.requested_amount,
                request.loan.term_months,
                len(x.bank_fit.eligible),
            ))  # fmt: skip
        if not rows:
            return []
        age, risk, income, score, capacity, requested, term, eligible = (np.array(c) for c in zip(*rows, strict=True))
        out = decide_many(
            age=age, risk=risk, income=income, score=score, debt_capacity=capacity, requested=requested,
            term_months=term, eligible_banks=eligible, policy=self.policy,
        )  # fmt: skip
        return [out.result(i) for i in range(len(rows))]

    def assess_with_graph(self, data: Any, as_of: date | None = None) -> tuple[AssessmentResult, str]:
        """The result and the inferred ontology graph of the applicant, as Turtle (for audit)."""
        as_of = as_of or date.today()
        request = parse_request(data, self.policy, as_of)
        result, inferred = self._assess(request, as_of)
        return result, inferred.to_turtle()

    # ------------------------------------------------------------------------------------------- steps
    def _inputs(self, request: AssessmentRequest, as_of: date) -> _Inputs:
        policy = self.policy
        bank_fit = fit_banks(request.answers.model_dump(), policy)
        derived = derive(request, policy, as_of)
        pd = self.pd_model.predict(request, derived)
        score = self.score_of(pd.probability)
        ingreso = derived.income_mxn / policy.mappings.money_scale
        rule_risk = self.rule_risk(ingreso, derived.stability, float(score))
        return _Inputs(bank_fit, derived, pd, score, ingreso, rule_risk)

    def _assess(self, request: AssessmentRequest, as_of: date) -> tuple[AssessmentResult, InferredApplicant]:
        policy = self.policy
        x = self._inputs(request, as_of)
        bank_fit, derived, pd, score, ingreso, rule_risk = x.bank_fit, x.derived, x.pd, x.score, x.ingreso, x.rule_risk
        risk = self.fuzzy.risk(ingreso, derived.stability, float(score))  # the seed's own, reported

        with self._lock:
            inferred = self.ontology.reason(
                request,
                derived,
                risk=rule_risk,
                score=score,
                pd=pd.probability,
                as_of_year=as_of.year,
                policy=policy,
                bank=bank_fit.recommended,
                eligible_banks=bank_fit.eligible,
                knockouts=bank_fit.knockouts,
            )
            expert = self.expert.decide(inferred.facts)

        escalation_reasons: list[str] = []
        if policy.escalation.on_low_score and bank_fit.low_score:
            escalation_reasons.append("low_score")
        if "K1" in expert.fired_rules:
            # seed 002, case 1: "recomendando contactar un asesor"
            escalation_reasons.append("no_eligible_bank")
        if expert.decision in policy.escalation.on_decisions:
            escalation_reasons.append(f"decision_{expert.decision}")

        product = policy.product
        ead = derived.requested_amount * product.ead_factor
        result = AssessmentResult(
            bank_fit=bank_fit,
            pd=pd,
            credit_score=score,
            fuzzy=FuzzyResult(
                risk=round(risk, 4),
                rule_risk=round(rule_risk, 4),
                inputs={"ingreso": ingreso, "estabilidad": derived.stability, "puntaje": float(score)},
                activations={
                    rule: round(a, 4)
                    for rule, a in self.fuzzy.activations(ingreso, derived.stability, float(score)).items()
                },
            ),
            ontology=OntologyResult(
                asserted_triples=inferred.asserted_count,
                inferred_triples=inferred.inferred_count,
                facts=inferred.facts,
            ),
            expert=expert,
            derived=derived,
            expected_loss=round(pd.probability * product.lgd * ead, 2),
            loss_inputs=LossInputs(
                product=ASSESSED_PRODUCT,
                lgd=product.lgd,
                ead_factor=product.ead_factor,
                exposure=round(ead, 2),
                source=product.source,
            ),
            escalate=bool(escalation_reasons),
            escalation_reasons=escalation_reasons,
            policy_version=policy.version,
            policy_hash=policy.content_hash,
            model_version=pd.model_version,
            engine_version=ENGINE_VERSION,
        )
        return result, inferred


_ASSESSORS: dict[tuple[str, str, str], Assessor] = {}
_ASSESSORS_LOCK = threading.Lock()


def load_assessor(policy: Policy, model_dir: str | Path, base: Assessor | None = None) -> Assessor:
    """An assessor of `policy` serving the model `current` names under `model_dir` (ModelUnavailable when it
    cannot serve). `base`: an assessor of the same policy whose parts are reused (a promotion swaps the model)."""
    pd_model = load_served(model_dir, policy)
    if base is not None and base.policy.content_hash == policy.content_hash:
        return base.with_model(pd_model)
    return Assessor(policy, pd_model)


def get_assessor(policy: Policy | str | Path | None = None, model_dir: str | Path | None = None) -> Assessor:
    """The assessor of a policy (a Policy, a file, or the shipped one) serving the model in service under
    `model_dir`, built once per policy, directory and version in service."""
    if model_dir is None:
        raise TypeError("get_assessor needs the model directory (core.config.Settings.resolved_model_dir)")
    if policy is None:
        policy = default_policy()
    elif not isinstance(policy, Policy):
        policy = load_policy(policy)
    directory = Path(model_dir).resolve()
    with _ASSESSORS_LOCK:
        version = current_version(directory, policy.pd.applicant_model) or ""
        key = (policy.content_hash, str(directory), version)
        assessor = _ASSESSORS.get(key)
        if assessor is None:
            base = next((a for k, a in _ASSESSORS.items() if k[0] == policy.content_hash), None)
            assessor = load_assessor(policy, directory, base)
            _ASSESSORS[(policy.content_hash, str(directory), assessor.model_version)] = assessor
        return assessor


def assess(
    data: Any, model_dir: str | Path, as_of: date | None = None, policy: Policy | None = None
) -> AssessmentResult:
    """Assess one request with the default (or given) policy and the model in service under `model_dir`."""
    return get_assessor(policy, model_dir).assess(data, as_of)
