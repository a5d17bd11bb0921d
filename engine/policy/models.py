"""Pydantic models of the policy file, with the cross-checks a single field cannot express.

A bad file fails at load with PolicyError, whose message names the key (dotted path) and the problem. Each
cross-check raises PolicyCheck: its `kind` and values (`ctx`) let an adapter say it in its own words
(core.copy_es), as engine.validation's input checks do; the message is the engine's plain English.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

QUESTIONS: tuple[str, ...] = (
    "trabajo_tiempo",
    "banco_nomina",
    "historial_crediticio",
    "creditos_vigentes",
    "atrasos_12_meses",
    "enganche",
    "prioridad_financiamiento",
    "ingreso_mensual",
)

REJECT = "R"
# the product the engine assesses (car loans); its [products.<code>] table holds the expected-loss inputs
ASSESSED_PRODUCT = "auto"
Cell = int | Literal["R"]


class PolicyCheck(ValueError):
    """A cross-check of the policy file that failed: `kind` is a stable snake_case name, `ctx` its values (JSON
    values); str() is the plain English message (logs, developers)."""

    def __init__(self, kind: str, message: str, **ctx: Any) -> None:
        super().__init__(message)
        self.kind, self.ctx = kind, ctx


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Meta(_Strict):
    version: str = Field(min_length=1)
    name: str
    currency: Literal["MXN"] = "MXN"


class Band(_Strict):
    min: int = Field(ge=0)
    label: str


class BankFitPolicy(_Strict):
    low_score_threshold: int = Field(ge=0)
    bands: tuple[Band, ...]
    # question -> answer code -> one cell per bank (in [banks] order)
    table: dict[str, dict[str, tuple[Cell, ...]]]

    @field_validator("bands")
    @classmethod
    def _bands_descending(cls, bands: tuple[Band, ...]) -> tuple[Band, ...]:
        mins = [b.min for b in bands]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise PolicyCheck("bands_order", "bands must be listed from the highest 'min' down, without repeats")
        if not bands or bands[-1].min != 0:
            raise PolicyCheck("bands_last_zero", "the last band must start at 0 so that every total has a band")
        return bands

    def band_for(self, total: int) -> str:
        for band in self.bands:
            if total >= band.min:
                return band.label
        return self.bands[-1].label


class Mappings(_Strict):
    money_scale: float = Field(gt=0)
    income_by_band: dict[str, float]
    # what each ingreso_mensual band means in MXN a month, [min, max] both inclusive (neighbours may share a
    # bound): a declared exact income outside its band makes the dialog ask which one is right
    income_band_range: dict[str, tuple[float, float]]
    stability_by_tenure: dict[str, float]
    down_payment_fraction: dict[str, float]
    existing_payment_share: dict[str, float]

    @field_validator("stability_by_tenure")
    @classmethod
    def _stability_range(cls, v: dict[str, float]) -> dict[str, float]:
        for code, x in v.items():
            if not 0 <= x <= 10:
                raise PolicyCheck(
                    "stability_range", f"{code}: stability must be within 0–10, got {x}", code=code, value=x
                )
        return v

    @model_validator(mode="after")
    def _ranges_hold_their_representative(self) -> Mappings:
        for code, (lo, hi) in self.income_band_range.items():
            rep = self.income_by_band.get(code)
            if not 0 <= lo <= hi or (rep is not None and not lo <= rep <= hi):
                raise PolicyCheck(
                    "income_range",
                    f"income_band_range.{code}: [{lo}, {hi}] must hold income_by_band.{code} = {rep}",
                    code=code,
                    low=lo,
                    high=hi,
                    value=rep,
                )
        return self

    def band_for_income(self, income: float) -> str | None:
        """The band a monthly income (MXN) falls in: the last one in table order whose range holds it."""
        found = [code for code, (lo, hi) in self.income_band_range.items() if lo <= income <= hi]
        return found[-1] if found else None

    def income_fits_band(self, income: float, band: str) -> bool:
        lo, hi = self.income_band_range[band]
        return lo <= income <= hi

    @field_validator("down_payment_fraction", "existing_payment_share")
    @classmethod
    def _fractions(cls, v: dict[str, float]) -> dict[str, float]:
        for code, x in v.items():
            if not 0 <= x < 1:
                raise PolicyCheck(
                    "fraction_range", f"{code}: a fraction must be within [0, 1), got {x}", code=code, value=x
                )
        return v


class CapacityPolicy(_Strict):
    max_dti: float = Field(gt=0, le=1)
    reference_rate_annual: float = Field(ge=0, lt=1)


class ScoreScaling(_Strict):
    base_points: float
    base_odds: float = Field(gt=0)
    pdo: float = Field(gt=0)
    # "fixed": base_odds are odds of being good; "book": relative to the book's (engine/pd/scaling.py)
    anchor: Literal["fixed", "book"] = "fixed"
    min_score: int = 0
    max_score: int = 1000


class Limits(_Strict):
    vehicle_price_min: float = Field(gt=0)
    vehicle_price_max: float = Field(gt=0)
    term_months_min: int = Field(gt=0)
    term_months_max: int = Field(gt=0)
    term_options: tuple[int, ...]
    age_min: int = Field(ge=0)
    age_max: int = Field(gt=0)
    monthly_income_max: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Limits:
        if self.vehicle_price_min >= self.vehicle_price_max:
            raise PolicyCheck("price_order", "vehicle_price_min must be below vehicle_price_max")
        if self.term_months_min > self.term_months_max:
            raise PolicyCheck("term_order", "term_months_min must not exceed term_months_max")
        if self.age_min >= self.age_max:
            raise PolicyCheck("age_order", "age_min must be below age_max")
        bad = [t for t in self.term_options if not self.term_months_min <= t <= self.term_months_max]
        if bad:
            raise PolicyCheck(
                "term_options_outside", f"term_options {bad} fall outside term_months_min..term_months_max", terms=bad
            )
        return self


class Trap(_Strict):
    trap: tuple[float, float, float, float]


class Tri(_Strict):
    tri: tuple[float, float, float]


class GaussParams(_Strict):
    mean: float
    sigma: float = Field(gt=0)


class Gauss(_Strict):
    gauss: GaussParams


Membership = Trap | Tri | Gauss


class Hedged(_Strict):
    hedge: Literal["muy", "mas_o_menos", "extremadamente"]
    of: str


class FuzzyVariable(_Strict):
    name: str | None = None
    min: float
    max: float
    step: float = Field(gt=0)
    terms: dict[str, Membership]
    hedged: dict[str, Hedged] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> FuzzyVariable:
        if self.min >= self.max:
            raise PolicyCheck("min_below_max", "min must be below max")
        intervals = (self.max - self.min) / self.step
        if abs(intervals - round(intervals)) > 1e-9 * max(1.0, intervals):
            # the universe is sampled min..max inclusive: the step must land on max
            span = self.max - self.min
            raise PolicyCheck(
                "step_divides", f"step {self.step} does not divide max − min = {span}", step=self.step, span=span
            )
        for name, mf in self.terms.items():
            pts = mf.trap if isinstance(mf, Trap) else mf.tri if isinstance(mf, Tri) else None
            if pts is not None and list(pts) != sorted(pts):
                raise PolicyCheck(
                    "break_points_order",
                    f"terms.{name}: break points must be non-decreasing, got {list(pts)}",
                    term=name,
                    points=list(pts),
                )
        for name, h in self.hedged.items():
            if h.of not in self.terms:
                raise PolicyCheck(
                    "hedge_unknown_term", f"hedged.{name}: '{h.of}' is not a term of this variable", hedge=name, of=h.of
                )
            if name in self.terms:
                raise PolicyCheck("hedge_is_term", f"hedged.{name}: the name is already a plain term", hedge=name)
        return self

    @property
    def term_names(self) -> tuple[str, ...]:
        return (*self.terms, *self.hedged)


class FuzzyRule(_Strict):
    id: str
    if_: str = Field(alias="if", min_length=1)
    then: str


class FuzzyEnvelope(_Strict):
    """The risk the expert rules read (engine/fuzzy/envelope.py): the seed's made monotone, or the seed's."""

    monotone: bool = True
    income_step: float = Field(default=0.1, gt=0)  # seed millones
    score_step: float = Field(default=5.0, gt=0)


class FuzzyPolicy(_Strict):
    variables: dict[str, FuzzyVariable]
    output: FuzzyVariable
    rules: tuple[FuzzyRule, ...]
    envelope: FuzzyEnvelope = FuzzyEnvelope()

    @model_validator(mode="after")
    def _check(self) -> FuzzyPolicy:
        needed = {"ingreso", "estabilidad", "puntaje"}
        if missing := needed - set(self.variables):
            raise PolicyCheck("variables_missing", f"variables: missing {sorted(missing)}", missing=sorted(missing))
        ids = [rule.id for rule in self.rules]
        if dupes := sorted({x for x in ids if ids.count(x) > 1}):
            raise PolicyCheck("rule_ids_repeated", f"rules: duplicate ids {dupes}", ids=dupes)
        for i, rule in enumerate(self.rules):
            if rule.then not in self.output.term_names:
                raise PolicyCheck(
                    "rule_output_unknown",
                    f"rules[{i}] ({rule.id}): output term '{rule.then}' is not defined",
                    index=i,
                    rule=rule.id,
                    term=rule.then,
                )
            _check_antecedent(rule, i, self.variables)
        return self


def _check_antecedent(rule: FuzzyRule, i: int, variables: dict[str, FuzzyVariable]) -> None:
    """Parse the rule (engine.fuzzy.rules: syntax, known variables and terms) so a bad rule fails at load."""
    from engine.fuzzy.rules import RuleSyntaxError, parse_rule  # lazy: engine.fuzzy imports this module

    try:
        parse_rule(rule.if_, {name: var.term_names for name, var in variables.items()})
    except RuleSyntaxError as exc:
        raise PolicyCheck(
            "rule_syntax", f"rules[{i}] ({rule.id}): {exc}", index=i, rule=rule.id, syntax=exc.kind, **exc.ctx
        ) from None


class ExpertPolicy(_Strict):
    risk_divisor: float = Field(gt=0)
    min_age: int
    max_age: int
    reject_risk_above: float
    reject_income_below: float
    reject_score_below: float
    reject_term_above: int
    approve_amount_at_most: float
    approve_risk_at_most: float
    approve_score_at_least: float
    approve_income_above: float
    base_rate_intercept: float
    base_rate_per_risk: float = Field(ge=0)
    # R12 "según el riesgo y el puntaje": rate points between a score of 1000 and a score of 0
    base_rate_per_score: float = Field(default=0.0, ge=0)
    discount_risk_below: float
    discount_score_at_least: float
    discount_points: float
    surcharge_amount_above: float
    surcharge_risk_above: float
    surcharge_points: float
    short_term_at_most: int
    short_term_points: float
    microcredit_amount_at_most: float
    microcredit_points: float
    rate_min: float
    rate_max: float
    # K1 (seed 002, case 1): what the verdict is when no bank accepts the answers; never "aprobado"
    no_eligible_bank_decision: Literal["revisar", "rechazado"] = "revisar"
    # P1/P2: the [pd] cut-offs take part in the verdict (PD >= review_pd_below rejects, PD >= approve_pd_below
    # sends to review)
    pd_cutoffs: bool = False

    @model_validator(mode="after")
    def _check(self) -> ExpertPolicy:
        if self.rate_min > self.rate_max:
            raise PolicyCheck("rate_order", "rate_min must not exceed rate_max")
        if self.min_age >= self.max_age:
            raise PolicyCheck("expert_age_order", "min_age must be below max_age")
        return self


# German Credit meanings the dialog answers map to (engine/pd/features.py ranks them, best first).
HistoryLevel = Literal["all_paid_here", "existing_paid", "none_or_all_paid", "critical", "delay"]
EmploymentLevel = Literal["ge_7y", "4_7y", "1_4y", "lt_1y", "unemployed"]


class PDMapping(_Strict):
    """Dialog answer -> German Credit feature (docs/pd.md has the table)."""

    history_level: dict[str, HistoryLevel]
    # arrears and pending payments put a floor under the credit-history meaning (the worse one wins)
    arrears_floor: dict[str, HistoryLevel]
    credits_floor: dict[str, HistoryLevel]
    employment_level: dict[str, EmploymentLevel]
    existing_credits: dict[str, int]
    other_installment_plans: dict[str, bool]
    amount_reference_mxn: float = Field(gt=0)
    term_reference_months: float = Field(gt=0)
    installment_rate_thresholds: tuple[float, float, float]
    top_features: int = Field(ge=0, le=8)
    # optional prior shift of the calibrated PD to a portfolio default rate (None = German Credit's mix)
    portfolio_bad_rate: float | None = Field(default=None, gt=0, lt=1)

    @field_validator("existing_credits")
    @classmethod
    def _credit_counts(cls, v: dict[str, int]) -> dict[str, int]:
        for code, n in v.items():
            if not 1 <= n <= 4:
                raise PolicyCheck(
                    "credit_count_range",
                    f"{code}: German Credit counts existing credits as 1–4, got {n}",
                    code=code,
                    value=n,
                )
        return v

    @field_validator("installment_rate_thresholds")
    @classmethod
    def _increasing(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if not 0 < v[0] < v[1] < v[2]:
            raise PolicyCheck(
                "thresholds_increasing",
                f"thresholds must be positive and strictly increasing, got {list(v)}",
                values=list(v),
            )
        return v


class PDTraining(_Strict):
    seed: int
    holdout_fraction: float = Field(gt=0, lt=1)
    # one vocabulary with the seed-001 study (engine/training/resampling.py STRATEGIES)
    resampler: Literal["none", "over", "under", "both", "smote", "smote_dmwr"]
    # Platt on out-of-fold logits, or none (a fit on the original class mix is already calibrated)
    recalibration: Literal["platt", "none"] = "platt"
    l2_c: float = Field(gt=0)
    calibration_folds: int = Field(ge=2)
    cv_folds: int = Field(ge=2)
    credit_history_reading: Literal["groemping_2019", "as_printed"]

    @field_validator("resampler", mode="before")
    @classmethod
    def _renamed_resampler(cls, v: object) -> object:
        if v == "random_over":
            raise PolicyCheck(
                "resampler_renamed", '"random_over" is now called "over" (the same name as in asesor train report)'
            )
        return v

    @model_validator(mode="after")
    def _resampled_needs_recalibration(self) -> PDTraining:
        if self.resampler != "none" and self.recalibration == "none":
            raise PolicyCheck(
                "resampled_needs_recalibration",
                'a resampled fit must be recalibrated (recalibration = "platt"): its PD is inflated',
            )
        return self


class PDPolicy(_Strict):
    applicant_model: str = Field(min_length=1)
    approve_pd_below: float = Field(gt=0, lt=1)
    review_pd_below: float = Field(gt=0, lt=1)
    # the book default rate the two cut-offs are written for: the verdict reads them as scores on the anchored
    # scale at this rate, so it does not move with the assumed portfolio_bad_rate (docs/engine.md)
    cutoff_reference_rate: float = Field(default=0.08, gt=0, lt=1)
    mapping: PDMapping
    training: PDTraining

    @model_validator(mode="before")
    @classmethod
    def _loss_inputs_moved(cls, data: object) -> object:
        # an analyst's older copy of the file: say where the keys went instead of "extra inputs"
        moved = [k for k in ("lgd", "ead_factor") if isinstance(data, dict) and k in data]
        if moved:
            raise PolicyCheck(
                "loss_inputs_moved",
                f"{', '.join(moved)} moved to [products.{ASSESSED_PRODUCT}] (with a `source`)",
                keys=moved,
                product=ASSESSED_PRODUCT,
            )
        return data


class ProductPolicy(_Strict):
    """Expected-loss inputs of one product: EL = PD × LGD × EAD, EAD = requested amount × ead_factor.

    They are assumptions until the bank measures them on its own recoveries; `source` says which and why."""

    name: str = Field(min_length=1)
    lgd: float = Field(ge=0, le=1)
    ead_factor: float = Field(gt=0, le=2)
    source: str = Field(min_length=10)


class EscalationPolicy(_Strict):
    on_low_score: bool = True
    on_decisions: tuple[Literal["aprobado", "rechazado", "revisar"], ...] = ("revisar",)
    # the advisors' service level: minutes from a case's opening to the first advisor message
    first_answer_minutes: int = Field(default=15, ge=1, le=24 * 60)


class LabPolicy(_Strict):
    """`asesor policy simulate`: the loan grid and the invariants' thresholds (docs/engine.md)."""

    vehicle_prices: tuple[float, ...] = Field(min_length=2)
    ages: tuple[int, ...] = Field(min_length=1)
    # the open top income band is simulated up to this monthly income (MXN)
    income_cap: float = Field(gt=0)
    # question -> its answer codes from the best row to the worst; a question not listed has unordered rows
    # (the payroll bank, the financing priority): changing its answer must then leave the verdict unchanged
    better_rows: dict[str, tuple[str, ...]]
    spearman_min: float = Field(ge=-1, le=1)
    rate_span_min: float = Field(ge=0)
    # loans of the grid with fewer approved rows than this are reported, not held to the rate invariants
    min_approved_per_loan: int = Field(ge=2)
    # the best profile (best row everywhere) with this car is approved at most this far above rate_min
    best_profile_price: float = Field(gt=0)
    best_profile_age: int = Field(gt=0)
    best_rate_margin: float = Field(ge=0)


