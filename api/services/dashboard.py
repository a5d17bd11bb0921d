"""The /dashboard page: a list of tiles, each one template block + one service function + one API route.

A tile is a `Tile` in `TILES`: `build(ctx)` returns the tile's data (chart specs from api.services.charts and
the tables beside them), `template` (api/templates/tiles/…) draws it, and `route` names the JSON/CSV route
under /v1/analytics that gives the same numbers. Adding a tile is adding one entry, one builder and one
template; the page itself only loops over them. Builders read storage.analytics through `ctx.analytics`
with the page's period (`ctx.filters`), and their own options from the query string (`ctx.option`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from api.services import charts as ch
from api.services.advisors_page import reason_label
from api.services.handoff import policy_for
from api.services.policy_lab import last_replay_tile
from core.config import Settings
from dialogs import texts
from engine.policy import Policy
from storage import period_counts
from storage.analytics import Analytics, Filters
from storage.case_analytics import case_stats
from storage.repositories import Storage

DEFAULT_DAYS = 30

_EVENT_LABELS = {
    "BotStarted": "Inicio en el bot",
    "ConsentGiven": "Aceptó el aviso de privacidad",
    "ProfileCompleted": "Perfil completo",
    "PerfilacionBancariaComplete": "Perfilamiento completo",
    "ResultShown": "Vio su resultado",
    "HandoffOpened": "Abrió la solicitud web",
    "FinancingRequestSubmitted": "Envió la solicitud",
}
_QUESTION_LABELS = {
    "trabajo_tiempo": "antigüedad laboral",
    "banco_nomina": "banco de nómina",
    "historial_crediticio": "historial crediticio",
    "creditos_vigentes": "créditos vigentes",
    "atrasos_12_meses": "atrasos (12 meses)",
    "enganche": "enganche",
    "prioridad_financiamiento": "prioridad",
    "ingreso_mensual": "ingreso mensual",
}
# segment columns -> (label, the answer whose codes they hold; None: bank codes)
SEGMENT_LABELS: dict[str, tuple[str, str | None]] = {
    "income_band": ("Ingreso mensual", "ingreso_mensual"),
    "tenure": ("Antigüedad laboral", "trabajo_tiempo"),
    "payroll_bank": ("Banco de nómina", "banco_nomina"),
    "down_payment": ("Enganche", "enganche"),
    "recommended_bank": ("Banco recomendado", None),
}


def step_label(event: str, step: str | None) -> str:
    if event == "QuestionAnswered":
        return f"Respondió: {_QUESTION_LABELS.get(step or '', step)}"
    return _EVENT_LABELS.get(event, event)


@dataclass
class TileContext:
    storage: Storage
    settings: Settings
    policy: Policy
    analytics: Analytics
    filters: Filters
    start: date
    end: date
    params: Mapping[str, str] = field(default_factory=dict)
    app_state: Any = None  # the FastAPI app's state (the engine in service, for monitoring)

    def option(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        """A tile's own choice from the query string, or its default when missing or unknown."""
        value = self.params.get(name, default)
        return value if value in allowed else default

    def api(self, path: str, **params: Any) -> str:
        """The /v1/analytics URL of a tile's table, for the page's period, as CSV."""
        query = {"desde": self.start.isoformat(), "hasta": self.end.isoformat(), **params, "format": "csv"}
        return f"/v1/analytics/{path}?{urlencode({k: v for k, v in query.items() if v is not None})}"

    def code_order(self, column: str) -> dict[str | None, int]:
        """Position of each code of a segment column in the policy (answers or banks): the order tables use."""
        question = SEGMENT_LABELS.get(column, ("", None))[1]
        codes = self.policy.answers.get(question, {}) if question else self.policy.banks
        return {c: i for i, c in enumerate(codes)}

    def code_label(self, column: str, code: str | None) -> str:
        """The Spanish label of a segment code (answers of the policy, or bank names)."""
        if code is None:
            return "—"
        question = SEGMENT_LABELS.get(column, ("", None))[1]
        names = self.policy.answers.get(question, {}) if question else self.policy.banks
        return names.get(code, code)


