"""A replay's outputs: the changed rows as CSV, the report as HTML (Spanish, self-contained) and a short text."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from dialogs.parsing import money
from lab.tally import CHANGE_COLUMNS

TEMPLATES = Path(__file__).resolve().parent / "templates"
HTML_CHANGES_SHOWN = 200  # the HTML lists the first rows; the CSV has all of them

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))


def _num(x: float | str | None) -> float | None:
    """Figures come as numbers from a report and as text from a stored CSV; '' is no value."""
    if x is None or x == "":
        return None
    return float(x)


def _pct(x: float | str | None) -> str:
    v = _num(x)
    return "—" if v is None else f"{v * 100:.1f} %"


def _pp(x: float | str | None) -> str:
    v = _num(x)
    return "—" if v is None else f"{v * 100:+.1f} pp"


def _money(x: float | str | None) -> str:
    return money(_num(x), whole=True)  # the format of every surface (dialogs/parsing.py), to the peso


_env.filters.update(pct=_pct, pp=_pp, money=_money)


def changes_csv(changes: list[dict[str, Any]]) -> str:
    """The assessments whose decision changes: ids, pseudonymous keys and figures only, no personal data."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CHANGE_COLUMNS), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(changes)
    return buf.getvalue()


def render_html(report: dict[str, Any], changes: list[dict[str, Any]], *, csv_href: str | None = None) -> str:
    return _env.get_template("replay.html.j2").render(
        r=report, changes=changes[:HTML_CHANGES_SHOWN], shown=min(len(changes), HTML_CHANGES_SHOWN), csv_href=csv_href
    )


def text_summary(report: dict[str, Any]) -> str:
    s, p = report["stored"], report["replayed_figures"]
    lines = [
        f"Replay con la política {report['policy']['version']} ({report['policy']['file']}): "
        f"{report['replayed']:,} de {report['assessments']:,} evaluaciones re-evaluadas.",
        f"  aprobación          {_pct(s['approval_rate']):>10} → {_pct(p['approval_rate']):>10}",
        f"  pérdida esperada    {_money(s['expected_loss']):>10} → {_money(p['expected_loss']):>10}",
        f"  LGD (ponderada)     {_pct(s['lgd']):>10} → {_pct(p['lgd']):>10}",
        f"  cambian de decisión {report['changed']:,}",
    ]
    if report["not_replayable"]:
        lines.append(f"  no re-evaluables    {sum(report['not_replayable'].values()):,} {report['not_replayable']}")
    run = report["run"]
    lines.append(f"  {run['seconds']:.1f} s, {run['assessments_per_second'] or 0:,.0f} evaluaciones/s")
    return "\n".join(lines) + "\n"
