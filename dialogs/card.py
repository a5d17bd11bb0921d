"""The result card: the assessment in a few lines of Spanish, with the reasons that weighed most and a what-if.

`evaluate()` runs the assessment and, for the what-if, the verdict of every single change (a larger down
payment, another offered term), proposing the smallest that improves the decision or the rate; it is
synchronous and CPU-bound, so the conversation service calls it in a worker thread. `render_card()` is pure
formatting.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from dialogs import texts
from engine.policy import REJECT, Policy
from engine.types import AssessmentRequest, AssessmentResult, BankFitResult, CriterionScore, ExpertResult


class Engine(Protocol):
    """What the dialogs ask of the engine: `engine.assess.Assessor`, or `core.model_reload.ServedAssessor` for
    the model in service."""

    def assess(self, data: Any, as_of: date | None = None) -> AssessmentResult: ...

    def verdicts(self, requests: Sequence[Any], as_of: date | None = None) -> list[ExpertResult]: ...


# Changes the what-if may weigh on one card: enough for every larger down payment and every other offered term,
# so "no single change would" is a statement about all of them.
MAX_WHAT_IF_CHANGES = 10

# decisions from worst to best: the what-if proposes only a move up, or the same approval at a lower rate
DECISION_RANK = {"rechazado": 0, "revisar": 1, "aprobado": 2}

DECISION_LABELS = {
    "aprobado": "Aprobado (preliminar)",
    "rechazado": "No aprobado por ahora",
    "revisar": "En revisión por un asesor",
}

# Readable names of the PD features (engine/pd mapping); unknown ones fall back to the raw name.
FEATURE_LABELS = {
    "trabajo_tiempo": "tu antigüedad en el empleo",
    "employment_since": "tu antigüedad en el empleo",
    "historial_crediticio": "tu historial crediticio",
    "credit_history": "tu historial crediticio",
    "creditos_vigentes": "tus créditos vigentes",
    "existing_credits": "tus créditos vigentes",
    "atrasos_12_meses": "tus atrasos recientes",
    "delays": "tus atrasos recientes",
    "amount": "el monto a financiar",
    "credit_amount": "el monto a financiar",
    "duration": "el plazo",
    "duration_months": "el plazo",
    "age": "tu edad",
    "installment_rate": "la proporción del pago frente a tu ingreso",
    "installment_rate_pct": "la proporción del pago frente a tu ingreso",
    "enganche": "tu enganche",
    "ingreso_mensual": "tu ingreso",
}


@dataclass(frozen=True, slots=True)
class WhatIf:
    change: str | None  # "un enganche «…»" / "un plazo de 36 meses"; None: no single change tried improves
    result: AssessmentResult | None
    improves: bool  # a better decision, or the same approval at a lower rate


@dataclass(frozen=True, slots=True)
class Evaluation:
    request: AssessmentRequest
    result: AssessmentResult
    what_if: WhatIf | None


def _variants(request: AssessmentRequest, policy: Policy) -> list[tuple[str, AssessmentRequest]]:
    out: list[tuple[str, AssessmentRequest]] = []
    codes = list(policy.answers["enganche"])
    current = request.answers.enganche
    for code in codes[codes.index(current) + 1 :] if current in codes else []:
        answers = request.answers.model_copy(update={"enganche": code})
        out.append(
            (f"un enganche «{policy.answers['enganche'][code]}»", request.model_copy(update={"answers": answers}))
        )
    # every other term the dialog offers, the nearest first (a shorter term lowers the PD, a longer one the
    # payment: either may help, and the assessment says which)
    term_now = request.loan.term_months
    for term in sorted((t for t in policy.offered_terms if t != term_now), key=lambda t: (abs(t - term_now), t)):
        loan = request.loan.model_copy(update={"term_months": term})
        out.append((f"un plazo de {term} meses", request.model_copy(update={"loan": loan})))
    return out


def improves(base: ExpertResult, other: ExpertResult) -> bool:
    """A better decision, or the same approval at a lower rate (a new bank alone is no improvement)."""
    b, o = DECISION_RANK[base.decision], DECISION_RANK[other.decision]
    if o != b:
        return o > b
    return base.decision == "aprobado" and other.rate < base.rate


def evaluate(engine: Engine, request: AssessmentRequest, policy: Policy) -> Evaluation:
    result = engine.assess(request)
    variants = _variants(request, policy)[:MAX_WHAT_IF_CHANGES]
    # every change's verdict at once (the rules' plain copy, equal to experta's: Assessor.verdicts), about a tenth
    # of an assessment each; only the change proposed, the smallest that improves, is assessed in full
    verdicts = engine.verdicts([variant for _, variant in variants])
    for (change, variant), verdict in zip(variants, verdicts, strict=True):
        if improves(result.expert, verdict):
            return Evaluation(request, result, WhatIf(change, engine.assess(variant), True))
    return Evaluation(request, result, WhatIf(None, None, False) if variants else None)


def max_total(policy: Policy) -> int:
    """The best possible bank-fit total under this policy (36 with the seed table)."""
    return sum(
        max((c for row in rows.values() for c in row if isinstance(c, int)), default=0)  # REJECT cells hold "R"
        for rows in policy.bank_fit.table.values()
    )


def shown_band(fit: BankFitResult) -> str | None:
    """The band every surface shows, or None when no bank is eligible: seed 002's case 1, where the closest
    bank's total counts the cells of the answers it rejects too, so its band («Excelente») would contradict the
    warning beside it. The bank is then named as the closest, not as a fit (card, case card, case page, handoff)."""
    return None if fit.no_eligible_bank else fit.band


def _bank(policy: Policy, code: str | None) -> str:
    return html.escape(policy.banks.get(code, code)) if code else "ninguna"


def _bank_fit_reasons(result: AssessmentResult, policy: Policy) -> list[str]:
    fit = result.bank_fit
    if fit.no_eligible_bank:
        answers = knockout_answers(result, policy)
        return [f"Ningún banco acepta por ahora tu perfil por {_join(answers)}."] if answers else []
    rows = fit.reasons.get(fit.recommended, [])
    scored = [r for r in rows if r.points is not None]
    if not scored:
        return []
    out = []
    best = max(scored, key=lambda r: r.points or 0)
    out.append(
        f"A favor: {texts.FIELD_NAMES[best.question].lower()} "
        f"«{html.escape(policy.answers[best.question][best.answer])}» "
        f"suma {best.points} puntos con {_bank(policy, fit.recommended)}."
    )

    # the criterion furthest below its best cell is what costs the most
    def gap(r: CriterionScore) -> int:
        cells = [c for row in policy.bank_fit.table[r.question].values() for c in row if c != REJECT]
        return int(max(cells, default=0)) - int(r.points or 0)

    worst = max(scored, key=gap)
    if gap(worst) > 0 and worst is not best:
        out.append(
            f"En contra: {texts.FIELD_NAMES[worst.question].lower()} "
            f"«{html.escape(policy.answers[worst.question][worst.answer])}» suma solo {worst.points} puntos."
        )
    return out


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} y {items[-1]}"


def knockout_answers(result: AssessmentResult, policy: Policy) -> list[str]:
    """The eliminatory answers (seed 002) in words: «tu historial crediticio «Malo»», in question order."""
    out = []
    for knockout in result.bank_fit.knockouts:
        question, _, code = knockout.partition("=")
        label = policy.answers.get(question, {}).get(code, code)
        out.append(f"{texts.FIELD_NAMES.get(question, question).lower()} «{html.escape(label)}»")
    return out


def _pd_reason(result: AssessmentResult, policy: Policy) -> str | None:
    feats = sorted(result.pd.top_features, key=lambda f: abs(f.contribution), reverse=True)
    if not feats:
        return None
    f = feats[0]
    label = FEATURE_LABELS.get(f.feature, f.feature.replace("_", " "))
    # the engine names the dialog answers behind a feature as "question=code; …": quote the first one
    first = (f.answer or "").split(";")[0].strip()
    question, _, code = first.partition("=")
    if question in texts.FIELD_NAMES and code in policy.answers.get(question, {}):
        label = f"{texts.FIELD_NAMES[question].lower()} («{policy.answers[question][code]}»)"
    # the engine's contributions are against the training population's mean (engine/pd/model.py): said so, or a
    # «Bueno» history that is a little worse than the typical applicant's would read as raising the risk per se
    direction = "lo sube" if f.contribution > 0 else "lo baja"
    return (
        f"En tu riesgo estimado de incumplimiento, lo que más pesa es {html.escape(label)}: {direction} "
        "frente al solicitante promedio."
    )


def rule_descriptions(policy: Policy) -> dict[str, str]:
    """Seed 003's rules in words, with the policy's thresholds."""
    e = policy.expert
    scale = policy.mappings.money_scale

    def mxn(millones: float) -> str:
        return f"${millones * scale:,.0f}"

    return {
        "R1": f"tienes menos de {e.min_age} años",
        "R2": f"tienes más de {e.max_age} años",
        "R3": "el riesgo estimado de incumplimiento es muy alto",
        "R4": f"el ingreso mensual es menor a {mxn(e.reject_income_below)}",
        "R5": f"el puntaje crediticio es menor a {e.reject_score_below:.0f}",
        "R6": "el monto a financiar supera tu capacidad de pago",
        "R7": f"el plazo supera {e.reject_term_above} meses",
        "P1": f"tu probabilidad estimada de incumplimiento es de {policy.pd.review_pd_below:.0%} o más",
        "P2": f"tu probabilidad estimada de incumplimiento es de {policy.pd.approve_pd_below:.0%} o más; "
        "un asesor revisará tu caso",
        "K1": "ningún banco acepta por ahora tus respuestas"
        + ("; un asesor buscará alternativas contigo" if e.no_eligible_bank_decision == "revisar" else ""),
        "R8": f"el monto a financiar es de hasta {mxn(e.approve_amount_at_most)}",
        "R9": "tu riesgo estimado de incumplimiento es bajo",
        "R10": f"tu puntaje crediticio es de al menos {e.approve_score_at_least:.0f}",
        "R11": f"tu ingreso mensual supera {mxn(e.approve_income_above)}",
        "R13": "tienes riesgo bajo y muy buen puntaje (descuento en la tasa)",
        "R14": "monto alto con riesgo medio o alto (recargo en la tasa)",
        "R15": "plazo corto (descuento en la tasa)",
        "R16": "monto pequeño (descuento en la tasa)",
        "R18": "ninguna regla de aprobación o rechazo aplica a tu caso",
    }


DECISIVE_RULES = {
    "rechazado": ("R1", "R2", "R3", "R4", "R5", "R6", "R7", "P1", "K1"),
    "aprobado": ("R8", "R9", "R10", "R11"),
    "revisar": ("K1", "P2", "R18"),
}


def _expert_reason(result: AssessmentResult, policy: Policy) -> str | None:
    desc = rule_descriptions(policy)
    decision = result.expert.decision
    fired = [r for r in result.expert.fired_rules if r in DECISIVE_RULES.get(decision, ())]
    if not fired:
        return None
    verb = {
        "rechazado": "No se aprueba por ahora porque",
        "aprobado": "Se aprueba porque",
        "revisar": "Queda en revisión porque",
    }
    return f"{verb[decision]} {desc.get(fired[0], fired[0])}."


def reasons(result: AssessmentResult, policy: Policy, limit: int = 3) -> list[str]:
    out = _bank_fit_reasons(result, policy)[:1]
    for extra in (_expert_reason(result, policy), _pd_reason(result, policy)):
        if extra:
            out.append(extra)
    if len(out) < limit:
        out.extend(_bank_fit_reasons(result, policy)[1:])
    return out[:limit]


def what_if_line(evaluation: Evaluation, policy: Policy) -> str | None:
    w = evaluation.what_if
    if w is None:
        return None
    if not w.improves or w.result is None or w.change is None:
        return "💡 Ningún cambio por sí solo (un enganche mayor u otro plazo) mejoraría tu dictamen o tu tasa."
    base, other = evaluation.result, w.result
    if other.expert.decision != base.expert.decision:
        rate = f", con una tasa estimada de {other.expert.rate:.1f} %" if other.expert.decision == "aprobado" else ""
        what = (
            f"el dictamen pasaría de «{DECISION_LABELS[base.expert.decision]}» "
            f"a «{DECISION_LABELS[other.expert.decision]}»{rate}"
        )
    else:
        what = f"tu tasa estimada bajaría de {base.expert.rate:.1f} % a {other.expert.rate:.1f} % anual"
    if other.bank_fit.recommended != base.bank_fit.recommended:
        what += f", y tu banco recomendado sería {_bank(policy, other.bank_fit.recommended)}"
    return f"💡 Con {html.escape(w.change)}, {what}."


def render_card(evaluation: Evaluation, policy: Policy) -> str:
    r = evaluation.result
    fit = r.bank_fit
    lines = ["<b>Tu resultado</b>", ""]
    total = fit.scores.get(fit.recommended, 0)
    band = shown_band(fit)
    if band is None:
        lines.append(f"🏦 Banco más cercano: <b>{_bank(policy, fit.recommended)}</b> (ninguno es elegible por ahora)")
        lines.append(f"📊 Afinidad con ese banco: {total} de {max_total(policy)} puntos")
    else:
        lines.append(f"🏦 Banco recomendado: <b>{_bank(policy, fit.recommended)}</b>")
        lines.append(f"🥈 Segunda opción: {_bank(policy, fit.second)}")
        lines.append(f"📊 Afinidad: {total} de {max_total(policy)} puntos — <b>{html.escape(band)}</b>")
    if fit.low_score:
        if fit.no_eligible_bank:
            lines.append(
                "⚠️ <b>Ningún banco es elegible con tus respuestas actuales.</b> Te mostramos el que tiene menos "
                "motivos de rechazo; te recomendamos hablar con un asesor para buscar alternativas."
            )
        else:
            lines.append("⚠️ <b>Tu puntaje es bajo.</b> Te recomendamos hablar con un asesor para buscar alternativas.")
    decision = DECISION_LABELS[r.expert.decision]
    rate = f" · tasa estimada {r.expert.rate:.1f} % anual" if r.expert.decision == "aprobado" else ""
    lines.append(f"🧮 Dictamen: <b>{decision}</b>{rate}")
    lines.append(
        f"📉 Probabilidad de incumplimiento: {r.pd.probability * 100:.1f} % · puntaje crediticio {r.credit_score} de "
        f"{policy.score_scaling.max_score}"
    )
    why = reasons(r, policy)
    if why:
        lines.append("")
        lines.append("<b>Lo que más pesó</b>")
        lines.extend(f"• {w}" for w in why)
    extra = what_if_line(evaluation, policy)
    if extra:
        lines.append("")
        lines.append(extra)
    lines.append("")
    lines.append(
        "<i>Es una recomendación basada en probabilidades, no una oferta ni un compromiso vinculante de ningún "
        "banco.</i>"
    )
    return "\n".join(lines)
