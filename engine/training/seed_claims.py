"""Every claim of seed 001 beside the figure this run computes, whether they match, and why not (issue #16 item 4).

The seed's figures are data (`[seed_reference]` of the data set definition, transcribed from the seed's text);
ours are computed from the `StudyResult`; the verdict and the reason are generated from both. Nothing in the
table is typed in by hand, so a change in the data, the seed or the method changes the table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engine.training.logit import INTERCEPT
from engine.training.metrics import auc_standard_error
from engine.training.study import CLASS_THRESHOLD, StrategyResult, StudyResult

MATCH = "coincide"
GAP = "no coincide"
NOT_COMPUTABLE = "no calculable"


@dataclass(frozen=True)
class Claim:
    claim: str
    seed: Any
    ours: Any
    verdict: str
    reason: str


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def _flagged(r: StrategyResult) -> float:
    m = r.metrics
    return (m.tp + m.fp) / (m.tp + m.fp + m.tn + m.fn)


def _odds_change(r: StrategyResult, var: str, units: float = 1.0) -> float | None:
    coef = r.stepwise.fit.coef.get(var)
    return None if coef is None else math.exp(coef * units) - 1.0


def _seed_method(by: dict[str, StrategyResult]) -> StrategyResult | None:
    """The strategy that reproduces the seed's SMOTE: DMwR's own method when it ran, else imbalanced-learn's."""
    return by.get("smote_dmwr") or by.get("smote")


