"""`asesor train`: model training for analysts. One function per sub-command; the work is in engine/training."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Entrenamiento de modelos de PD y reportes para analistas.", no_args_is_help=True)

PolicyOption = Annotated[
    Path | None, typer.Option("--policy", help="Policy file (default: ASESOR_POLICY or the shipped one).")
]


def _fail(error: str, message: str) -> None:
    sys.stderr.write(json.dumps({"error": error, "message": message}, ensure_ascii=False) + "\n")
    raise typer.Exit(2)


@app.command("applicant")
def applicant(
    policy_file: PolicyOption = None,
    model_dir: Annotated[
        Path | None, typer.Option("--model-dir", help="Artifact directory (default: ASESOR_MODEL_DIR or var/models).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="German Credit CSV (default: the copy shipped in engine/pd/data).")
    ] = None,
) -> None:
    """Entrena el modelo de PD del solicitante (German Credit), lo recalibra y escribe el artefacto versionado."""
    from core.config import get_settings
    from engine.policy import PolicyError, load_policy
    from engine.training.applicant import DATA_PATH, train_applicant

    try:
        policy = load_policy(policy_file or get_settings().policy_file)
    except PolicyError as exc:
        _fail("invalid_policy", str(exc))
    directory = model_dir or get_settings().resolved_model_dir
    source = data or DATA_PATH
    if not source.is_file():
        _fail("data_not_found", f"no such file: {source}")
    path, artifact = train_applicant(directory, policy, source)
    out = {
        "model_version": artifact["model_version"],
        "path": str(path),
        "model_card": str(path / "MODEL_CARD.md"),
        "policy_version": artifact["policy_version"],
        "data_sha256": artifact["data"]["sha256"],
        "metrics": artifact["metrics"],
        "at_bound": artifact["at_bound"],
    }
    sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