class StabilityLabel(_Strict):
    min: float = Field(ge=0, le=10)
    label: str = Field(min_length=1)


class OntologyPolicy(_Strict):
    """How the applicant graph (engine/ontology) names what the numbers mean."""

    # ingreso_mensual code -> subclass of ex:Ingreso (local name in credit.ttl)
    income_class_by_band: dict[str, str]
    # ex:estabilidadLaboral from the 0–10 stability: listed from the highest `min` down, the last at 0
    stability_labels: tuple[StabilityLabel, ...]
    # class (subclass of ex:Credito) and ex:estadoCredito of the credit being assessed
    credit_class: str = Field(min_length=1)
    credit_state: str = Field(min_length=1)

    @field_validator("stability_labels")
    @classmethod
    def _labels_descending(cls, labels: tuple[StabilityLabel, ...]) -> tuple[StabilityLabel, ...]:
        mins = [x.min for x in labels]
        if not labels or mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise PolicyCheck("labels_order", "list the labels from the highest 'min' down, without repeats")
        if mins[-1] != 0:
            raise PolicyCheck("labels_last_zero", "the last label must start at 0 so that every stability has a label")
        return labels

    def stability_label(self, stability: float) -> str:
        for x in self.stability_labels:
            if stability >= x.min:
                return x.label
        return self.stability_labels[-1].label


