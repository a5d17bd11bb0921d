"""Rendering of a study: one self-contained HTML file (tables + base64 PNG figures) and a Markdown summary.

Everything here is a pure function of a `StudyResult`; writing the files is the caller's business.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from engine.training import plots
from engine.training.logit import INTERCEPT
from engine.training.metrics import auc_standard_error
from engine.training.seed_claims import claim_table
from engine.training.study import StudyResult

TEMPLATES = Path(__file__).with_name("templates")


def _fmt(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "sí" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
            return f"{v:.4g}"
        return f"{v:,.4f}"
    return str(value)


def to_html(df: pd.DataFrame) -> str:
    return df.to_html(
        index=False, classes="t", border=0, escape=True, na_rep="—", formatters={c: _fmt for c in df.columns}
    )


def to_markdown(df: pd.DataFrame) -> str:
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *rows])


@dataclass(frozen=True)
class Tables:
    data: pd.DataFrame
    balance: pd.DataFrame
    metrics: pd.DataFrame
    calibration: pd.DataFrame
    loss: pd.DataFrame
    coefficients: dict[str, pd.DataFrame]
    stepwise_paths: dict[str, pd.DataFrame]
    scorecard: pd.DataFrame
    iv: pd.DataFrame
    reasons: pd.DataFrame
    seed: pd.DataFrame | None
    seed_coefficients: pd.DataFrame | None
    claims: pd.DataFrame | None


def build_tables(study: StudyResult) -> Tables:
    ds = study.dataset
    sp = study.split
    data = pd.DataFrame(
        [
            ("conjunto", f"{ds.definition.title} ({ds.definition.name})"),
            ("archivo", ds.path.name),
            ("sha256 del archivo", ds.sha256),
            ("filas × variables", f"{len(ds.y):,} × {ds.X.shape[1]}"),
            ("tasa de incumplimiento", f"{study.default_rate:.2%}"),
            ("columnas excluidas", ", ".join(ds.definition.drop) or "—"),
            ("entrenamiento (60 %)", f"{len(sp.y_train):,} filas, {int(sp.y_train.sum()):,} incumplidos"),
            ("validación (40 %)", f"{len(sp.y_valid):,} filas, {int(sp.y_valid.sum()):,} incumplidos"),
            ("semilla", str(study.seed)),
            ("política", f"{study.policy_version} ({study.policy_hash[:12]})"),
        ],
        columns=["dato", "valor"],
    )
    balance = pd.DataFrame(
        [
            {
                "estrategia": r.strategy,
                "descripción": r.label,
                "filas": r.n_rows,
                "clase 0": r.n_neg,
                "clase 1": r.n_pos,
                "% clase 1": r.n_pos / r.n_rows,
                "variables elegidas": len(r.stepwise.fit.terms),
                "excluidas por stepwise": ", ".join(r.stepwise.dropped) or "—",
            }
            for r in study.strategies
        ]
    )
    metrics = pd.DataFrame(
        [
            {
                "estrategia": r.strategy,
                "elegido": r is study.chosen,
                "VN": r.metrics.tn,
                "FP": r.metrics.fp,
                "FN": r.metrics.fn,
                "VP": r.metrics.tp,
                "precisión": r.metrics.precision,
                "exhaustividad": r.metrics.recall,
                "F1": r.metrics.f1,
                "umbral (mejor F1 en entrenamiento)": r.threshold_train,
                "F1 en validación con ese umbral": r.metrics_threshold_train.f1,
                "mejor umbral de validación": r.threshold_best_valid,
                "F1 en el mejor umbral": r.f1_best_valid,
                "ROC-AUC": r.metrics.roc_auc,
                "KS": r.metrics.ks,
                "Gini": r.metrics.gini,
            }
            for r in study.strategies
        ]
    )
    observed = float(sp.y_valid.mean())
    calibration = pd.DataFrame(
        [
            {
                "estrategia": r.strategy,
                "Brier antes": r.brier_raw,
                "Brier después": r.brier_calibrated,
                "PD media antes": r.mean_pd_raw,
                "PD media después": r.mean_pd_calibrated,
                "tasa observada": observed,
                "Platt pendiente": r.calibrator.slope,
                "Platt intercepto": r.calibrator.intercept,
            }
            for r in study.strategies
        ]
    )
    loss = pd.DataFrame(
        [
            {
                "estrategia": r.strategy,
                "PE con PD sin recalibrar": r.el_raw,
                "PE con PD recalibrada": r.el_calibrated,
                "pérdida realizada (LGD·EAD de los incumplidos)": study.realised_loss,
                f"aprobación con PD < {study.approve_pd_below:g}": r.approval_rate,
            }
            for r in study.strategies
        ]
    )
    coefficients = {}
    paths = {}
    for r in study.strategies:
        coefficients[r.strategy] = _coefficient_table(r.stepwise.fit.table())
        paths[r.strategy] = pd.DataFrame(
            [{"paso": i, "movimiento": s.move, "AIC": s.aic} for i, s in enumerate(r.stepwise.path)]
        )
    card = study.scorecard
    iv = pd.DataFrame(
        [
            {"variable": f, "IV": b.iv, "tramos": len(b.woe), "en el scorecard": f in card.beta}
            for f, b in card.bins.items()
        ]
    ).sort_values("IV", ascending=False)
    seed_tbl, seed_coef = _seed_tables(study)
    return Tables(
        data,
        balance,
        metrics,
        calibration,
        loss,
        coefficients,
        paths,
        card.table(),
        iv,
        study.reason_examples,
        seed_tbl,
        seed_coef,
        claim_table(study),
    )


def _p_value(p: float) -> str:
    # statsmodels' Wald p-values underflow to exactly 0 for |z| > ~38: say so instead of printing 0
    return "< 1e-300" if p < 1e-300 else f"{p:.3g}"


def _coefficient_table(t: pd.DataFrame) -> pd.DataFrame:
    """Significant digits instead of fixed decimals: per-unit effects of balances in the 1e5 range are tiny."""
    return pd.DataFrame(
        {
            "variable": t["variable"],
            "coeficiente": [f"{v:.6g}" for v in t["coeficiente"]],
            "error_est": [f"{v:.4g}" for v in t["error_est"]],
            "p_valor": [_p_value(v) for v in t["p_valor"]],
            "odds_ratio": [f"{v:.6g}" for v in t["odds_ratio"]],
        }
    )


def _seed_tables(study: StudyResult) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    ref = study.dataset.definition.seed_reference
    if not ref:
        return None, None
    by = {r.strategy: r for r in study.strategies}
    sp = study.split
    rows: list[tuple[str, Any, Any]] = [
        ("filas de entrenamiento", ref.get("train_rows"), len(sp.y_train)),
        ("entrenamiento clase 0", ref.get("train_negatives"), int((sp.y_train == 0).sum())),
        ("entrenamiento clase 1", ref.get("train_positives"), int(sp.y_train.sum())),
    ]
    if "over" in by:
        rows.append(("oversampling: filas", ref.get("over_rows"), by["over"].n_rows))
    if "under" in by:
        rows.append(("undersampling: filas", ref.get("under_rows"), by["under"].n_rows))
    if "both" in by:
        rows += [
            ("ambas: clase 0", ref.get("both_negatives"), by["both"].n_neg),
            ("ambas: clase 1", ref.get("both_positives"), by["both"].n_pos),
        ]
    if "smote" in by:
        rows += [
            ("SMOTE: clase 1", ref.get("smote_positives"), by["smote"].n_pos),
            ("SMOTE: clase 0", ref.get("smote_negatives"), by["smote"].n_neg),
            ("SMOTE: filas", ref.get("smote_rows"), by["smote"].n_rows),
        ]
    rows.append(("estrategia elegida por F1", ref.get("chosen_strategy"), study.chosen.strategy))
    c = study.chosen
    se = auc_standard_error(c.metrics.roc_auc, c.metrics.tp + c.metrics.fn, c.metrics.tn + c.metrics.fp)
    rows.append(("ROC-AUC del modelo elegido", ref.get("roc_auc"), f"{c.metrics.roc_auc:.4f} (EE ± {se:.4f})"))
    table = pd.DataFrame(rows, columns=["cifra", "semilla 001", "esta corrida"])
    coef_ref = ref.get("coefficients") or {}
    coef_tbl = None
    strategy = ref.get("chosen_strategy")
    if coef_ref and strategy in by:
        ours = by[strategy].stepwise.fit.coef
        names = [INTERCEPT, *[k for k in coef_ref if k != INTERCEPT], *[k for k in ours if k not in coef_ref]]
        coef_tbl = pd.DataFrame(
            [
                {"variable": k, "semilla 001": coef_ref.get(k), f"esta corrida ({strategy})": ours.get(k)}
                for k in dict.fromkeys(names)
            ]
        )
    return table, coef_tbl


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters["fmt"] = _fmt
    env.filters["html_table"] = to_html
    return env


def render_html(study: StudyResult, tables: Tables | None = None) -> str:
    t = tables or build_tables(study)
    figures = {
        "roc": plots.roc_png(study),
        "calibration": plots.calibration_png(study),
        "scores": plots.score_distribution_png(study),
    }
    return (
        _environment()
        .get_template("report.html.j2")
        .render(s=study, t=t, fig=figures, d=study.dataset.definition, seed_notes=seed_notes(study))
    )


def render_markdown(study: StudyResult, tables: Tables | None = None) -> str:
    t = tables or build_tables(study)
    c = study.chosen
    d = study.dataset.definition
    lines = [
        f"# Informe de PD — {d.title}",
        "",
        f"Semilla {study.seed}, partición {1 - study.valid_share:.0%}/{study.valid_share:.0%} estratificada; "
        f"política {study.policy_version}; datos sha256 `{study.dataset.sha256[:16]}…`; {study.seconds:.1f} s.",
        "",
        "## Métricas en validación (umbral 0.5 sobre la PD del modelo balanceado, como la semilla; F1 también en el "
        "umbral elegido en el entrenamiento y en el mejor umbral de la validación)",
        "",
        to_markdown(t.metrics),
        "",
        f"**Modelo elegido por F1: `{c.strategy}`** — ROC-AUC {c.metrics.roc_auc:.4f}, F1 {c.metrics.f1:.4f}, "
        f"KS {c.metrics.ks:.4f}, Gini {c.metrics.gini:.4f}.",
        "",
        "## Calibración (Platt sobre el entrenamiento con la mezcla original)",
        "",
        to_markdown(t.calibration),
        "",
        f"## Pérdida esperada (LGD {study.lgd:g}, {d.ead_note or 'EAD = 1 por cliente'})",
        "",
        f"LGD y factor de EAD son supuestos de `[products.auto]`, no medidos. Fuente: {study.loss_source}",
        "",
        to_markdown(t.loss),
        "",
        f"## Scorecard WoE: ROC-AUC {study.scorecard_metrics.roc_auc:.4f}",
        "",
        to_markdown(t.iv),
    ]
    if t.claims is not None:
        lines += [
            "",
            "## Afirmaciones de la semilla 001 frente a esta corrida (tabla calculada)",
            "",
            to_markdown(t.claims),
        ]
    if t.seed is not None:
        lines += [
            "",
            "## Diferencias con la semilla 001",
            "",
            to_markdown(t.seed),
            "",
            *[f"- {n}" for n in seed_notes(study)],
        ]
    return "\n".join(lines) + "\n"


def seed_notes(study: StudyResult) -> list[str]:
    """Why our figures differ from the seed's, with the numbers of this run."""
    ref = study.dataset.definition.seed_reference
    if not ref:
        return []
    notes = [
        f"La semilla no dice cómo tomó su 60 %: su entrenamiento tiene {ref.get('train_rows', 0):,} filas; el nuestro, "
        f"{len(study.split.y_train):,} (partición estratificada de scikit-learn, semilla {study.seed}). Las filas no "
        "coinciden una a una.",
        "Los conteos de over/under/ambas dependen de ese entrenamiento (over = 2 × clase 0, under = 2 × clase 1) y de "
        "los números aleatorios (R frente a NumPy); 'ambas' es un solo sorteo Binomial(N, 0.5).",
        "`smote` usa las mismas proporciones (perc.over = 100, perc.under = 300, k = 5) con imbalanced-learn: busca "
        "vecinos por distancia euclídea sin escalar y toma la mayoritaria sin reemplazo cuando alcanza. `smote_dmwr` "
        "es el método de la semilla (DMwR): variables escaladas a su rango antes de buscar vecinos y mayoritaria con "
        "reemplazo.",
    ]
    c = study.chosen
    if "roc_auc" in ref:
        se = auc_standard_error(c.metrics.roc_auc, c.metrics.tp + c.metrics.fn, c.metrics.tn + c.metrics.fp)
        gap = c.metrics.roc_auc - float(ref["roc_auc"])
        verdict = (
            "dentro de dos errores estándar: compatible con el ruido de la partición; no prueba que el método sea "
            "el mismo (la tabla de afirmaciones dice qué más coincide y qué no)"
            if abs(gap) <= 2 * se
            else "más de dos errores estándar: revise la partición y las variables elegidas"
        )
        notes.append(
            f"ROC-AUC del modelo elegido: {c.metrics.roc_auc:.4f} frente a {float(ref['roc_auc']):.4f} de la semilla "
            f"(diferencia {gap:+.4f}, error estándar Hanley–McNeil {se:.4f}): {verdict}."
        )
    coef_ref = {k: v for k, v in (ref.get("coefficients") or {}).items() if k != INTERCEPT}
    by = {r.strategy: r for r in study.strategies}
    strategy = ref.get("chosen_strategy")
    if coef_ref and strategy in by:
        ours = {k: v for k, v in by[strategy].stepwise.fit.coef.items() if k != INTERCEPT}
        extra = sorted(set(ours) - set(coef_ref))
        missing = sorted(set(coef_ref) - set(ours))
        flipped = sorted(k for k in set(ours) & set(coef_ref) if np.sign(ours[k]) != np.sign(coef_ref[k]))
        parts = []
        if extra:
            parts.append(f"nuestro stepwise conserva {', '.join(extra)}, que la semilla no tiene")
        if missing:
            parts.append(f"excluye {', '.join(missing)}, que la semilla sí tiene")
        if flipped:
            pv = by[strategy].stepwise.fit.p_value
            parts.append("el signo cambia en " + ", ".join(f"{k} (p = {pv[k]:.3g})" for k in flipped))
        notes.append(
            "Coeficientes del modelo SMOTE: los de la semilla salen de su fórmula impresa, redondeada (su tabla de "
            "stepwise sólo existe como imagen). "
            + ("; ".join(parts).capitalize() + "." if parts else "Mismas variables y mismos signos.")
            + " Con decenas de miles de filas el AIC retiene variables de efecto mínimo, y sobre filas sintéticas "
            "(que no son independientes) los p-valores son optimistas: mire el IV de esas variables en la sección 7."
        )
    notes.append(
        "La semilla calcula la pérdida esperada sobre los 6,162 clientes de prueba de Kaggle, que no tienen "
        "etiqueta ni "
        "están disponibles; aquí los 'clientes nuevos' son los de validación, con LGD y EAD de la política."
    )
    return notes
