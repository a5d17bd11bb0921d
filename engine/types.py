"""Typed request and result of one assessment (SPEC §7), and the facts passed between assessors.

Answer codes are checked against the policy in engine.validation (the policy is their one source of truth).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Decision = Literal["aprobado", "rechazado", "revisar"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------------------------- request
class Answers(_Model):
    trabajo_tiempo: str
    banco_nomina: str
    historial_crediticio: str
    creditos_vigentes: str
    atrasos_12_meses: str
    enganche: str
    prioridad_financiamiento: str
    ingreso_mensual: str


class Loan(_Model):
    vehicle_price: float = Field(gt=0, description="Vehicle price in MXN")
    term_months: int = Field(gt=0, description="Requested term in months")


class Applicant(_Model):
    birth_year: int
    monthly_income: float | None = Field(default=None, ge=0, description="Exact monthly income in MXN, if given")
    name: str | None = Field(default=None, max_length=200)


class AssessmentRequest(_Model):
    answers: Answers
    loan: Loan
    applicant: Applicant


# ------------------------------------------------------------------------------------- derived numbers
class Derived(_Model):
    """Numbers of SPEC §4 computed from the request; the inputs of fuzzy, ontology and expert."""

    age: int
    income_mxn: float
    income_source: Literal["declared", "band"]
    stability: float
    down_payment_fraction: float
    requested_amount: float
    existing_payments: float
    debt_capacity: float


class ExpertFacts(_Model):
    """What the expert system reasons on; read back from the inferred ontology graph (seed 003 facts)."""

    name: str
    birth_year: int
    age: int
    risk: float  # fuzzy risk 0–100 (the rules divide by policy.expert.risk_divisor)
    income: float  # MXN / month
    score: float  # 0–1000
    debt_capacity: float  # MXN
    requested: float  # MXN
    term_months: int
    # seed 002's knock-outs, read back from the graph: the banks whose table accepts every answer (None: the
    # caller gave no bank fit, as in the expert system's own tests) and the eliminatory answers ("q=code")
    eligible_banks: list[str] | None = None
    knockouts: list[str] = []
    pd: float | None = None  # the applicant model's PD 0–1 (ex:probabilidadIncumplimiento), when asserted


# ----------------------------------------------------------------------------------------------- results
class CriterionScore(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True)  # shared between results: never mutated

    question: str
    answer: str
    points: int | None  # None where the cell is a rejection
    rejected: bool


class BankFitResult(_Model):
    recommended: str
    second: str | None
    scores: dict[str, int]
    rejections: dict[str, list[str]]  # bank -> questions whose answer the bank rejects
    low_score: bool
    band: str
    eligible: list[str]  # eligible banks, best first
    ranking: list[str]  # all six banks: eligible best first, then the rejected ones
    no_eligible_bank: bool  # seed 002 case 1
    knockouts: list[str] = []  # eliminatory answers, "question=code", each rejecting at least one bank
    reasons: dict[str, list[CriterionScore]]  # bank -> per-question cell


class PDFeatureContribution(_Model):
    feature: str
    answer: str | None = None
    contribution: float  # log-odds added to the applicant's PD against the training population's mean


class PDResult(_Model):
    probability: float
    model_version: str
    top_features: list[PDFeatureContribution]
    # what the model saw, per feature group on the training scale (ordinal groups as their rank): stored with
    # the assessment so monitoring compares applicants with the training population (PSI, issue 15)
    features: dict[str, float] = {}


class FuzzyResult(_Model):
    risk: float  # 0–100, the seed's fuzzy output
    rule_risk: float | None = None  # 0–100, what the expert rules read: the seed's made monotone (envelope.py)
    inputs: dict[str, float]  # ingreso (seed units), estabilidad, puntaje
    activations: dict[str, float] = {}  # firing strength of each fuzzy rule (F1–F9), for the explanation


class ExpertResult(_Model):
    decision: Decision
    rate: float
    fired_rules: list[str]


class OntologyResult(_Model):
    asserted_triples: int
    inferred_triples: int
    facts: ExpertFacts


class LossInputs(_Model):
    """The expected-loss inputs an assessment used (the policy's [products.<product>]), kept with it."""

    product: str
    lgd: float
    ead_factor: float
    exposure: float  # EAD in MXN = requested amount × ead_factor
    source: str  # where the assumption comes from (policy text)


class AssessmentResult(_Model):
    bank_fit: BankFitResult
    pd: PDResult
    credit_score: int
    fuzzy: FuzzyResult
    ontology: OntologyResult
    expert: ExpertResult
    derived: Derived
    expected_loss: float  # PD × loss_inputs.lgd × loss_inputs.exposure
    loss_inputs: LossInputs
    escalate: bool
    escalation_reasons: list[str]
    policy_version: str
    policy_hash: str
    model_version: str
    engine_version: str