# ------------------------------------------------------------------------------------------ strategies
StrategyDimension = Literal["payroll_bank", "income_band", "down_payment", "tenure", "recommended_bank"]
# the answer each dimension is made of (recommended_bank: the bank codes)
STRATEGY_DIMENSION_QUESTIONS: dict[str, str] = {
    "payroll_bank": "banco_nomina",
    "income_band": "ingreso_mensual",
    "down_payment": "enganche",
    "tenure": "trabajo_tiempo",
}
StrategyMetric = Literal["applicants", "approval_rate", "review_rate", "mean_pd", "expected_loss_per_applicant"]


class StrategyWhen(_Strict):
    """Conditions of a rule, all of which must hold: thresholds on a segment's figures (`…_at_least` is >=,
    `…_below` is <) and the codes a segment's dimension must have (any of them)."""

    applicants_at_least: int | None = Field(default=None, ge=1)
    approval_rate_at_least: float | None = Field(default=None, ge=0, le=1)
    approval_rate_below: float | None = Field(default=None, ge=0, le=1)
    review_rate_at_least: float | None = Field(default=None, ge=0, le=1)
    mean_pd_at_least: float | None = Field(default=None, ge=0, le=1)
    mean_pd_below: float | None = Field(default=None, ge=0, le=1)
    expected_loss_per_applicant_at_least: float | None = Field(default=None, ge=0)
    expected_loss_per_applicant_below: float | None = Field(default=None, ge=0)
    payroll_bank: tuple[str, ...] | None = None
    income_band: tuple[str, ...] | None = None
    down_payment: tuple[str, ...] | None = None
    tenure: tuple[str, ...] | None = None
    recommended_bank: tuple[str, ...] | None = None