@dataclass(frozen=True)
class Tile:
    key: str  # the section's id on the page
    title: str
    template: str  # under api/templates/
    build: Callable[[TileContext], dict[str, Any]]
    route: str  # the API route with the same numbers (relative: under /v1/analytics)
    wide: bool = False  # spans both columns of the grid


# ----------------------------------------------------------------------------------------------- tiles
def funnel_tile(ctx: TileContext) -> dict[str, Any]:
    rows = ctx.analytics.step_times(ctx.filters)
    labels = [step_label(r["event"], r["step"]) for r in rows]
    first = rows[0]["users"] if rows else 0
    pct = ch.percent()

    def note(r: dict[str, Any]) -> str | None:
        if r["drop_off"] is None:
            return None
        parts = [f"abandono {ch.integer(r['drop_off'])} ({pct(r['drop_off_rate'])})"]
        if r["timed"]:
            parts.append(f"mediana {ch.seconds(r['median_seconds'])} · p90 {ch.seconds(r['p90_seconds'])}")
        return " · ".join(parts)

    table_rows = [
        {
            "step": label,
            "users": r["users"],
            "from_start": r["users"] / first if first else None,
            "drop_off": r["drop_off"],
            "drop_off_rate": r["drop_off_rate"],
            "median": r["median_seconds"],
            "p90": r["p90_seconds"],
            "timed": r["timed"],
        }
        for label, r in zip(labels, rows, strict=True)
    ]
    return {
        "chart": ch.hbar(
            labels,
            [ch.Series("solicitantes", [r["users"] for r in rows])],
            summary=f"Embudo de {len(rows)} pasos: de {ch.integer(first)} solicitantes que iniciaron, cuántos "
            "llegaron a cada paso, el abandono y el tiempo de cada paso. Los números están en la tabla de datos.",
            notes=[note(r) for r in rows],
        ),
        "table": ch.Table(
            "Solicitantes, abandono y tiempo por paso del embudo",
            [
                ch.Column("step", "Paso", numeric=False),
                ch.Column("users", "Solicitantes", ch.integer),
                ch.Column("from_start", "Desde el inicio", pct),
                ch.Column("drop_off", "Abandono", ch.integer),
                ch.Column("drop_off_rate", "Abandono %", pct),
                ch.Column("median", "Mediana (s)", ch.decimal(1)),
                ch.Column("p90", "p90 (s)", ch.decimal(1)),
                ch.Column("timed", "Con tiempo", ch.integer),
            ],
            table_rows,
            csv=ctx.api("funnel/steps"),
        ),
    }


DECISION_SERIES = (("aprobado", "Aprobado", 1), ("revisar", "Revisar", 2), ("rechazado", "Rechazado", 3))


def decisions_tile(ctx: TileContext) -> dict[str, Any]:
    f = ctx.filters
    by_day: dict[str, dict[str, int]] = {}
    # per-decision daily counts: the storage series gives totals and approval; split it by decision here
    for decision, _, _ in DECISION_SERIES:
        for row in ctx.analytics.decisions(Filters(start=f.start, end=f.end, decision=decision), unit="day")["series"]:
            by_day.setdefault(row["period"], {})[decision] = row["assessments"]
    days = sorted(by_day)
    series = [ch.Series(name, [by_day[d].get(code, 0) for d in days], color) for code, name, color in DECISION_SERIES]
    total = ctx.analytics.decisions(f)
    rows: list[dict[str, Any]] = [
        {"day": d, **{code: by_day[d].get(code, 0) for code, _, _ in DECISION_SERIES}} for d in days
    ]
    for r in rows:
        n = sum(r[c] for c, _, _ in DECISION_SERIES)
        r["total"], r["approval"] = n, (r["aprobado"] / n if n else None)
    return {
        "approval_rate": total["approval_rate"],
        "chart": ch.columns(
            days,
            series,
            stacked=True,
            summary=f"Decisiones por día, {len(days)} días con evaluaciones; aprobación del periodo "
            f"{ch.percent()(total['approval_rate'])}. Los números están en la tabla de datos.",
            x_label=ch.day_label,
        ),
        "table": ch.Table(
            "Decisiones por día",
            [
                ch.Column("day", "Día", numeric=False),
                *[ch.Column(code, name, ch.integer) for code, name, _ in DECISION_SERIES],
                ch.Column("total", "Total", ch.integer),
                ch.Column("approval", "Aprobación", ch.percent()),
            ],
            rows,
            csv=ctx.api("decisions", unit="day"),
        ),
    }