def claims(study: StudyResult) -> list[Claim]:
    ref = study.dataset.definition.seed_reference
    if not ref:
        return []
    by = {r.strategy: r for r in study.strategies}
    smote = _seed_method(by)
    none = by.get("none")
    out: list[Claim] = []
    sp = study.split

    if "train_rows" in ref:
        seed_n, ours_n = int(ref["train_rows"]), len(sp.y_train)
        out.append(
            Claim(
                "entrenamiento: 60 % de la base",
                f"{seed_n:,} filas",
                f"{ours_n:,} filas",
                MATCH if abs(ours_n - seed_n) <= 0.01 * seed_n else GAP,
                f"la semilla no dice cómo tomó su 60 %: 60 % de {len(study.dataset.y):,} son "
                f"{0.6 * len(study.dataset.y):,.0f}; las filas no coinciden una a una, las proporciones sí",
            )
        )
    if "chosen_strategy" in ref:
        chosen = study.chosen.strategy
        same = chosen == ref["chosen_strategy"] or (ref["chosen_strategy"] == "smote" and chosen.startswith("smote"))
        best_valid = max(study.strategies, key=lambda r: r.f1_best_valid)
        best_train_t = max(study.strategies, key=lambda r: r.metrics_threshold_train.f1)
        out.append(
            Claim(
                "el mejor modelo por F1 es el de SMOTE",
                ref["chosen_strategy"],
                chosen,
                MATCH if same else GAP,
                f"con el umbral {CLASS_THRESHOLD:g} elige `{chosen}` (F1 {study.chosen.metrics.f1:.3f}); pero F1 en "
                f"{CLASS_THRESHOLD:g} elige un umbral, no un modelo: con el umbral de mejor F1 del entrenamiento gana "
                f"`{best_train_t.strategy}` "
                f"(F1 {best_train_t.metrics_threshold_train.f1:.3f}) y con el mejor umbral de la propia validación "
                f"`{best_valid.strategy}` (F1 {best_valid.f1_best_valid:.3f})",
            )
        )
    if "roc_auc" in ref and smote is not None:
        m = smote.metrics
        se = auc_standard_error(m.roc_auc, m.tp + m.fn, m.tn + m.fp)
        gap = m.roc_auc - float(ref["roc_auc"])
        others = ", ".join(f"`{r.strategy}` {r.metrics.roc_auc:.4f}" for r in study.strategies if r is not smote)
        out.append(
            Claim(
                "AUC del modelo SMOTE",
                f"{float(ref['roc_auc']):.4f}",
                f"{m.roc_auc:.4f} (`{smote.strategy}`, EE {se:.4f})",
                MATCH if abs(gap) <= 2 * se else GAP,
                f"diferencia {gap:+.4f} = {gap / se:+.1f} errores estándar de Hanley–McNeil; la semilla mide en la "
                f"prueba de Kaggle, aquí en la validación. Un AUC parecido no prueba el mismo método: los demás "
                f"balanceos dan {others}",
            )
        )
    for strategies_key, claim, first, second in (
        ("recall_above_precision", "exhaustividad > precisión", "recall", "precision"),
        ("precision_above_recall", "precisión > exhaustividad", "precision", "recall"),
    ):
        names = ref.get(strategies_key) or []
        present = [by[s] for s in names if s in by]
        if "smote" in names and "smote_dmwr" in by:
            present.append(by["smote_dmwr"])
        if not present:
            continue
        holds = [getattr(r.metrics, first) > getattr(r.metrics, second) for r in present]
        detail = "; ".join(
            f"`{r.strategy}` precisión {r.metrics.precision:.3f}, exhaustividad {r.metrics.recall:.3f}" for r in present
        )
        out.append(
            Claim(
                f"{', '.join(names)}: {claim} (umbral {CLASS_THRESHOLD:g})",
                "sí",
                "sí" if all(holds) else ("en parte" if any(holds) else "no"),
                MATCH if all(holds) else GAP,
                detail
                + (
                    ""
                    if all(holds)
                    else f". Precisión y exhaustividad en {CLASS_THRESHOLD:g} dependen de cuánto infla la PD cada "
                    "balanceo (SMOTE 2:3 la infla menos que 50/50), no sólo del método"
                ),
            )
        )
    for key, strategy_result, label in (
        ("flagged_share_balanced", smote, "el modelo balanceado (SMOTE) marca como incumplidos"),
        ("flagged_share_basic", none, "el modelo sin balanceo marca como incumplidos"),
    ):
        if key in ref and strategy_result is not None:
            seed_v, ours_v = float(ref[key]), _flagged(strategy_result)
            out.append(
                Claim(
                    label,
                    _pct(seed_v),
                    f"{_pct(ours_v)} (`{strategy_result.strategy}`)",
                    MATCH if abs(ours_v - seed_v) <= 0.03 else GAP,
                    f"la semilla cuenta sobre los {int(ref.get('kaggle_test_rows', 0)):,} clientes de prueba de Kaggle "
                    f"(sin etiqueta, no disponibles); aquí, sobre los {len(sp.y_valid):,} de validación, con "
                    f"{_pct(float(sp.y_valid.mean()))} de incumplimiento observado: la parte marcada depende de la PD "
                    f"inflada por el balanceo y del umbral {CLASS_THRESHOLD:g}",
                )
            )
    if "confianza_odds_change_per_point" in ref and none is not None:
        seed_v = float(ref["confianza_odds_change_per_point"])
        conf = _odds_change(none, "Confianza")
        out.append(
            _numeric_claim(
                f"Confianza: la de mayor efecto, {_fmt(seed_v, True)} de odds por punto (modelo sin balanceo)",
                seed_v,
                conf,
                0.03,
                "none",
            )
        )
    if "valor_prestamo_odds_change" in ref and none is not None:
        seed_v = float(ref["valor_prestamo_odds_change"])
        loan = _odds_change(none, "Valor_prestamo")
        out.append(
            _numeric_claim(
                f"Valor_prestamo: el menor efecto, {_fmt(seed_v, True)} (modelo sin balanceo)",
                seed_v,
                None if loan is None else abs(loan),
                0.002,
                "none",
                extra=f"el signo del nuestro es {'+' if (loan or 0) >= 0 else '−'}; "
                "la semilla lo describe como lo que el cliente adeuda en el sector financiero (deuda en otras "
                "entidades)",
            )
        )
    coef_ref = ref.get("coefficients") or {}
    if "autocontrol_up_to" in ref and smote is not None and "Autocontrol" in study.dataset.X.columns:
        col = sp.X_train["Autocontrol"]
        span = float(col.max() - col.min())
        auto = _odds_change(smote, "Autocontrol", span)
        seed_coef = coef_ref.get("Autocontrol")
        implied = None if seed_coef is None else math.exp(float(seed_coef) * span) - 1.0
        out.append(
            _numeric_claim(
                f"Autocontrol «puede aumentar hasta un {100 * float(ref['autocontrol_up_to']):.0f} %» la probabilidad "
                "(SMOTE)",
                float(ref["autocontrol_up_to"]),
                auto,
                0.10,
                smote.strategy,
                extra=(
                    f"leído como el cambio de los odds del mínimo al máximo de Autocontrol ({span:g} puntos); "
                    + (
                        f"el coeficiente impreso por la semilla ({seed_coef:g}) da exp({seed_coef:g} × {span:g}) − 1 = "
                        f"{_pct(implied)}: la frase es coherente con su propio modelo. Son odds, no probabilidad"
                        if implied is not None
                        else "la semilla no imprime su coeficiente"
                    )
                ),
            )
        )
    if "autocontrol_only_in" in ref:
        keeps = [r.strategy for r in study.strategies if "Autocontrol" in r.stepwise.fit.coef]
        seed_only = list(ref["autocontrol_only_in"])
        ours_set = {"smote" if k.startswith("smote") else k for k in keeps}
        out.append(
            Claim(
                "Autocontrol entra sólo en el modelo SMOTE",
                ", ".join(seed_only),
                ", ".join(keeps) or "ninguno",
                MATCH if ours_set == set(seed_only) else GAP,
                "con decenas de miles de filas el AIC del stepwise retiene efectos mínimos; sobre filas sintéticas "
                "(no independientes) los p-valores son optimistas",
            )
        )
    if INTERCEPT in coef_ref and smote is not None:
        ours_b = smote.stepwise.fit.coef.get(INTERCEPT)
        out.append(
            _numeric_claim(
                "intercepto del modelo final",
                float(coef_ref[INTERCEPT]),
                ours_b,
                0.15,
                smote.strategy,
                relative=False,
                extra="el intercepto depende de la mezcla de clases tras el balanceo y del punto de referencia de "
                "cada variable; la fórmula de la semilla está redondeada y su tabla de stepwise sólo existe como "
                "imagen",
            )
        )
    if "final_model_variables" in ref and smote is not None:
        n_vars = len([k for k in smote.stepwise.fit.coef if k != INTERCEPT])
        n_all = study.dataset.X.shape[1]
        seed_n = int(ref["final_model_variables"])
        out.append(
            Claim(
                f"el modelo final usa {seed_n} de las {int(ref.get('base_variables', n_all))} variables",
                str(seed_n),
                f"{n_vars} de {n_all} (`{smote.strategy}`)",
                MATCH if n_vars == seed_n else GAP,
                "excluidas por nuestro stepwise: "
                + (", ".join(smote.stepwise.dropped) or "ninguna")
                + f"; partimos de {n_all} tras quitar {', '.join(study.dataset.definition.drop) or '—'}",
            )
        )
    for var, seed_coef in coef_ref.items():
        if var == INTERCEPT or smote is None:
            continue
        ours_c = smote.stepwise.fit.coef.get(var)
        if ours_c is None:
            out.append(Claim(f"coeficiente de {var}", f"{seed_coef:g}", "excluida", GAP, "nuestro stepwise la quita"))
            continue
        same_sign = np.sign(ours_c) == np.sign(seed_coef)
        out.append(
            Claim(
                f"coeficiente de {var}",
                f"{seed_coef:g}",
                f"{ours_c:.6g}",
                MATCH if same_sign and abs(ours_c - seed_coef) <= 0.25 * abs(seed_coef) else GAP,
                ("mismo signo" if same_sign else f"signo opuesto (p = {smote.stepwise.fit.p_value[var]:.3g})")
                + f"; razón {ours_c / seed_coef:.2f} frente a la cifra impresa y redondeada de la semilla",
            )
        )
    return out


def _numeric_claim(
    claim: str,
    seed: float,
    ours: float | None,
    tolerance: float,
    strategy: str,
    *,
    relative: bool = True,
    extra: str = "",
) -> Claim:
    if ours is None:
        return Claim(claim, _fmt(seed, relative), "variable excluida", NOT_COMPUTABLE, f"`{strategy}` no la conserva")
    ok = abs(ours - seed) <= tolerance
    reason = f"`{strategy}`: diferencia {ours - seed:+.4g} (tolerancia ± {tolerance:g})"
    return Claim(
        claim,
        _fmt(seed, relative),
        _fmt(ours, relative),
        MATCH if ok else GAP,
        f"{reason}; {extra}" if extra else reason,
    )


def _fmt(v: float, as_pct: bool) -> str:
    return f"{100 * v:+.2f} %" if as_pct else f"{v:.4g}"


def claim_table(study: StudyResult) -> pd.DataFrame | None:
    rows = claims(study)
    if not rows:
        return None
    return pd.DataFrame(
        [
            {
                "afirmación de la semilla": c.claim,
                "semilla 001": c.seed,
                "esta corrida": c.ours,
                "¿coincide?": c.verdict,
                "razón": c.reason,
            }
            for c in rows
        ]
    )
