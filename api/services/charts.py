"""Chart specs for the dashboard's server-rendered charts (api/templates/_charts.html): plain HTML and CSS,
no chart library.

Every label is real text at the page's font size, so nothing is clipped or shrunk at 390 px, and every chart
has its table (`table()`): the chart is an image with a one-line summary for screen readers (`role="img"`),
the table under it holds the numbers.

    hbar(labels, [Series("evaluaciones", values)], fmt=integer)            horizontal bars, one row per label
    columns(categories, [Series(...), ...], stacked=True, fmt=integer)     vertical columns over a sequence
    table([Column("bank", "Banco"), Column("n", "Evaluaciones", integer)], rows)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

from dialogs import parsing

Fmt = Callable[[Any], str]
MONTHS = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic")
MAX_X_LABELS = 5  # what fits under a 330 px plot at the page's font size


# ---------------------------------------------------------------------------------------------- formats
def integer(v: Any) -> str:
    return "—" if v is None else f"{v:,.0f}"


def decimal(digits: int) -> Fmt:
    return lambda v: "—" if v is None else f"{v:,.{digits}f}"


def percent(digits: int = 1) -> Fmt:
    """A share (0.123) as '12.3 %'."""
    return lambda v: "—" if v is None else f"{v * 100:,.{digits}f} %"


# pesos in the format of every other surface (dialogs/parsing.py), whole: the charts show estimates and totals
money: Fmt = partial(parsing.money, whole=True)


def seconds(v: Any) -> str:
    """Durations as people read them: '45 s', '3 min 20 s', '2 h 05 min'."""
    if v is None:
        return "—"
    s = round(float(v))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def day_label(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.day:02d} {MONTHS[d.month - 1]}"


def month_label(iso: str | None) -> str:
    if not iso:
        return "sin fecha"
    d = date.fromisoformat(iso)
    return f"{MONTHS[d.month - 1]} {d.year}"


# ------------------------------------------------------------------------------------------------ specs
@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | int | None]
    color: int = 0  # index into the palette of _charts.html (s0 … s5)


@dataclass(frozen=True)
class Marker:
    """A vertical reference line on horizontal bars (e.g. PSI 0.10 and 0.25)."""

    value: float
    label: str


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    fmt: Fmt = str
    numeric: bool = True


def nice_ticks(value: float, integer: bool = False) -> tuple[float, float]:
    """(axis end, tick step) for 4–5 ticks: steps of 1, 2, 2.5 or 5 times a power of ten (whole numbers only
    for counts), the end the first multiple of the step at or above `value`."""
    if value <= 0:
        return (4.0, 1.0) if integer else (1.0, 0.25)
    raw = value / 4
    base = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        step = m * base
        if integer and (step < 1 or step != int(step)):
            continue
        if step >= raw:
            break
    return math.ceil(value / step - 1e-9) * step, step


def _pct(v: float | int | None, top: float) -> float:
    # a value beyond the axis end fills the track (its number is written beside it all the same)
    return 0.0 if v is None or top <= 0 else round(min(max(float(v), 0.0) / top, 1.0) * 100, 2)


def hbar(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    fmt: Fmt = integer,
    summary: str,
    notes: Sequence[str | None] | None = None,
    markers: Sequence[Marker] = (),
    top: float | None = None,
    bar_classes: Sequence[Sequence[str | None]] | None = None,
) -> dict[str, Any]:
    """Horizontal bars: one row per label, one bar per series; the value is written after each bar."""
    values = [v for s in series for v in s.values if v is not None]
    # the longest bar spans the track (markers, if any, stay inside it); the values are written beside
    top = top or max([*values, *(m.value * 1.1 for m in markers)], default=0) or 1.0
    rows = []
    for i, label in enumerate(labels):
        bars = [
            {
                "series": s.color,
                "name": s.name,
                "pct": _pct(s.values[i], top),
                "text": fmt(s.values[i]),
                "cls": bar_classes[j][i] if bar_classes else None,
            }
            for j, s in enumerate(series)
        ]
        rows.append({"label": label, "bars": bars, "note": notes[i] if notes else None})
    return {
        "kind": "hbar",
        "summary": summary,
        "rows": rows,
        "legend": [{"name": s.name, "series": s.color} for s in series] if len(series) > 1 else [],
        "markers": [{"pct": _pct(m.value, top), "label": m.label} for m in markers],
        "empty": not values,
    }


def columns(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    stacked: bool,
    fmt: Fmt = integer,
    summary: str,
    x_label: Callable[[str], str] = str,
) -> dict[str, Any]:
    """Vertical columns over an ordered sequence (days, months, PD bins); stacked or side by side."""
    n = len(categories)
    if stacked:
        totals = [sum(float(s.values[i] or 0) for s in series) for i in range(n)]
    else:
        totals = [max(float(s.values[i] or 0) for s in series) for i in range(n)] if series else []
    top, step = nice_ticks(max(totals, default=0), integer=fmt is integer)
    ticks = [{"pct": round(k * step / top * 100, 2), "text": fmt(k * step)} for k in range(round(top / step) + 1)]
    every = max(1, math.ceil(n / MAX_X_LABELS))
    cols = []
    for i, cat in enumerate(categories):
        segs = [
            {"series": s.color, "name": s.name, "pct": _pct(s.values[i], top), "text": fmt(s.values[i])} for s in series
        ]
        cols.append({"label": x_label(cat), "show": i % every == 0, "segments": segs})
    return {
        "kind": "columns",
        "summary": summary,
        "stacked": stacked,
        "columns": cols,
        "n": n,
        "ticks": ticks,
        "legend": [{"name": s.name, "series": s.color} for s in series] if len(series) > 1 else [],
        "empty": not any(totals),
    }


@dataclass
class Table:
    caption: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    csv: str | None = None  # the API route with format=csv that gives the same table

    def cells(self) -> list[list[dict[str, Any]]]:
        return [
            [{"text": c.fmt(r.get(c.key)), "numeric": c.numeric, "raw": r.get(c.key)} for c in self.columns]
            for r in self.rows
        ]