def banks_tile(ctx: TileContext) -> dict[str, Any]:
    f = ctx.filters
    # every recommended bank of the period, including API assessments with no applicant behind them
    # (funnel_by_bank counts applicants only)
    counts = period_counts.assessments_by_bank(ctx.storage.engine, f.start, f.end)
    codes = [b for b in ctx.policy.banks if counts.get(b)]
    total = sum(counts.values())
    rows: list[dict[str, Any]] = [
        {"bank": ctx.policy.banks[b], "n": counts[b], "share": counts[b] / total} for b in codes
    ]
    return {
        "chart": ch.hbar(
            [r["bank"] for r in rows],
            [ch.Series("evaluaciones", [r["n"] for r in rows])],
            summary=f"Evaluaciones por banco recomendado, {len(rows)} bancos. Los números están en la tabla.",
        ),
        "table": ch.Table(
            "Evaluaciones por banco recomendado",
            [
                ch.Column("bank", "Banco", numeric=False),
                ch.Column("n", "Evaluaciones", ch.integer),
                ch.Column("share", "Proporción", ch.percent()),
            ],
            rows,
            csv=ctx.api("banks"),
        ),
    }


def pd_tile(ctx: TileContext) -> dict[str, Any]:
    dist = ctx.analytics.pd_distribution(ctx.filters, bins=20)
    hist = dist["histogram"]
    pct0 = ch.percent(0)
    rows = [{"bin": f"{pct0(b['from'])} – {pct0(b['to'])}", "count": b["count"]} for b in hist]
    return {
        "mean": dist["mean"],
        "chart": ch.columns(
            [r["bin"] for r in rows],
            [ch.Series("evaluaciones", [r["count"] for r in rows], 4)],
            stacked=True,
            summary=f"Histograma de la PD en 20 intervalos de 5 puntos; PD media {ch.percent()(dist['mean'])}. "
            "Los números están en la tabla.",
            x_label=lambda s: s.split(" – ")[0],
        ),
        "table": ch.Table(
            "Evaluaciones por intervalo de PD",
            [ch.Column("bin", "PD", numeric=False), ch.Column("count", "Evaluaciones", ch.integer)],
            rows,
            csv=ctx.api("distributions/pd", bins=20),
        ),
    }


def loss_tile(ctx: TileContext) -> dict[str, Any]:
    loss = ctx.analytics.expected_loss(ctx.filters)
    rows = [
        {
            "bank": ctx.code_label("recommended_bank", r["bank"]),
            "n": r["assessments"],
            "el": r["expected_loss"],
            "exposure": r["exposure"],
        }
        for r in loss["by_bank"]
    ]
    return {
        "total": loss["expected_loss"],
        "chart": ch.hbar(
            [r["bank"] for r in rows],
            [ch.Series("pérdida esperada", [r["el"] for r in rows], 3)],
            fmt=ch.money,
            summary=f"Pérdida esperada del pipeline por banco recomendado; total {ch.money(loss['expected_loss'])}. "
            "Los números están en la tabla.",
        ),
        "table": ch.Table(
            "Pérdida esperada por banco recomendado (aprobadas y en revisión)",
            [
                ch.Column("bank", "Banco", numeric=False),
                ch.Column("n", "Evaluaciones", ch.integer),
                ch.Column("el", "Pérdida esperada", ch.money),
                ch.Column("exposure", "Exposición", ch.money),
            ],
            rows,
            csv=ctx.api("expected-loss"),
        ),
    }


