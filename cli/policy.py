"""`asesor policy`: check a policy file before it is used, and show what is in service."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.errors import policy_failure
from core import copy_es as copy
from engine.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy

app = typer.Typer(help=copy.POLICY, no_args_is_help=True)


def _settings_policy(path: Path | None) -> Path | None:
    """The file given, else the one ASESOR_POLICY names (core.config.Settings), else None: the shipped one."""
    from core.config import get_settings

    return path or get_settings().policy_file


def _describe(path: Path | None) -> dict:
    from engine.simulate.reach import unreachable_rules

    path = _settings_policy(path)
    policy = load_policy(path)
    return {
        "file": str(path or DEFAULT_POLICY_PATH),
        "version": policy.version,
        "name": policy.meta.name,
        "content_hash": policy.content_hash,
        "banks": list(policy.bank_codes),
        "low_score_threshold": policy.bank_fit.low_score_threshold,
        # rules the policy's own numbers put out of reach (e.g. R3 under the seed's membership functions)
        "unreachable_rules": [u.model_dump() for u in unreachable_rules(policy)],
    }


@app.command("check", help=copy.POLICY_CHECK)
def check(
    file: Annotated[Path | None, typer.Argument(help=copy.POLICY_FILE)] = None,
) -> None:
    """Valida un archivo de política; los errores nombran la clave y el problema."""
    try:
        info = _describe(file)
    except PolicyError as exc:
        policy_failure(exc, "file" if file is not None else None)
    sys.stdout.write(json.dumps({"valid": True, **info}, ensure_ascii=False) + "\n")


@app.command("path", help=copy.POLICY_PATH)
def path() -> None:
    """Imprime la ruta de la política incluida (para copiarla y editarla)."""
    sys.stdout.write(str(DEFAULT_POLICY_PATH) + "\n")


@app.command("simulate", help=copy.POLICY_SIMULATE)
def simulate_command(
    policy_file: Annotated[Path | None, typer.Option("--policy", help=copy.POLICY_FILE)] = None,
    as_json: Annotated[bool, typer.Option("--json", help=copy.POLICY_SIMULATE_JSON)] = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help=copy.NO_PROGRESS)] = False,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help=copy.WORKERS_ALL_CORES)] = None,
) -> None:
    """Simula la política sobre todas las respuestas × la cuadrícula de créditos.

    Sale con 0 si se cumplen todos los invariantes.

    Sale con 1 si alguno falla: el informe va en stdout ("ok": false) y stderr queda vacío; no es un error.

    Los errores traen su JSON en stderr: 2 o 3 si la política no es válida, 4 si falta una dependencia.

    Un error inesperado también sale con 1, pero siempre con su JSON en stderr.
    """
    from core.config import get_settings
    from engine.simulate import simulate, terminal_progress

    try:
        policy = load_policy(_settings_policy(policy_file))
    except PolicyError as exc:
        policy_failure(exc, "--policy" if policy_file is not None else None)
    model_dir = get_settings().resolved_model_dir
    report = simulate(
        policy, model_dir=model_dir, workers=workers, progress=None if no_progress else terminal_progress()
    )
    body = report.model_dump(mode="json")
    if as_json:
        sys.stdout.write(json.dumps(body, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(_summary(body) + "\n")
    if not report.ok:
        raise typer.Exit(1)


def _summary(r: dict) -> str:
    """A few lines for a person at a terminal (the JSON has everything)."""
    lines = [
        f"policy {r['policy_version']} ({r['policy_hash'][:12]}), model {r['model_version']}, "
        f"{r['space']['answer_combinations']:,} answer combinations x {r['space']['grid_points']:,} loans = "
        f"{r['space']['points']:,} points in {r['seconds']:.1f} s on {r['workers']} processes",
        "decisions: " + ", ".join(f"{k} {v['share']:.2%}" for k, v in r["decisions"].items()),
    ]
    if r["rate"]:
        q = r["rate"]
        lines.append(f"rate (approved): {q['min']:.2f}–{q['max']:.2f} %, median {q['p50']:.2f}, sd {q['sd']:.2f}")
    q = r["score"]
    lines.append(f"score: {q['min']:.0f}–{q['max']:.0f}, median {q['p50']:.0f}; fuzzy terms {r['score_terms']}")
    lines.append("rules fired: " + ", ".join(f"{x['rule']} {x['share']:.2%}" for x in r["rules"]))
    lines.append(f"dead rules: {', '.join(r['dead_rules']) or 'none'}")
    for u in r["unreachable_rules"]:
        lines.append(f"unreachable {u['rule']}: {u['reason']}")
    for inv in r["invariants"]:
        lines.append(f"{'held  ' if inv['held'] else 'BROKEN'} {inv['name']}: {inv['detail']}")
        if inv["counterexample"]:
            lines.append(f"       counter-example: {json.dumps(inv['counterexample'], ensure_ascii=False)}")
    return "\n".join(lines)
