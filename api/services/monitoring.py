"""Drift of the applicant population: PSI against the training population of the model in service (issue 15).

One computation for the dashboard tile, `GET /v1/analytics/monitoring/psi` and the `/metrics` gauges: the
reference (bins and shares of every feature group and of the score) comes from the served artifact
(`reference`, written at training), the applicants' counts per bin from storage.analytics
(`population_counts`, over what each assessment recorded) and PSI with its band from
engine.training.monitoring (`psi_rows`). deploy/prometheus/alerts.yml alerts on the gauges.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from engine.training.monitoring import PSI_SHIFT, PSI_WATCH, psi_rows
from storage.analytics import Analytics, Filters

log = logging.getLogger("asesor.api.monitoring")

BAND_ORDER = {"stable": 0, "moderate": 1, "significant": 2}
# the variables' names on the page (the model's feature groups, engine.pd.features.GROUPS)
VARIABLE_LABELS = {
    "credit_history": "Historial crediticio",
    "employment_since": "Antigüedad laboral",
    "existing_credits": "Créditos vigentes",
    "other_installment_plans": "Otros créditos a plazos",
    "installment_rate": "Carga del pago en el ingreso",
    "credit_amount": "Monto del crédito",
    "duration": "Plazo",
    "age": "Edad",
    "score": "Puntaje crediticio",
}


def served_artifact(app_state: Any) -> dict[str, Any] | None:
    """The artifact of the applicant PD model the engine serves."""
    from engine.pd.registry import ModelUnavailable

    try:
        model = getattr(app_state.get_assessor(), "pd_model", None)
    except ModelUnavailable:  # refused (logged by core.model_reload): no model, no drift to show
        return None
    return getattr(model, "artifact", None)


def population_psi(analytics: Analytics, artifact: dict[str, Any] | None, f: Filters) -> dict[str, Any]:
    """PSI per variable of the period's applicants (those the served model assessed) against its training rows.
    `status`: ok, no_applicants (nobody in the period) or no_reference (an artifact trained before it kept
    its training population: retrain it)."""
    version = None if artifact is None else artifact.get("model_version")
    out: dict[str, Any] = {
        "model_version": version,
        "bands": {"moderate_from": PSI_WATCH, "significant_from": PSI_SHIFT},
        "assessments": 0,
        "without_features": 0,
        "rows": [],
        "worst": None,
        "shifted": [],
        "status": "no_reference",
    }
    reference = None if artifact is None else artifact.get("reference")
    if not reference:
        return out
    counts = analytics.population_counts(reference, f, model_version=version)
    rows = [
        {**r, "label_es": VARIABLE_LABELS.get(r["variable"], r["variable"])}
        for r in psi_rows(reference, counts["counts"])
    ]
    bands = [r["band"] for r in rows if r["band"]]
    out.update(
        assessments=counts["assessments"],
        without_features=counts["without_features"],
        rows=rows,
        worst=max(bands, key=BAND_ORDER.__getitem__) if bands else None,
        shifted=[r["variable"] for r in rows if r["band"] == "significant"],
        status="ok" if counts["assessments"] else "no_applicants",
    )
    return out


def window_filters(days: int, now: datetime | None = None) -> Filters:
    now = now or datetime.now(UTC)
    return Filters(start=now - timedelta(days=days), end=now)


class PsiCollector(Collector):
    """`asesor_model_psi{model_version, variable}` and `asesor_model_psi_applicants{model_version}` on /metrics:
    PSI of the last `window_days` of applicants, computed at a scrape at most every `cache_seconds` (the query
    reads the period's assessments; a scrape every 15 s must not run it each time). A failure leaves the
    gauges out of that scrape (the alert rule then stays as it was) and is logged, never a 500 on /metrics."""

    def __init__(self, compute: Callable[[], dict[str, Any]], cache_seconds: float, window_days: int) -> None:
        self._compute, self._ttl, self._window = compute, cache_seconds, window_days
        self._lock = threading.Lock()
        self._value: dict[str, Any] | None = None
        self._at = -float("inf")

    def current(self) -> dict[str, Any] | None:
        with self._lock:
            if time.monotonic() - self._at >= self._ttl:
                try:
                    self._value = self._compute()
                except Exception:
                    log.warning("PSI for /metrics could not be computed", exc_info=True)
                    self._value = None
                self._at = time.monotonic()
            return self._value

    def collect(self) -> Iterator[GaugeMetricFamily]:
        data = self.current()
        if not data or not data.get("model_version") or data["status"] == "no_reference":
            return
        psi = GaugeMetricFamily(
            "asesor_model_psi",
            f"PSI of the applicants of the last {self._window} days against the training population of the model "
            "in service, per model input (variable) and for the credit score (variable=score)",
            labels=["model_version", "variable"],
        )
        for row in data["rows"]:
            if row["psi"] is not None:
                psi.add_metric([data["model_version"], row["variable"]], row["psi"])
        yield psi
        applicants = GaugeMetricFamily(
            "asesor_model_psi_applicants",
            f"Assessments of the last {self._window} days behind asesor_model_psi",
            labels=["model_version"],
        )
        applicants.add_metric([data["model_version"]], data["assessments"])
        yield applicants