PROFILE_SEGMENTS = ("income_band", "tenure", "payroll_bank", "recommended_bank")


def profiles_tile(ctx: TileContext) -> dict[str, Any]:
    by = ctx.option("perfil", PROFILE_SEGMENTS, "income_band")
    order = ctx.code_order(by)
    segments = sorted(ctx.analytics.segments(ctx.filters, by=by), key=lambda r: order.get(r["segment"], len(order)))
    rows = [
        {
            "segment": ctx.code_label(by, s["segment"]),
            "n": s["assessments"],
            "approval": s["approval_rate"],
            "pd": s["mean_pd"],
            "score": s["mean_score"],
            "el": s["pipeline_expected_loss"],
        }
        for s in segments
    ]
    title = SEGMENT_LABELS[by][0]
    return {
        "by": by,
        "options": [(k, SEGMENT_LABELS[k][0]) for k in PROFILE_SEGMENTS],
        "chart": ch.hbar(
            [r["segment"] for r in rows],
            [ch.Series("aprobación", [r["approval"] for r in rows], 1)],
            fmt=ch.percent(),
            top=1.0,
            notes=[f"{ch.integer(r['n'])} evaluaciones · PD media {ch.percent()(r['pd'])}" for r in rows],
            summary=f"Tasa de aprobación por {title.lower()}, {len(rows)} segmentos. Los números están en la tabla.",
        ),
        "table": ch.Table(
            f"Perfiles por {title.lower()}",
            [
                ch.Column("segment", title, numeric=False),
                ch.Column("n", "Evaluaciones", ch.integer),
                ch.Column("approval", "Aprobación", ch.percent()),
                ch.Column("pd", "PD media", ch.percent()),
                ch.Column("score", "Puntaje medio", ch.decimal(0)),
                ch.Column("el", "Pérdida esperada (pipeline)", ch.money),
            ],
            rows,
            csv=ctx.api("segments", by=by),
        ),
    }


DELINQUENCY_BY = ("recommended_bank", "income_band", "tenure", "payroll_bank")
_DQ_COLUMNS = [
    ch.Column("loans", "Créditos", ch.integer),
    ch.Column("defaults", "Incumplidos", ch.integer),
    ch.Column("default_rate", "Morosidad observada", ch.percent()),
    ch.Column("ci", "IC 95 %", numeric=False),
    ch.Column("with_prediction", "Con PD estimada", ch.integer),
    ch.Column("predicted_pd", "PD estimada media", ch.percent()),
    ch.Column("default_rate_with_prediction", "Morosidad (con PD)", ch.percent()),
    ch.Column("actual_to_expected", "Real / esperado", ch.decimal(2)),
]


def _dq_rows(rows: list[dict[str, Any]], label: Callable[[Any], str]) -> list[dict[str, Any]]:
    pct = ch.percent()
    return [
        {
            **r,
            "segment": label(r["segment"]),
            "ci": "—" if r["ci_low"] is None else f"{pct(r['ci_low'])} – {pct(r['ci_high'])}",
        }
        for r in rows
    ]