class StrategyRule(_Strict):
    action: Literal["promote", "larger_down_payment", "route_to_advisor"]
    # shown to analysts; `{bank}` is replaced by the bank's name
    label: str = Field(min_length=1)
    # promote: with this bank, or (None) with the bank most often recommended to the segment
    bank: str | None = None
    when: StrategyWhen = StrategyWhen()


class StrategiesPolicy(_Strict):
    """Segment strategies of the analysts' dashboard (issue 15): segments are the assessments grouped by
    `dimensions`; each segment with at least `min_applicants` gets the action of the first rule that holds."""

    dimensions: tuple[StrategyDimension, ...] = ("payroll_bank", "income_band", "down_payment")
    min_applicants: int = Field(default=20, ge=1)
    rank_by: StrategyMetric = "approval_rate"
    descending: bool = True
    rules: tuple[StrategyRule, ...] = ()

    @field_validator("dimensions")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or len(set(v)) != len(v):
            raise PolicyCheck("dimensions_distinct", "list one or more dimensions, each once")
        return v


class Policy(_Strict):
    meta: Meta
    answers: dict[str, dict[str, str]]
    banks: dict[str, str]
    bank_fit: BankFitPolicy
    mappings: Mappings
    capacity: CapacityPolicy
    score_scaling: ScoreScaling
    limits: Limits
    fuzzy: FuzzyPolicy
    expert: ExpertPolicy
    pd: PDPolicy
    products: dict[str, ProductPolicy]
    escalation: EscalationPolicy
    ontology: OntologyPolicy
    # segment strategies of the analysts' dashboard; a policy without the section suggests nothing
    strategies: StrategiesPolicy = StrategiesPolicy()
    lab: LabPolicy
    # filled by the loader: sha256 of the file's bytes
    content_hash: str = ""

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def bank_codes(self) -> tuple[str, ...]:
        return tuple(self.banks)

    @property
    def product(self) -> ProductPolicy:
        """The expected-loss inputs of the product the engine assesses."""
        return self.products[ASSESSED_PRODUCT]

    @field_validator("products")
    @classmethod
    def _assessed_product(cls, v: dict[str, ProductPolicy]) -> dict[str, ProductPolicy]:
        if ASSESSED_PRODUCT not in v:
            raise PolicyCheck(
                "product_required",
                f"[products.{ASSESSED_PRODUCT}] is required: the engine assesses {ASSESSED_PRODUCT} loans",
                product=ASSESSED_PRODUCT,
            )
        return v

    @property
    def offered_terms(self) -> tuple[int, ...]:
        """The terms the dialog and the handoff offer: the menu's options that R7 does not always reject."""
        return tuple(t for t in self.limits.term_options if t <= self.expert.reject_term_above)

    @model_validator(mode="after")
    def _better_rows_are_orders(self) -> Policy:
        for q, order in self.lab.better_rows.items():
            if q not in self.answers:
                raise PolicyCheck("better_rows_question", f"lab.better_rows.{q}: not a question", question=q)
            if sorted(order) != sorted(self.answers[q]):
                raise PolicyCheck(
                    "better_rows_order",
                    f"lab.better_rows.{q}: must list every code of answers.{q} once, best first",
                    question=q,
                )
        return self

    @model_validator(mode="after")
    def _some_term_is_offered(self) -> Policy:
        if not self.offered_terms:
            raise PolicyCheck(
                "no_term_offered",
                f"limits.term_options: none is at most expert.reject_term_above = {self.expert.reject_term_above}",
                limit=self.expert.reject_term_above,
            )
        return self

    @model_validator(mode="after")
    def _check_pd_mapping(self) -> Policy:
        m = self.pd.mapping
        for field, question in (
            ("history_level", "historial_crediticio"),
            ("arrears_floor", "atrasos_12_meses"),
            ("credits_floor", "creditos_vigentes"),
            ("employment_level", "trabajo_tiempo"),
            ("existing_credits", "creditos_vigentes"),
            ("other_installment_plans", "creditos_vigentes"),
        ):
            got, want = set(getattr(m, field)), set(self.answers.get(question, {}))
            if got != want:
                raise PolicyCheck(
                    "codes_mismatch",
                    f"pd.mapping.{field}: codes must be those of answers.{question}; "
                    f"missing {sorted(want - got)}, unknown {sorted(got - want)}",
                    where=f"pd.mapping.{field}",
                    question=question,
                    missing=sorted(want - got),
                    unknown=sorted(got - want),
                )
        return self

    @model_validator(mode="after")
    def _check_strategies(self) -> Policy:
        for i, rule in enumerate(self.strategies.rules, 1):
            where = f"strategies.rules[{i}]"
            if rule.bank is not None and rule.bank not in self.banks:
                raise PolicyCheck(
                    "strategy_unknown_bank",
                    f"{where}.bank: unknown bank {rule.bank!r}; use one of {list(self.banks)}",
                    where=where,
                    bank=rule.bank,
                    known=list(self.banks),
                )
            if rule.bank is not None and rule.action != "promote":
                raise PolicyCheck(
                    "strategy_bank_not_promote", f"{where}.bank: only a 'promote' rule names a bank", where=where
                )
            for dim in (*STRATEGY_DIMENSION_QUESTIONS, "recommended_bank"):
                codes = getattr(rule.when, dim)
                if codes is None:
                    continue
                known = self.banks if dim == "recommended_bank" else self.answers[STRATEGY_DIMENSION_QUESTIONS[dim]]
                unknown = [c for c in codes if c not in known]
                if unknown:
                    raise PolicyCheck(
                        "strategy_unknown_codes",
                        f"{where}.when.{dim}: unknown codes {unknown}; use some of {list(known)}",
                        where=f"{where}.when.{dim}",
                        codes=unknown,
                        known=list(known),
                    )
        return self

    @model_validator(mode="after")
    def _check_ontology(self) -> Policy:
        got = set(self.ontology.income_class_by_band)
        want = set(self.answers["ingreso_mensual"]) if "ingreso_mensual" in self.answers else got
        if got != want:
            raise PolicyCheck(
                "codes_mismatch",
                "ontology.income_class_by_band: codes must be those of answers.ingreso_mensual; "
                f"missing {sorted(want - got)}, unknown {sorted(got - want)}",
                where="ontology.income_class_by_band",
                question="ingreso_mensual",
                missing=sorted(want - got),
                unknown=sorted(got - want),
            )
        return self

    @model_validator(mode="after")
    def _cross_check(self) -> Policy:
        if tuple(self.answers) != QUESTIONS:
            raise PolicyCheck(
                "questions_order",
                f"answers: the questions must be exactly {list(QUESTIONS)} in that order",
                where="answers",
                questions=list(QUESTIONS),
            )
        n_banks = len(self.banks)
        if tuple(self.bank_fit.table) != QUESTIONS:
            raise PolicyCheck(
                "questions_order",
                f"bank_fit.table: the questions must be exactly {list(QUESTIONS)} in that order",
                where="bank_fit.table",
                questions=list(QUESTIONS),
            )
        for q, rows in self.bank_fit.table.items():
            if tuple(rows) != tuple(self.answers[q]):
                raise PolicyCheck(
                    "bank_fit_codes",
                    f"bank_fit.table.{q}: answer codes {list(rows)} differ from answers.{q} {list(self.answers[q])}",
                    question=q,
                    codes=list(rows),
                    expected=list(self.answers[q]),
                )
            for code, cells in rows.items():
                if len(cells) != n_banks:
                    raise PolicyCheck(
                        "bank_fit_cells",
                        f"bank_fit.table.{q}.{code}: {len(cells)} cells for {n_banks} banks",
                        question=q,
                        code=code,
                        cells=len(cells),
                        banks=n_banks,
                    )
                if any(isinstance(c, int) and c < 0 for c in cells):
                    raise PolicyCheck(
                        "bank_fit_negative",
                        f"bank_fit.table.{q}.{code}: points must not be negative",
                        question=q,
                        code=code,
                    )
        for field, question in (
            ("income_by_band", "ingreso_mensual"),
            ("income_band_range", "ingreso_mensual"),
            ("stability_by_tenure", "trabajo_tiempo"),
            ("down_payment_fraction", "enganche"),
            ("existing_payment_share", "creditos_vigentes"),
        ):
            got = set(getattr(self.mappings, field))
            want = set(self.answers[question])
            if got != want:
                raise PolicyCheck(
                    "codes_mismatch",
                    f"mappings.{field}: codes must be those of answers.{question}; "
                    f"missing {sorted(want - got)}, unknown {sorted(got - want)}",
                    where=f"mappings.{field}",
                    question=question,
                    missing=sorted(want - got),
                    unknown=sorted(got - want),
                )
        return self
