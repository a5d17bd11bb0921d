"""`asesor policy`: check a policy file before it is used, and show what is in service."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.errors import policy_failure
from engine.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy

app = typer.Typer(help="Política de crédito: validar y consultar el archivo versionado.", no_args_is_help=True)


def _describe(path: Path | None) -> dict:
    policy = load_policy(path)
    return {
        "file": str(path or DEFAULT_POLICY_PATH),
        "version": policy.version,
        "name": policy.meta.name,
        "content_hash": policy.content_hash,
        "banks": list(policy.bank_codes),
        "low_score_threshold": policy.bank_fit.low_score_threshold,
    }


@app.command("check")
def check(
    file: Annotated[
        Path | None, typer.Argument(help="Policy file (default: ASESOR_POLICY or the shipped one).")
    ] = None,
) -> None:
    """Valida un archivo de política; los errores nombran la clave y el problema."""
    try:
        info = _describe(file)
    except PolicyError as exc:
        policy_failure(exc, "file" if file is not None else None)
    sys.stdout.write(json.dumps({"valid": True, **info}, ensure_ascii=False) + "\n")


@app.command("path")
def path() -> None:
    """Imprime la ruta de la política incluida (para copiarla y editarla)."""
    sys.stdout.write(str(DEFAULT_POLICY_PATH) + "\n")