def delinquency_tile(ctx: TileContext) -> dict[str, Any]:
    """Observed default rate of the loaded outcomes beside the PD predicted for the same loans, by cohort month
    and by a segment the analyst picks; all cohorts (outcomes mature long after the page's period)."""
    by = ctx.option("morosidad", DELINQUENCY_BY, "recommended_bank")
    everything = Filters()
    cohorts = ctx.analytics.delinquency(by="cohort_month", f=everything)
    segments = ctx.analytics.delinquency(by=by, f=everything)
    total = cohorts["total"]
    months = [r for r in cohorts["rows"] if r["segment"] is not None]
    pct = ch.percent()
    title = SEGMENT_LABELS[by][0]
    seg_rows = _dq_rows(segments["rows"], lambda c: ctx.code_label(by, c) if c else "sin dato")
    return {
        "by": by,
        "options": [(k, SEGMENT_LABELS[k][0]) for k in DELINQUENCY_BY],
        "total": total,
        "ci": "—" if total["ci_low"] is None else f"{pct(total['ci_low'])} – {pct(total['ci_high'])}",
        "cohorts": ch.columns(
            [r["segment"] for r in months],
            [
                ch.Series("morosidad observada", [r["default_rate"] for r in months], 3),
                ch.Series("PD estimada", [r["predicted_pd"] for r in months], 0),
            ],
            stacked=False,
            fmt=ch.percent(0),
            summary=f"Morosidad observada y PD estimada por mes de originación, {len(months)} cohortes. "
            "Los números están en la tabla de datos.",
            x_label=ch.month_label,
        ),
        "cohorts_table": ch.Table(
            "Morosidad por cohorte (mes de originación)",
            [ch.Column("segment", "Cohorte", numeric=False), *_DQ_COLUMNS],
            _dq_rows([*cohorts["rows"], total], lambda m: "Total" if m == "total" else ch.month_label(m)),
            csv="/v1/analytics/delinquency?by=cohort_month&format=csv",
        ),
        "segments": ch.hbar(
            [r["segment"] for r in seg_rows],
            [
                ch.Series("morosidad observada", [r["default_rate"] for r in seg_rows], 3),
                ch.Series("PD estimada", [r["predicted_pd"] for r in seg_rows], 0),
            ],
            fmt=pct,
            notes=[f"{ch.integer(r['loans'])} créditos · IC 95 % {r['ci']}" for r in seg_rows],
            summary=f"Morosidad observada y PD estimada por {title.lower()}. Los números están en la tabla de datos.",
        ),
        "segments_table": ch.Table(
            f"Morosidad por {title.lower()}",
            [ch.Column("segment", title, numeric=False), *_DQ_COLUMNS],
            seg_rows,
            csv=f"/v1/analytics/delinquency?by={by}&format=csv",
        ),
    }


def monitoring_tile(ctx: TileContext) -> dict[str, Any]:
    """PSI of the period's applicants against the training population of the model in service, per input and
    for the score, with its bands."""
    from api.services import monitoring

    artifact = monitoring.served_artifact(ctx.app_state) if ctx.app_state is not None else None
    data = monitoring.population_psi(ctx.analytics, artifact, ctx.filters)
    rows = [r for r in data["rows"] if r["psi"] is not None]
    bands = data["bands"]
    return {
        **data,
        "chart": ch.hbar(
            [r["label_es"] for r in rows],
            [ch.Series("PSI", [r["psi"] for r in rows], 0)],
            fmt=ch.decimal(3),
            notes=[f"{r['label']}" for r in rows],
            # PSI has no upper bound: the axis stops at 1 (or at 0.4 when every value is small), so the
            # band lines stay readable; a longer bar fills the track and shows its number
            top=max(0.4, min(1.0, max((r["psi"] for r in rows), default=0) * 1.1)),
            markers=[
                ch.Marker(bands["moderate_from"], f"{bands['moderate_from']:.2f}: vigilar"),
                ch.Marker(bands["significant_from"], f"{bands['significant_from']:.2f}: cambio significativo"),
            ],
            bar_classes=[[f"banda-{r['band']}-barra" for r in rows]],
            summary=f"PSI de {len(rows)} variables frente a la población de entrenamiento; "
            f"{len(data['shifted'])} con cambio significativo. Los números están en la tabla de datos.",
        ),
        "table": ch.Table(
            "PSI por variable",
            [
                ch.Column("label_es", "Variable", numeric=False),
                ch.Column("psi", "PSI", ch.decimal(3)),
                ch.Column("label", "Banda", numeric=False),
                ch.Column("applicants", "Evaluaciones", ch.integer),
            ],
            data["rows"],
            csv=ctx.api("monitoring/psi"),
        ),
    }


