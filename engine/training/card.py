"""The applicant PD model's card, as a validator reads it (issue #16 item 2): `asesor train card`.

Headline: repeated stratified cross-validation (mean ± sd over folds) of the whole training procedure; the
single hold-out split beside it, never instead of it. Calibration: reliability table, Brier, log-loss and the
calibration slope/intercept, out of fold and on the hold-out. The prior shift (the portfolio default rate the
served PD is moved to) is a stated, configurable assumption, with its effect on the PD shown, the expected
loss and the decision mix. The candidates of engine.training.candidates, compared in the same folds, and the
recommendation their rule makes. Intended use and non-use.

Every figure in the Markdown comes from the dict `build_card` returns (the JSON written beside it): nothing is
typed in by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.policy import Policy
from engine.training.calibration import calibration_slope_intercept, reliability_table
from engine.training.candidates import CANDIDATES, LABELS, Comparison, Folds, auc, brier, compare_candidates, log_loss

CARD_FORMAT = "asesor.model_card"
DEFAULT_RATES: tuple[float, ...] = (0.03, 0.05, 0.08, 0.12, 0.20)


def _calibration(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    slope, intercept = calibration_slope_intercept(y, p)
    return {
        "rows": len(y),
        "mean_pd": float(p.mean()),
        "observed_rate": float(y.mean()),
        "brier": brier(y, p),
        "log_loss": log_loss(y, p),
        "brier_constant": brier(y, np.full(len(y), y.mean())),
        "calibration_slope": slope,
        "calibration_intercept": intercept,
        "reliability": reliability_table(y, p, 10),
    }


def decision_mix(policy: Policy, pd_data_mix: np.ndarray, data_rate: float, rate: float | None) -> dict[str, Any]:
    """The PD shown, the expected loss per unit of exposure and the decision mix of a population when the
    model's PD is moved from the data's default rate to `rate` (None: no shift)."""
    from engine.expert import cutoff_scores
    from engine.pd.scaling import score_from_pd
    from engine.training.calibration import IDENTITY

    book = data_rate if rate is None else rate
    p = pd_data_mix if rate is None else IDENTITY.shifted(data_rate, rate)(pd_data_mix)
    score_approve, score_review = cutoff_scores(policy)
    scores = np.array([score_from_pd(float(v), policy.score_scaling, book) for v in p])
    served_reject = scores <= score_review
    served_review = (scores <= score_approve) & ~served_reject
    a, r = policy.pd.approve_pd_below, policy.pd.review_pd_below
    product = policy.product
    return {
        "rate": rate,
        "mean_pd": float(p.mean()),
        "expected_loss_per_unit": float(p.mean() * product.lgd * product.ead_factor),
        # the [pd] cut-offs read as PDs, as champion/challenger's approval rate reads them
        "literal": {
            "approve": float(np.mean(p < a)),
            "review": float(np.mean((p >= a) & (p < r))),
            "reject": float(np.mean(p >= r)),
        },
        # what P1/P2 decide: the cut-offs read as scores on the book-anchored scale (engine/expert.py)
        "served_pd_rules": {
            "approve": float(np.mean(~served_reject & ~served_review)),
            "review": float(np.mean(served_review)),
            "reject": float(np.mean(served_reject)),
        },
    }


def build_card(
    policy: Policy,
    data_path: Path | None = None,
    folds: Folds | None = None,
    candidates: tuple[str, ...] = CANDIDATES,
    rates: tuple[float, ...] = DEFAULT_RATES,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], Comparison]:
    from engine.pd import features as F
    from engine.training.applicant import DATA_PATH, _single_blas_thread, load_german, run_training

    folds = folds or Folds(n_splits=5, n_repeats=10, seed=policy.pd.training.seed)
    path = data_path or DATA_PATH
    with _single_blas_thread():
        run = run_training(policy, path)
        if progress:
            progress("entrenamiento")
        df, _sha = load_german(path)
        X, y = F.encode_german(df, policy.pd.training.credit_history_reading, F.german_clip(df))
        comparison = compare_candidates(X, y, policy.pd.training, folds, candidates, progress)
    art = run.artifact
    served = comparison.scores.get("served")
    p_ho = run.model.proba(run.X_holdout)
    data_rate = float(y.mean())
    assumed = policy.pd.mapping.portfolio_bad_rate
    p_all = run.model.proba(X)
    shown_rates: list[float | None] = [None, *sorted({*rates, *([assumed] if assumed is not None else [])})]
    card: dict[str, Any] = {
        "format": CARD_FORMAT,
        "model_version": art["model_version"],
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "policy_version": policy.version,
        "policy_hash": policy.content_hash,
        "data": art["data"],
        "procedure": {k: art["training"][k] for k in ("resampler", "recalibration", "l2_c", "seed")},
        "calibration_in_artifact": art["calibration"],
        "headline": None
        if served is None
        else {
            "folds": comparison.folds.describe(),
            "n_splits": comparison.folds.n_splits,
            "n_repeats": comparison.folds.n_repeats,
            **{k: v for k, v in served.summary().items() if k in ("auc", "brier", "log_loss")},
            "brier_constant": data_rate * (1 - data_rate),
        },
        "holdout": {
            "rows": len(run.y_holdout),
            "auc": auc(run.y_holdout, p_ho),
            "brier": brier(run.y_holdout, p_ho),
            "log_loss": log_loss(run.y_holdout, p_ho),
        },
        "calibration": {
            "out_of_fold": None if served is None else _calibration(y, served.oof_first_repeat),
            "holdout": _calibration(run.y_holdout, p_ho),
        },
        "prior_shift": {
            "data_rate": data_rate,
            "assumed_rate": assumed,
            "setting": "[pd.mapping].portfolio_bad_rate",
            "population": f"las {len(y)} filas de {art['data']['file']} con el modelo entrenado",
            "rows": [decision_mix(policy, p_all, data_rate, r) for r in shown_rates],
        },
        "expected_loss_inputs": {
            "product": policy.product.name,
            "lgd": policy.product.lgd,
            "ead_factor": policy.product.ead_factor,
            "source": policy.product.source,
        },
        "candidates": comparison.to_dict(),
    }
    return card, comparison


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f} %"


def _ms(d: dict[str, float], digits: int = 4) -> str:
    return f"{d['mean']:.{digits}f} ± {d['sd']:.{digits}f}"


def render_markdown(card: dict[str, Any]) -> str:
    h, ho, cal = card["headline"], card["holdout"], card["calibration"]
    ps, el, cand = card["prior_shift"], card["expected_loss_inputs"], card["candidates"]
    rec = cand["recommendation"]
    lines = [
        f"# Ficha del modelo de PD del solicitante — `{card['model_version']}`",
        "",
        f"Política {card['policy_version']} (`{card['policy_hash'][:12]}`); datos `{card['data']['file']}` "
        f"(sha256 `{card['data']['sha256'][:16]}…`, {card['data']['rows']} filas, {card['data']['source']}); "
        f"procedimiento: remuestreo `{card['procedure']['resampler']}`, recalibración "
        f"`{card['procedure']['recalibration']}`, L2 C = {card['procedure']['l2_c']}. Generada {card['created_at']}.",
        "",
        "## 1. Cifras principales: validación cruzada repetida (media ± desviación entre pliegues)",
        "",
    ]
    if h is not None:
        lines += [
            f"{h['folds']}; el procedimiento completo se reentrena en cada pliegue.",
            "",
            "| métrica | CV media ± sd | hold-out (una partición) |",
            "|---|---|---|",
            f"| ROC-AUC | **{_ms(h['auc'])}** | {ho['auc']:.4f} |",
            f"| Brier | **{_ms(h['brier'])}** | {ho['brier']:.4f} |",
            f"| log-loss | **{_ms(h['log_loss'])}** | {ho['log_loss']:.4f} |",
            f"| Brier de la constante (tasa de los datos) | {h['brier_constant']:.4f} | "
            f"{cal['holdout']['brier_constant']:.4f} |",
            "",
            f"El hold-out ({ho['rows']} filas) es una sola partición: su AUC cae a "
            f"{(ho['auc'] - h['auc']['mean']) / h['auc']['sd']:+.1f} desviaciones de la media de CV. La cifra a "
            "citar es la de CV.",
            "",
        ]
    lines += ["## 2. Calibración (PD en la mezcla de los datos, sin el desplazamiento de la sección 3)", ""]
    parts = (("out_of_fold", "fuera de pliegue (primera repetición, cada fila una vez)"), ("holdout", "hold-out"))
    for key, title in parts:
        c = cal[key]
        if c is None:
            continue
        lines += [
            f"**{title}**: Brier {c['brier']:.4f} (constante {c['brier_constant']:.4f}), log-loss {c['log_loss']:.4f}, "
            f"pendiente de calibración {c['calibration_slope']:.3f}, intercepto {c['calibration_intercept']:+.3f} "
            f"(1 y 0 si calibra), PD media {c['mean_pd']:.3f} frente a {c['observed_rate']:.3f} observada.",
            "",
            "| décimo (por PD) | filas | PD media | incumplimiento observado |",
            "|---|---|---|---|",
            *[
                f"| {i} | {r['rows']} | {r['mean_pd']:.3f} | {r['observed']:.3f} |"
                for i, r in enumerate(c["reliability"], start=1)
            ],
            "",
        ]
    lines += [
        "## 3. Supuesto: la tasa de incumplimiento de la cartera (desplazamiento de la priori)",
        "",
        f"Los datos de entrenamiento incumplen un {_pct(ps['data_rate'])}; la política supone "
        f"{_pct(ps['assumed_rate'])} (`{ps['setting']}`). Es un SUPUESTO, no una medición: la PD servida es la del "
        "modelo con sus log-odds desplazadas a esa tasa (mismo orden, mismos odds ratios). Efecto sobre "
        f"{ps['population']}:",
        "",
        "| tasa supuesta | PD media mostrada | pérdida esperada por unidad de exposición | cortes [pd] leídos como PD: "
        "aprobar / revisar / rechazar | veredicto servido por P1/P2: aprobar / revisar / rechazar |",
        "|---|---|---|---|---|",
    ]
    for r in ps["rows"]:
        lit, srv = r["literal"], r["served_pd_rules"]
        label = "sin desplazar (tasa de los datos)" if r["rate"] is None else _pct(r["rate"])
        if r["rate"] is not None and r["rate"] == ps["assumed_rate"]:
            label += " ← política"
        lines.append(
            f"| {label} | {r['mean_pd']:.3f} | {r['expected_loss_per_unit']:.4f} | "
            f"{_pct(lit['approve'])} / {_pct(lit['review'])} / {_pct(lit['reject'])} | "
            f"{_pct(srv['approve'])} / {_pct(srv['review'])} / {_pct(srv['reject'])} |"
        )
    served_mixes = {tuple(r["served_pd_rules"].values()) for r in ps["rows"]}
    lines += [
        "",
        (
            "P1/P2 leen los cortes como puntajes en la escala anclada a la cartera, así que el veredicto no cambia con "
            "la tasa supuesta (una sola mezcla en la última columna); cambian la PD mostrada y la pérdida esperada."
            if len(served_mixes) == 1
            else "El veredicto de P1/P2 cambia con la tasa supuesta (última columna)."
        ),
        "",
        "## 4. Pérdida esperada: supuestos, con su fuente",
        "",
        f"{el['product']}: LGD {el['lgd']:g}, factor de EAD {el['ead_factor']:g} (`[products.auto]`). "
        f"Fuente: {el['source']}",
        "",
        f"## 5. Candidatos en los mismos pliegues ({cand['folds']['n_repeats']} × {cand['folds']['n_splits']})",
        "",
        "| candidato | ROC-AUC | Brier | log-loss | AUC: diferencia con el mejor (EE) | dentro del ruido | "
        "sd del AUC ÷ la del más estable | estable | tan bueno como el mejor | s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in cand["candidates"].items():
        v = rec["verdicts"][name]
        ratio = "—" if v["auc_sd_ratio"] is None else f"{v['auc_sd_ratio']:.2f}×"
        stable = "sin juzgar" if v["stable"] is None else ("sí" if v["stable"] else "no")
        lines.append(
            f"| `{name}`: {s['label']} | {_ms(s['auc'])} | {_ms(s['brier'])} | {_ms(s['log_loss'])} | "
            f"{-v['auc_gap_to_best']:+.4f} ({v['auc_gap_se']:.4f}) | {'sí' if v['within_noise'] else 'no'} | "
            f"{ratio} | {stable} | {'sí' if v['as_good'] else 'no'} | {s['seconds']:.1f} |"
        )
    reference = rec["stability_reference"]
    lines += [
        "",
        f"Regla: {rec['rule']}. Mejor AUC: `{rec['best_auc']}`; mejor Brier: `{rec['best_brier']}`; el más estable "
        f"dentro del ruido: {f'`{reference}`' if reference else 'ninguno'}. "
        f"**Recomendado: `{rec['recommended']}`** ({LABELS[rec['recommended']]}). La sd entre pliegues es la "
        "estabilidad. `asesor train promote` cita esta comparación.",
        "",
        "## 6. Uso previsto y usos no previstos",
        "",
        "- Previsto: ordenar y estimar la PD de solicitantes de crédito automotriz a partir de las respuestas del "
        "diálogo, como una entrada más del sistema experto, con revisión humana de los casos dudosos.",
        f"- Es un SUSTITUTO: entrenado con {card['data']['rows']} créditos alemanes de 1973–1975 "
        f"({card['data']['source']}). Se reemplaza al reentrenar con los resultados del banco "
        "(`asesor train applicant --from-db`).",
        "- No previsto: decidir sin revisión humana; fijar provisiones o capital regulatorio (la PD depende de la "
        "tasa supuesta de la sección 3 y la pérdida de supuestos de la sección 4); aplicarse a otros productos o "
        "a solicitantes fuera del rango de los datos; usar sexo, estado civil o nacionalidad (no están en el "
        "modelo y no deben entrar).",
        "",
    ]
    return "\n".join(lines)
