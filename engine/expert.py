"""Seed 003's expert system: an experta KnowledgeEngine with the 18 rules R1–R18 (SPEC §4–§5), plus K1, the
seed-002 knock-out (no eligible bank: never approved, SPEC §3).

Facts are the seed's, in the seed's units: money in "millones" (MXN / policy.mappings.money_scale) and
risk as a 0–1 probability (fuzzy risk / policy.expert.risk_divisor). Dividing the inputs, not multiplying
the thresholds, keeps decimal boundaries exact (80 / 100 == 0.8, 50_000 / 10_000 == 5.0).

Decision semantics (docs/expert.md):
- there is no ResultadoFact until a rule decides; every reject rule whose condition holds fires (R1–R7,
  highest salience) and asserts ResultadoFact(aprobado="no") — asserting an identical fact again is a no-op,
  as in CLIPS — so the explanation lists every reason;
- K1 (seed 002, case 1: no bank is eligible) sits between rejection and approval: with the shipped policy it
  asserts ResultadoFact(aprobado="revisar") (an advisor looks at the case), or it rejects when the policy's
  `expert.no_eligible_bank_decision` says "rechazado";
- approve rules R8–R11 require that no rejection and no review exists and likewise all fire when they hold;
- interest rules: R12 sets the base rate once, R13–R16 adjust it at most once each (the seed's flags), R17
  clamps it into [rate_min, rate_max] only when it lies outside (so it fires only when it changes the rate);
- R18 fires when no ResultadoFact exists at the lowest salience: decision "revisar", rate 0.0.
Each rule has its own salience, so rules fire in id order within a group and the fired list is stable.

Speed: building an engine (the Rete network) costs milliseconds; `expert_system(policy)` keeps one per
policy and `decide` reuses it (reset + declare + run) under a lock, since experta's engine holds per-run
state and is not thread-safe. Two experta hooks make the reused engine cheaper: `__strategy__` (the agenda
strategy without its costly per-activation cache) and `__matcher__` (a Rete root that hands each fact to
its own class's branch only). benchmarks/expert.py measures both against experta as shipped.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from experta import AS, MATCH, NOT, TEST, Fact, KnowledgeEngine, P, Rule
from experta.matchers import ReteMatcher
from experta.matchers.rete.check import TypeCheck
from experta.matchers.rete.nodes import BusNode
from experta.matchers.rete.token import Token
from experta.strategies import DepthStrategy

from engine.policy import Policy
from engine.types import ExpertFacts, ExpertResult

__all__ = [
    "RULE_IDS",
    "CreditExpertSystem",
    "CreditoFact",
    "Decisions",
    "HistorialFact",
    "IngresoFact",
    "PerfilamientoFact",
    "PersonaFact",
    "ResultadoFact",
    "SeedUnits",
    "decide_many",
    "decide_reference",
    "expert_system",
    "rules_markdown",
    "rules_table",
    "seed_units",
]

# Salience (SPEC §5): reject > knock-out > approve > interest > review; one value per rule so that the firing
# order inside each group is the rule order (experta breaks salience ties by fact recency, harder to read).
SALIENCE = {
    **{f"R{i}": 200 - i for i in range(1, 8)},  # R1..R7: 199..193
    "P1": 192,  # PD at or above [pd].review_pd_below: one more rejection
    "K1": 150,  # seed 002's knock-out: after every rejection, before any approval
    "P2": 149,  # PD at or above [pd].approve_pd_below: no automatic approval
    **{f"R{i}": 100 - i for i in range(8, 12)},  # R8..R11: 92..89
    **{f"R{i}": 50 - i for i in range(12, 18)},  # R12..R17: 38..33 (R12 base first, R17 clamp last)
    "R18": 0,
}
# every rule, in firing order (salience falls along it)
RULE_IDS: tuple[str, ...] = tuple(sorted(SALIENCE, key=lambda r: -SALIENCE[r]))

APROBADO, RECHAZADO, REVISAR = "si", "no", "revisar"
_DECISION = {APROBADO: "aprobado", RECHAZADO: "rechazado", REVISAR: "revisar"}
_SEED_VALUE = {"rechazado": RECHAZADO, "revisar": REVISAR}
# decision codes of the vectorised reference, worst first (so "better" is "greater")
DECISION_CODES: tuple[str, ...] = ("rechazado", "revisar", "aprobado")
RATE_DECIMALS = 2


def round_rate(rate: float) -> float:
    """The one rounding of a rate, shared by experta and the vectorised reference (NumPy's, to 2 decimals)."""
    return float(np.round(rate, RATE_DECIMALS))


# ------------------------------------------------------------------------------------------------ facts
class PersonaFact(Fact):
    """edad (years), anio_nacimiento, riesgo_impago (0–1). The name is no decision input and stays out."""


class IngresoFact(Fact):
    """monto: monthly income, millones."""


class HistorialFact(Fact):
    """puntaje (0–1000), capacidad_endeudamiento (millones), probabilidad (the PD 0–1, or None)."""


class CreditoFact(Fact):
    """solicitado (millones), plazo (months)."""


class PerfilamientoFact(Fact):
    """Seed 002's bank fit as read back from the graph: bancos_elegibles (how many banks accept the answers)."""


class ResultadoFact(Fact):
    """aprobado ("si" | "no" | "revisar"), interes (% a year) and the seed's once-only flags."""


_FLAGS = (
    "base_calculada",
    "descuento_aplicado",
    "recargo_aplicado",
    "beneficio_plazo_corto_aplicado",
    "preferencial_aplicado",  # in the seed's fact, set by none of its 18 rules: kept, always False
    "microcredito_aplicado",
    "clamp_aplicado",
)


def _resultado(aprobado: str, interes: float | None) -> ResultadoFact:
    return ResultadoFact(aprobado=aprobado, interes=interes, **dict.fromkeys(_FLAGS, False))


class SeedUnits(NamedTuple):
    """ExpertFacts in the units of the seed's rules."""

    edad: int
    anio_nacimiento: int
    riesgo: float  # 0–1
    ingreso: float  # millones / month
    puntaje: float
    capacidad: float  # millones
    solicitado: float  # millones
    plazo: int  # months
    bancos_elegibles: int  # -1 where the facts carry no bank fit (K1 cannot fire)
    probabilidad: float | None  # the PD, None where the facts carry none (P1, P2 cannot fire)


def seed_units(facts: ExpertFacts, policy: Policy) -> SeedUnits:
    scale = policy.mappings.money_scale
    return SeedUnits(
        edad=facts.age,
        anio_nacimiento=facts.birth_year,
        riesgo=facts.risk / policy.expert.risk_divisor,
        ingreso=facts.income / scale,
        puntaje=facts.score,
        capacidad=facts.debt_capacity / scale,
        solicitado=facts.requested / scale,
        plazo=facts.term_months,
        bancos_elegibles=-1 if facts.eligible_banks is None else len(facts.eligible_banks),
        probabilidad=facts.pd,
    )


def cutoff_scores(policy: Policy) -> tuple[float, float]:
    """The scores at [pd].approve_pd_below and review_pd_below on the book-anchored scale at the cut-offs'
    reference book rate: P2 (review) at or below the first, P1 (reject) at or below the second."""
    from engine.pd.scaling import raw_score_from_pd

    pd, scaling = policy.pd, policy.score_scaling
    return (
        raw_score_from_pd(pd.approve_pd_below, scaling, pd.cutoff_reference_rate),
        raw_score_from_pd(pd.review_pd_below, scaling, pd.cutoff_reference_rate),
    )


def base_rate(x: Any, riesgo: Any, puntaje: Any) -> Any:
    """R12, "según el riesgo y el puntaje": floats or arrays, one expression for experta and decide_many."""
    return x.base_rate_intercept + x.base_rate_per_risk * riesgo + x.base_rate_per_score * (1.0 - puntaje / 1000.0)


# ------------------------------------------------------------------------------------------------ rules
class _SalienceStrategy(DepthStrategy):
    """experta's DepthStrategy without the `lru_cache` on `get_key`.

    That cache is shared by every engine and keyed by whole activations, whose hashes repeat from one
    run to the next (same rules, same fact ids after `reset`), so each lookup walks long chains of
    expensive `Activation.__eq__` calls: about two thirds of a reused engine's run time. The key itself
    (salience, then fact recency) is cheap to compute, and the ordering is unchanged.
    """

    def get_key(self, activation: Any) -> tuple[int, list[int]]:
        return (activation.rule.salience, sorted((f["__factid__"] for f in activation.facts), reverse=True))


class _TypeIndexedBus(BusNode):
    """The Rete root, handing each fact only to the alpha branch of its class.

    experta's BusNode gives every fact to every branch; each branch starts with a node testing
    `type(fact) == T` (experta sorts the type check first in every pattern), so with six fact classes five
    of six hand-offs copy a token only to fail that test. Branches that do not start with a type check
    (none today) still get every fact, so the network's answers cannot change.
    """

    def index(self) -> None:
        self._by_type: dict[type, list[Any]] = {}
        self._untyped: list[Any] = []
        for child in self.children:
            check = getattr(child.node, "matcher", None)
            if isinstance(check, TypeCheck):
                self._by_type.setdefault(check.fact_type, []).append(child)
            else:
                self._untyped.append(child)

    def _send(self, fact: Fact, token: Token) -> None:
        for child in self._by_type.get(type(fact), ()):
            child.callback(token)
        for child in self._untyped:
            child.callback(token)

    def add(self, fact: Fact) -> None:
        self._send(fact, Token.valid(fact))

    def remove(self, fact: Fact) -> None:
        self._send(fact, Token.invalid(fact))


class _TypeIndexedMatcher(ReteMatcher):
    """experta's Rete matcher with `_TypeIndexedBus` as its root (plugged in through `__matcher__`)."""

    root_node: Any  # experta's BusNode

    def __init__(self, engine: KnowledgeEngine) -> None:
        super().__init__(engine)
        bus = _TypeIndexedBus()
        bus.children = self.root_node.children
        bus.index()
        self.root_node = bus


def _engine_class(policy: Policy) -> type[KnowledgeEngine]:
    """A KnowledgeEngine subclass whose 18 rules are closed over this policy's constants."""
    x = policy.expert
    s = SALIENCE
    score_approve, score_review = cutoff_scores(policy)
    pd_rules = x.pd_cutoffs
    knockout = _SEED_VALUE[x.no_eligible_bank_decision]
    # K1 as a rejection is one more reason among R1–R7; as a review it decides only what they left open
    k1_open = () if knockout == RECHAZADO else (NOT(ResultadoFact(aprobado=RECHAZADO)),)

    class _CreditRules(KnowledgeEngine):
        __matcher__ = _TypeIndexedMatcher
        __strategy__ = _SalienceStrategy
        fired: list[str]  # rule ids in firing order, for the result's explanation
        resultado: ResultadoFact | None  # the current ResultadoFact (modify() replaces it)
        _deffacts_cache: list[Any]

        # -- bookkeeping ------------------------------------------------------------------------------
        def get_deffacts(self) -> list[Any]:
            # experta looks the DefFacts up with inspect.getmembers(self) on every reset(); they never change
            try:
                return self._deffacts_cache
            except AttributeError:
                self._deffacts_cache = super().get_deffacts()
                return self._deffacts_cache

        def _fire(self, rule_id: str) -> None:
            self.fired.append(rule_id)

        def _decide(self, rule_id: str, aprobado: str, interes: float | None) -> None:
            self._fire(rule_id)
            declared = self.declare(_resultado(aprobado, interes))
            if declared is not None:  # None: the identical fact already exists (a later reason)
                self.resultado = declared

        def _adjust(self, rule_id: str, r: ResultadoFact, **changes: Any) -> None:
            self._fire(rule_id)
            self.resultado = self.modify(r, **changes)

        # -- R1–R7: reject ----------------------------------------------------------------------------
        @Rule(PersonaFact(edad=P(lambda v: v < x.min_age)), salience=s["R1"])
        def r1(self) -> None:
            self._decide("R1", RECHAZADO, 0.0)

        @Rule(PersonaFact(edad=P(lambda v: v > x.max_age)), salience=s["R2"])
        def r2(self) -> None:
            self._decide("R2", RECHAZADO, 0.0)

        @Rule(PersonaFact(riesgo_impago=P(lambda v: v > x.reject_risk_above)), salience=s["R3"])
        def r3(self) -> None:
            self._decide("R3", RECHAZADO, 0.0)

        @Rule(IngresoFact(monto=P(lambda v: v < x.reject_income_below)), salience=s["R4"])
        def r4(self) -> None:
            self._decide("R4", RECHAZADO, 0.0)

        @Rule(HistorialFact(puntaje=P(lambda v: v < x.reject_score_below)), salience=s["R5"])
        def r5(self) -> None:
            self._decide("R5", RECHAZADO, 0.0)

        @Rule(
            HistorialFact(capacidad_endeudamiento=MATCH.capacidad),
            CreditoFact(solicitado=MATCH.solicitado),
            TEST(lambda capacidad, solicitado: solicitado > capacidad),
            salience=s["R6"],
        )
        def r6(self) -> None:
            self._decide("R6", RECHAZADO, 0.0)

        @Rule(CreditoFact(plazo=P(lambda v: v > x.reject_term_above)), salience=s["R7"])
        def r7(self) -> None:
            self._decide("R7", RECHAZADO, 0.0)

        # -- P1, P2: the PD cut-offs of [pd] ---------------------------------------------------------
        @Rule(HistorialFact(puntaje=P(lambda v: pd_rules and v <= score_review)), salience=s["P1"])
        def p1(self) -> None:
            self._decide("P1", RECHAZADO, 0.0)

        @Rule(
            HistorialFact(puntaje=P(lambda v: pd_rules and score_review < v <= score_approve)),
            NOT(ResultadoFact(aprobado=RECHAZADO)),
            salience=s["P2"],
        )
        def p2(self) -> None:
            self._decide("P2", REVISAR, 0.0)

        # -- K1: no eligible bank (seed 002, case 1) --------------------------------------------------
        @Rule(PerfilamientoFact(bancos_elegibles=0), *k1_open, salience=s["K1"])
        def k1(self) -> None:
            self._decide("K1", knockout, 0.0)

        # -- R8–R11: approve (only while nothing rejected or sent to review) -------------------------
        @Rule(
            CreditoFact(solicitado=P(lambda v: v <= x.approve_amount_at_most)),
            NOT(ResultadoFact(aprobado=P(lambda v: v != APROBADO))),
            salience=s["R8"],
        )
        def r8(self) -> None:
            self._decide("R8", APROBADO, None)

        @Rule(
            PersonaFact(riesgo_impago=P(lambda v: v <= x.approve_risk_at_most)),
            NOT(ResultadoFact(aprobado=P(lambda v: v != APROBADO))),
            salience=s["R9"],
        )
        def r9(self) -> None:
            self._decide("R9", APROBADO, None)

        @Rule(
            HistorialFact(puntaje=P(lambda v: v >= x.approve_score_at_least)),
            NOT(ResultadoFact(aprobado=P(lambda v: v != APROBADO))),
            salience=s["R10"],
        )
        def r10(self) -> None:
            self._decide("R10", APROBADO, None)

        @Rule(
            IngresoFact(monto=P(lambda v: v > x.approve_income_above)),
            NOT(ResultadoFact(aprobado=P(lambda v: v != APROBADO))),
            salience=s["R11"],
        )
        def r11(self) -> None:
            self._decide("R11", APROBADO, None)

        # -- R12–R17: interest ------------------------------------------------------------------------
        @Rule(
            AS.r << ResultadoFact(aprobado=APROBADO, base_calculada=False),
            PersonaFact(riesgo_impago=MATCH.riesgo),
            HistorialFact(puntaje=MATCH.puntaje),
            salience=s["R12"],
        )
        def r12(self, r: ResultadoFact, riesgo: float, puntaje: float) -> None:
            self._adjust("R12", r, interes=base_rate(x, riesgo, puntaje), base_calculada=True)

        @Rule(
            AS.r << ResultadoFact(aprobado=APROBADO, base_calculada=True, descuento_aplicado=False),
            PersonaFact(riesgo_impago=P(lambda v: v < x.discount_risk_below)),
            HistorialFact(puntaje=P(lambda v: v >= x.discount_score_at_least)),
            salience=s["R13"],
        )
        def r13(self, r: ResultadoFact) -> None:
            self._adjust("R13", r, interes=r["interes"] - x.discount_points, descuento_aplicado=True)

        @Rule(
            AS.r << ResultadoFact(aprobado=APROBADO, base_calculada=True, recargo_aplicado=False),
            CreditoFact(solicitado=P(lambda v: v > x.surcharge_amount_above)),
            PersonaFact(riesgo_impago=P(lambda v: v > x.surcharge_risk_above)),
            salience=s["R14"],
        )
        def r14(self, r: ResultadoFact) -> None:
            self._adjust("R14", r, interes=r["interes"] + x.surcharge_points, recargo_aplicado=True)

        @Rule(
            AS.r << ResultadoFact(aprobado=APROBADO, base_calculada=True, beneficio_plazo_corto_aplicado=False),
            CreditoFact(plazo=P(lambda v: v <= x.short_term_at_most)),
            salience=s["R15"],
        )
        def r15(self, r: ResultadoFact) -> None:
            self._adjust("R15", r, interes=r["interes"] - x.short_term_points, beneficio_plazo_corto_aplicado=True)

        @Rule(
            AS.r << ResultadoFact(aprobado=APROBADO, base_calculada=True, microcredito_aplicado=False),
            CreditoFact(solicitado=P(lambda v: v <= x.microcredit_amount_at_most)),
            salience=s["R16"],
        )
        def r16(self, r: ResultadoFact) -> None:
            self._adjust("R16", r, interes=r["interes"] - x.microcredit_points, microcredito_aplicado=True)

        @Rule(
            AS.r
            << ResultadoFact(
                aprobado=APROBADO,
                base_calculada=True,
                clamp_aplicado=False,
                interes=P(lambda v: v < x.rate_min or v > x.rate_max),
            ),
            salience=s["R17"],
        )
        def r17(self, r: ResultadoFact) -> None:
            clamped = min(max(r["interes"], x.rate_min), x.rate_max)
            self._adjust("R17", r, interes=clamped, clamp_aplicado=True)

        # -- R18: nothing decided ---------------------------------------------------------------------
        @Rule(NOT(ResultadoFact()), salience=s["R18"])
        def r18(self) -> None:
            self._decide("R18", REVISAR, 0.0)

    return _CreditRules


class CreditExpertSystem:
    """One reusable experta engine for one policy. `decide` is serialised by a lock."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.engine = _engine_class(policy)()
        self._lock = threading.Lock()

    def decide(self, facts: ExpertFacts) -> ExpertResult:
        u = seed_units(facts, self.policy)
        with self._lock:
            engine = self.engine
            engine.reset()
            engine.fired = []
            engine.resultado = None
            declared: list[Fact] = [
                PersonaFact(edad=u.edad, anio_nacimiento=u.anio_nacimiento, riesgo_impago=u.riesgo),
                IngresoFact(monto=u.ingreso),
                HistorialFact(puntaje=u.puntaje, capacidad_endeudamiento=u.capacidad, probabilidad=u.probabilidad),
                CreditoFact(solicitado=u.solicitado, plazo=u.plazo),
            ]
            if u.bancos_elegibles >= 0:
                declared.append(PerfilamientoFact(bancos_elegibles=u.bancos_elegibles))
            engine.declare(*declared)
            # Each rule fires at most once per decision; one firing more means a rule re-activated itself
            # (a missing once-only flag), which would otherwise loop for ever.
            engine.run(steps=len(RULE_IDS) + 1)
            resultado, fired = engine.resultado, engine.fired
        if len(fired) > len(RULE_IDS):
            raise RuntimeError(f"expert system did not settle: {fired}")
        if resultado is None or (resultado["aprobado"] == APROBADO and resultado["interes"] is None):
            # cannot happen: R18 decides when nothing else did, and R12 prices every approval
            raise RuntimeError(f"expert system ended without a priced decision: {resultado!r}")
        decision = _DECISION[resultado["aprobado"]]
        # rounded once, at the end: the rules add and subtract on the unrounded base rate
        rate = round_rate(resultado["interes"]) if decision == "aprobado" else 0.0
        return ExpertResult(decision=decision, rate=rate, fired_rules=fired)


_SYSTEMS: dict[tuple[str, str], CreditExpertSystem] = {}
_SYSTEMS_LOCK = threading.Lock()


def expert_system(policy: Policy) -> CreditExpertSystem:
    """The expert system of a policy, built once per policy content hash.

    The key also holds the numbers the rules read (`[expert]` and the money scale), so a policy built or
    copied in memory, whose content hash may be empty or stale, never gets another policy's engine.
    """
    cutoffs = (cutoff_scores(policy), policy.score_scaling.model_dump_json())
    key = (policy.content_hash, f"{policy.expert.model_dump_json()}|{policy.mappings.money_scale!r}|{cutoffs!r}")
    with _SYSTEMS_LOCK:
        system = _SYSTEMS.get(key)
        if system is None:
            system = _SYSTEMS[key] = CreditExpertSystem(policy)
        return system


# ----------------------------------------------------------------------------------- plain reference
@dataclass(frozen=True, slots=True)
class Decisions:
    """The rules' outcome for n applicants (the vectorised reference)."""

    decision: np.ndarray  # int8, index into DECISION_CODES (0 rechazado, 1 revisar, 2 aprobado)
    rate: np.ndarray  # float64, rounded as experta rounds; 0.0 unless approved
    fired: np.ndarray  # bool (n, len(RULE_IDS)); columns in RULE_IDS order, which is the firing order

    def result(self, i: int) -> ExpertResult:
        fired = [rule for rule, hit in zip(RULE_IDS, self.fired[i].tolist(), strict=True) if hit]
        return ExpertResult(decision=DECISION_CODES[int(self.decision[i])], rate=float(self.rate[i]), fired_rules=fired)


def decide_many(
    *,
    age: np.ndarray,
    risk: np.ndarray,
    income: np.ndarray,
    score: np.ndarray,
    debt_capacity: np.ndarray,
    requested: np.ndarray,
    term_months: np.ndarray,
    eligible_banks: np.ndarray,
    policy: Policy,
    pd: np.ndarray | None = None,
) -> Decisions:
    """The rules as NumPy over n applicants (ExpertFacts' units: MXN, risk 0–100; eligible_banks −1 = unknown;
    `pd` is accepted for symmetry with the facts and not read: P1/P2 read the score).

    The one plain copy of the rules: `decide_reference` is this on one row, the property tests hold experta
    to it, and the policy simulation (engine/policy_lab) runs it over the whole answer space. Every
    comparison and every arithmetic step is the experta rule's, in the same order, so the float results are
    identical (a rate adjustment is `np.where(holds, rate − points, rate)`, never `rate − points·holds`).
    """
    x = policy.expert
    scale = policy.mappings.money_scale
    edad = np.asarray(age)
    riesgo = np.asarray(risk, dtype=float) / x.risk_divisor
    ingreso = np.asarray(income, dtype=float) / scale
    puntaje = np.asarray(score, dtype=float)
    capacidad = np.asarray(debt_capacity, dtype=float) / scale
    solicitado = np.asarray(requested, dtype=float) / scale
    plazo = np.asarray(term_months)
    bancos = np.asarray(eligible_banks)
    n = riesgo.shape[0]
    score_approve, score_review = cutoff_scores(policy)
    cut = bool(x.pd_cutoffs)
    col = {rule: i for i, rule in enumerate(RULE_IDS)}
    fired = np.zeros((n, len(RULE_IDS)), dtype=bool)

    for rule, holds in (
        ("R1", edad < x.min_age),
        ("R2", edad > x.max_age),
        ("R3", riesgo > x.reject_risk_above),
        ("R4", ingreso < x.reject_income_below),
        ("R5", puntaje < x.reject_score_below),
        ("R6", solicitado > capacidad),
        ("R7", plazo > x.reject_term_above),
        ("P1", cut & (puntaje <= score_review)),
    ):
        fired[:, col[rule]] = holds
    rejected = fired[:, [col[r] for r in ("R1", "R2", "R3", "R4", "R5", "R6", "R7", "P1")]].any(axis=1)
    knocked_out = bancos == 0
    if x.no_eligible_bank_decision == "rechazado":
        fired[:, col["K1"]] = knocked_out
        rejected = rejected | knocked_out
        review = np.zeros(n, dtype=bool)
    else:
        review = knocked_out & ~rejected
        fired[:, col["K1"]] = review
    fired[:, col["P2"]] = cut & (puntaje > score_review) & (puntaje <= score_approve) & ~rejected
    review = review | fired[:, col["P2"]]
    open_ = ~rejected & ~review
    for rule, holds in (
        ("R8", solicitado <= x.approve_amount_at_most),
        ("R9", riesgo <= x.approve_risk_at_most),
        ("R10", puntaje >= x.approve_score_at_least),
        ("R11", ingreso > x.approve_income_above),
    ):
        fired[:, col[rule]] = holds & open_
    approved = fired[:, [col[f"R{i}"] for i in range(8, 12)]].any(axis=1)

    rate = base_rate(x, riesgo, puntaje)
    fired[:, col["R12"]] = approved
    for rule, holds, points in (
        ("R13", (riesgo < x.discount_risk_below) & (puntaje >= x.discount_score_at_least), -x.discount_points),
        ("R14", (solicitado > x.surcharge_amount_above) & (riesgo > x.surcharge_risk_above), x.surcharge_points),
        ("R15", plazo <= x.short_term_at_most, -x.short_term_points),
        ("R16", solicitado <= x.microcredit_amount_at_most, -x.microcredit_points),
    ):
        hit = holds & approved
        fired[:, col[rule]] = hit
        rate = np.where(hit, rate + points, rate)
    outside = approved & ((rate < x.rate_min) | (rate > x.rate_max))
    fired[:, col["R17"]] = outside
    rate = np.where(outside, np.minimum(np.maximum(rate, x.rate_min), x.rate_max), rate)
    fired[:, col["R18"]] = open_ & ~approved

    decision = np.where(rejected, 0, np.where(approved, 2, 1)).astype(np.int8)
    rate = np.where(approved, np.round(rate, RATE_DECIMALS), 0.0)
    return Decisions(decision=decision, rate=rate, fired=fired)


def decide_reference(facts: ExpertFacts, policy: Policy) -> ExpertResult:
    """The same rules without experta, on one applicant (`decide_many` on one row)."""
    u = seed_units(facts, policy)
    return decide_many(
        age=np.array([facts.age]),
        risk=np.array([facts.risk]),
        income=np.array([facts.income]),
        score=np.array([facts.score]),
        debt_capacity=np.array([facts.debt_capacity]),
        requested=np.array([facts.requested]),
        term_months=np.array([facts.term_months]),
        eligible_banks=np.array([u.bancos_elegibles]),
        policy=policy,
    ).result(0)


# ------------------------------------------------------------------------------------------ rules table
def _mxn(millones: float, scale: float) -> str:
    return f"{millones * scale:,.0f} MXN"


def _risk(r: float, divisor: float) -> str:
    return f"{r:g} (fuzzy {r * divisor:g})"


def rules_table(policy: Policy) -> list[tuple[str, str, int, str, str]]:
    """(id, group, salience, condition, action) of the rules with this policy's numbers, for the docs.

    Money shows both in seed millones and in MXN (× mappings.money_scale); risk both on the rules' 0–1
    scale and on the fuzzy 0–100 scale.
    """
    x, k, d = policy.expert, policy.mappings.money_scale, policy.expert.risk_divisor
    reject, approve, rate, review = "rechazo", "aprobación", "interés", "revisión"
    rows = [
        ("R1", reject, f"edad < {x.min_age} años", "rechazado, 0 %"),
        ("R2", reject, f"edad > {x.max_age} años", "rechazado, 0 %"),
        ("R3", reject, f"riesgo > {_risk(x.reject_risk_above, d)}", "rechazado, 0 %"),
        (
            "R4",
            reject,
            f"ingreso < {x.reject_income_below:g} millones = {_mxn(x.reject_income_below, k)}/mes",
            "rechazado, 0 %",
        ),
        ("R5", reject, f"puntaje < {x.reject_score_below:g}", "rechazado, 0 %"),
        ("R6", reject, "monto solicitado > capacidad de endeudamiento", "rechazado, 0 %"),
        ("R7", reject, f"plazo > {x.reject_term_above} meses", "rechazado, 0 %"),
        (
            "P1",
            reject,
            f"puntaje ≤ {cutoff_scores(policy)[1]:.1f}, i.e. PD ≥ {policy.pd.review_pd_below:g} en una cartera con "
            f"{policy.pd.cutoff_reference_rate:.0%} de incumplimiento ([pd].review_pd_below)"
            + ("" if x.pd_cutoffs else " — inactiva"),
            "rechazado, 0 %",
        ),
        (
            "K1",
            "eliminatorio",
            "ningún banco es elegible (seed 002, caso 1)",
            "rechazado, 0 %"
            if x.no_eligible_bank_decision == "rechazado"
            else "revisar, 0 % (un asesor busca alternativas), si ninguna regla rechazó",
        ),
        (
            "P2",
            "revisión",
            f"puntaje ≤ {cutoff_scores(policy)[0]:.1f}, i.e. PD ≥ {policy.pd.approve_pd_below:g} en esa cartera "
            "([pd].approve_pd_below)" + ("" if x.pd_cutoffs else " — inactiva"),
            "revisar, 0 %, si ninguna regla rechazó",
        ),
        (
            "R8",
            approve,
            f"monto ≤ {x.approve_amount_at_most:g} millones = {_mxn(x.approve_amount_at_most, k)}",
            "aprobado",
        ),
        ("R9", approve, f"riesgo ≤ {_risk(x.approve_risk_at_most, d)}", "aprobado"),
        ("R10", approve, f"puntaje ≥ {x.approve_score_at_least:g}", "aprobado"),
        (
            "R11",
            approve,
            f"ingreso > {x.approve_income_above:g} millones = {_mxn(x.approve_income_above, k)}/mes",
            "aprobado",
        ),
        (
            "R12",
            rate,
            "aprobado y sin tasa base",
            f"tasa = {x.base_rate_intercept:g} + {x.base_rate_per_risk:g} × riesgo (0–1) "
            f"+ {x.base_rate_per_score:g} × (1 − puntaje/1000) % anual",
        ),
        (
            "R13",
            rate,
            f"riesgo < {_risk(x.discount_risk_below, d)} y puntaje ≥ {x.discount_score_at_least:g}",
            f"− {x.discount_points:g} puntos (descuento_aplicado)",
        ),
        (
            "R14",
            rate,
            f"monto > {x.surcharge_amount_above:g} millones = {_mxn(x.surcharge_amount_above, k)} "
            f"y riesgo > {_risk(x.surcharge_risk_above, d)}",
            f"+ {x.surcharge_points:g} puntos (recargo_aplicado)",
        ),
        (
            "R15",
            rate,
            f"plazo ≤ {x.short_term_at_most} meses",
            f"− {x.short_term_points:g} punto(s) (beneficio_plazo_corto_aplicado)",
        ),
        (
            "R16",
            rate,
            f"monto ≤ {x.microcredit_amount_at_most:g} millones = {_mxn(x.microcredit_amount_at_most, k)}",
            f"− {x.microcredit_points:g} puntos (microcredito_aplicado)",
        ),
        (
            "R17",
            rate,
            f"tasa fuera de [{x.rate_min:g} %, {x.rate_max:g} %]",
            "tasa llevada al límite más cercano (clamp_aplicado)",
        ),
        ("R18", review, "ninguna regla de rechazo ni de aprobación se cumplió", "revisar, 0 %"),
    ]
    return [(rid, group, SALIENCE[rid], cond, action) for rid, group, cond, action in rows]


def rules_markdown(policy: Policy) -> str:
    """The rules table as Markdown (docs/expert.md embeds the default policy's; a test keeps it current)."""
    lines = ["| regla | grupo | saliencia | condición | acción |", "|---|---|---|---|---|"]
    lines += [f"| {rid} | {g} | {sal} | {cond} | {act} |" for rid, g, sal, cond, act in rules_table(policy)]
    return "\n".join(lines)