STRATEGY_ROWS = 15  # the page lists the best segments; the CSV has them all
RANK_LABELS = {
    "applicants": "tamaño",
    "approval_rate": "aprobación",
    "review_rate": "casos en revisión",
    "mean_pd": "PD media",
    "expected_loss_per_applicant": "pérdida esperada por solicitante",
}


def strategies_tile(ctx: TileContext) -> dict[str, Any]:
    """Ranked segments with size, approval, mean PD, expected loss per applicant and the suggested action."""
    from api.services.strategies import ACTION_LABELS, strategies

    data = strategies(ctx.analytics, ctx.policy, ctx.filters)
    dims = data["dimensions"]
    rows = []
    for s in data["segments"][:STRATEGY_ROWS]:
        rows.append(
            {
                "rank": s["rank"],
                **{d: ctx.code_label(d, s[d]) for d in dims},
                "applicants": s["applicants"],
                "approval_rate": s["approval_rate"],
                "mean_pd": s["mean_pd"],
                "el": s["expected_loss_per_applicant"],
                "bank": ctx.code_label("recommended_bank", s["top_bank"]),
                "action": ACTION_LABELS.get(s["suggestion"]["action"], "—"),
                "suggestion": s["suggestion"]["label"],
            }
        )
    suggested = sum(1 for s in data["segments"] if s["suggestion"]["action"])
    return {
        **data,
        "dimension_labels": [SEGMENT_LABELS[d][0].lower() for d in dims],
        "rank_label": RANK_LABELS.get(data["rank_by"], data["rank_by"]),
        "count": len(data["segments"]),
        "suggested": suggested,
        "table": ch.Table(
            "Segmentos ordenados y acción sugerida",
            [
                ch.Column("rank", "#", ch.integer),
                *[ch.Column(d, SEGMENT_LABELS[d][0], numeric=False) for d in dims],
                ch.Column("applicants", "Evaluaciones", ch.integer),
                ch.Column("approval_rate", "Aprobación", ch.percent()),
                ch.Column("mean_pd", "PD media", ch.percent()),
                ch.Column("el", "Pérdida esperada por solicitante", ch.money),
                ch.Column("bank", "Banco más recomendado", numeric=False),
                ch.Column("suggestion", "Acción sugerida", numeric=False),
            ],
            rows,
            csv=ctx.api("strategies"),
        ),
    }


def cases_tile(ctx: TileContext) -> dict[str, Any]:
    """The advisors' work in the period (issue #14): cases per reason, time to first answer and to resolution
    against the policy's target, and how cases ended."""
    assert ctx.filters.start is not None and ctx.filters.end is not None
    target = ctx.policy.escalation.first_answer_minutes
    data = case_stats(ctx.storage.engine, ctx.filters.start, ctx.filters.end, target)
    reasons = data["reasons"]
    outcomes = [{**o, "label": texts.OUTCOME_LABELS.get(o["outcome"], "sin resultado")} for o in data["outcomes"]]
    first, resolved = data["first_answer"], data["resolution"]
    minutes = ch.decimal(1)
    return {
        **data,
        "chart": ch.hbar(
            [reason_label(r["reason"]) for r in reasons],
            [ch.Series("casos", [r["cases"] for r in reasons])],
            summary=f"{ch.integer(data['cases'])} casos con asesores en el periodo, por motivo (un caso puede tener "
            "varios). Los números están en la tabla de datos.",
        ),
        "times": ch.Table(
            "Minutos desde que se abre el caso",
            [
                ch.Column("measure", "Medida", numeric=False),
                ch.Column("cases", "Casos", ch.integer),
                ch.Column("median_minutes", "Mediana (min)", minutes),
                ch.Column("p90_minutes", "p90 (min)", minutes),
            ],
            [
                {"measure": "Primera respuesta", **first},
                {"measure": "Resolución", **resolved},
            ],
            csv=ctx.api("cases", table="times"),
        ),
        "outcomes_table": ch.Table(
            "Cómo terminaron los casos resueltos",
            [ch.Column("label", "Resultado", numeric=False), ch.Column("cases", "Casos", ch.integer)],
            outcomes,
            csv=ctx.api("cases", table="outcomes"),
        ),
        "reasons_table": ch.Table(
            "Casos por motivo",
            [ch.Column("label", "Motivo", numeric=False), ch.Column("cases", "Casos", ch.integer)],
            [{**r, "label": reason_label(r["reason"])} for r in reasons],
            csv=ctx.api("cases", table="reasons"),
        ),
        "within": ch.percent(0)(first["within_target_rate"]) if first["within_target_rate"] is not None else "—",
    }


def policy_lab_tile(ctx: TileContext) -> dict[str, Any]:
    return last_replay_tile(ctx.storage, ctx.settings)


TILES: list[Tile] = [
    Tile(
        "embudo", "Embudo, abandono y tiempo por pregunta", "tiles/funnel.html", funnel_tile, "funnel/steps", wide=True
    ),
    Tile("decisiones", "Decisiones por día", "tiles/chart.html", decisions_tile, "decisions"),
    Tile("bancos", "Bancos recomendados", "tiles/chart.html", banks_tile, "banks"),
    Tile(
        "pd", "Distribución de la probabilidad de incumplimiento (PD)", "tiles/chart.html", pd_tile, "distributions/pd"
    ),
    Tile("perdida", "Pérdida esperada por banco recomendado", "tiles/chart.html", loss_tile, "expected-loss"),
    Tile("perfiles", "Perfiles de solicitantes", "tiles/profiles.html", profiles_tile, "segments"),
    Tile(
        "monitoreo",
        "Monitoreo del modelo: estabilidad de la población (PSI)",
        "tiles/monitoring.html",
        monitoring_tile,
        "monitoring/psi",
    ),
    Tile(
        "morosidad",
        "Morosidad observada y PD estimada",
        "tiles/delinquency.html",
        delinquency_tile,
        "delinquency",
        wide=True,
    ),
    Tile("estrategias", "Estrategias por segmento", "tiles/strategies.html", strategies_tile, "strategies", wide=True),
    Tile("casos", "Casos con asesores", "tiles/cases.html", cases_tile, "cases", wide=True),
    Tile("ultimo-replay", "Último replay de política", "_policy_lab_tile.html", policy_lab_tile, "/v1/policy/replays"),
]


# ------------------------------------------------------------------------------------------------ page
def period_filters(start: date, end: date) -> Filters:
    return Filters(
        start=datetime.combine(start, time.min, UTC), end=datetime.combine(end + timedelta(days=1), time.min, UTC)
    )


def kpis(ctx: TileContext) -> dict[str, Any]:
    f = ctx.filters
    decisions = ctx.analytics.decisions(f)
    requests = period_counts.financing_requests(ctx.storage.engine, f.start, f.end)
    return {
        "assessments": decisions["total"],
        "financing_requests": requests,
        "approval_rate": decisions["approval_rate"] or 0.0,
        "mean_pd": ctx.analytics.pd_distribution(f, bins=1)["mean"] or 0.0,
        "expected_loss": ctx.analytics.expected_loss(f)["expected_loss"],
    }


def dashboard_data(
    storage: Storage,
    settings: Settings,
    start: date,
    end: date,
    params: Mapping[str, str] | None = None,
    app_state: Any = None,
) -> dict[str, Any]:
    policy = policy_for(settings)
    ctx = TileContext(
        storage=storage,
        settings=settings,
        policy=policy,
        analytics=Analytics(storage.engine, policy),
        filters=period_filters(start, end),
        start=start,
        end=end,
        params=dict(params or {}),
        app_state=app_state,
    )
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "totals": kpis(ctx),
        "tiles": [{"tile": t, "data": t.build(ctx)} for t in TILES],
        "params": ctx.params,
    }
