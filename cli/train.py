"""`asesor train`: model training for analysts. One function per sub-command; the work is in engine/training."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from cli.errors import fail, policy_failure
from core import copy_es as copy

app = typer.Typer(help=copy.TRAIN, no_args_is_help=True)


class PsiBand(StrEnum):
    """The PSI bands `--fail-on` names (engine.training.monitoring.BANDS)."""

    moderate = "moderate"
    significant = "significant"


PolicyOption = Annotated[Path | None, typer.Option("--policy", help=copy.POLICY_FILE)]


def _fail(error: str, message: str) -> NoReturn:
    fail(error, message)


@app.command("applicant", help=copy.TRAIN_APPLICANT)
def applicant(
    policy_file: PolicyOption = None,
    model_dir: Annotated[Path | None, typer.Option("--model-dir", help=copy.TRAIN_MODEL_DIR)] = None,
    data: Annotated[Path | None, typer.Option("--data", help=copy.TRAIN_APPLICANT_DATA)] = None,
    from_db: Annotated[bool, typer.Option("--from-db", help=copy.TRAIN_APPLICANT_FROM_DB)] = False,
    outcomes_source: Annotated[str, typer.Option("--source", help=copy.TRAIN_APPLICANT_SOURCE)] = "german",
    database_url: Annotated[str | None, typer.Option("--url", help=copy.TRAIN_APPLICANT_URL)] = None,
) -> None:
    """Entrena el modelo de PD del solicitante, lo recalibra y escribe una versión nueva (no la pone en servicio)."""
    from core.config import get_settings
    from engine.policy import PolicyError, load_policy
    from engine.training.applicant import DATA_PATH, train_applicant

    try:
        policy = load_policy(policy_file or get_settings().policy_file)
    except PolicyError as exc:
        policy_failure(exc, "--policy" if policy_file else None)
    directory = model_dir or get_settings().resolved_model_dir
    if from_db:  # adapter code (issue 7): storage -> CSV snapshot under var/training_data -> the same training
        from cli.train_from_db import OutcomesError, export_outcomes_csv

        if data is not None:
            _fail("invalid_options", copy.ERR_EXCLUSIVE.format(first="--data", second="--from-db"))
        try:
            data = export_outcomes_csv(outcomes_source, get_settings().data_dir / "training_data", database_url)
        except OutcomesError as exc:
            _fail("no_outcomes", str(exc))
    source = data or DATA_PATH
    if not source.is_file():
        _fail("data_not_found", copy.ERR_NO_SUCH_FILE.format(path=source))
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
    from engine.pd.registry import current_version

    # training never changes the model in service (except on an empty registry): say which one serves
    out["in_service"] = current_version(directory, artifact["name"])
    if out["in_service"] != artifact["model_version"]:
        out["to_promote"] = (
            f"asesor train promote {artifact['model_version']} --name {artifact['name']} --reason «…»"
            " (after asesor train compare)"
        )
    sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=2) + "\n")


@app.command("card", help=copy.TRAIN_CARD)
def card(
    policy_file: PolicyOption = None,
    model_dir: Annotated[Path | None, typer.Option("--model-dir", help=copy.TRAIN_MODEL_DIR)] = None,
    data: Annotated[Path | None, typer.Option("--data", help=copy.TRAIN_APPLICANT_DATA)] = None,
    out: Annotated[Path | None, typer.Option("--out", help=copy.TRAIN_REPORT_OUT)] = None,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help=copy.TRAIN_CARD_REPEATS)] = 10,
    folds: Annotated[int, typer.Option("--folds", min=2, help=copy.TRAIN_CARD_FOLDS)] = 5,
    candidates: Annotated[
        str, typer.Option("--candidates", help=copy.TRAIN_CARD_CANDIDATES)
    ] = "served,logit,resampled,scorecard,gbm",
    rates: Annotated[str, typer.Option("--rates", help=copy.TRAIN_CARD_RATES)] = "0.03,0.05,0.08,0.12,0.20",
) -> None:
    """Ficha del modelo del solicitante: CV repetida, calibración, supuesto de cartera y candidatos (MD + JSON)."""
    from cli.train_analyst import run_card

    run_card(
        policy_file=policy_file,
        model_dir=model_dir,
        data=data,
        out=out,
        repeats=repeats,
        folds=folds,
        candidates=candidates,
        rates=rates,
    )


# -- analysts' study, champion/challenger, promotion and monitoring (issue 7; implementation in cli/train_analyst.py)
DatasetOption = Annotated[str | None, typer.Option("--dataset", help=copy.TRAIN_DATASET)]
DatasetFileOption = Annotated[Path | None, typer.Option("--dataset-file", help=copy.TRAIN_DATASET_FILE)]
ModelDirOption = Annotated[Path | None, typer.Option("--model-dir", help=copy.TRAIN_MODEL_DIR)]
NameOption = Annotated[str, typer.Option("--name", help=copy.TRAIN_NAME)]
CohortOption = Annotated[Path | None, typer.Option("--cohort", help=copy.TRAIN_COHORT)]


@app.command("report", help=copy.TRAIN_REPORT)
def report(
    dataset: DatasetOption = None,
    dataset_file: DatasetFileOption = None,
    data: Annotated[Path | None, typer.Option("--data", help=copy.TRAIN_REPORT_DATA)] = None,
    out: Annotated[Path | None, typer.Option("--out", help=copy.TRAIN_REPORT_OUT)] = None,
    seed: Annotated[int, typer.Option("--seed", help=copy.TRAIN_REPORT_SEED)] = 42,
    valid_share: Annotated[float, typer.Option("--valid-share", help=copy.TRAIN_REPORT_VALID_SHARE)] = 0.4,
    strategies: Annotated[
        str, typer.Option("--strategies", help=copy.TRAIN_REPORT_STRATEGIES)
    ] = "none,over,under,both,smote,smote_dmwr",
    policy_file: PolicyOption = None,
    model_dir: ModelDirOption = None,
    save_model: Annotated[bool, typer.Option("--save-model/--no-save-model", help=copy.TRAIN_REPORT_SAVE_MODEL)] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help=copy.PROGRESS)] = True,
) -> None:
    """Reproduce el estudio de la semilla 001: informe HTML autocontenido + resumen Markdown + artefacto."""
    from cli.train_analyst import run_report

    run_report(
        dataset=dataset,
        dataset_file=dataset_file,
        data=data,
        out=out,
        seed=seed,
        valid_share=valid_share,
        strategies=strategies,
        policy_file=policy_file,
        model_dir=model_dir,
        save_model=save_model,
        progress=progress,
    )


@app.command("compare", help=copy.TRAIN_COMPARE)
def compare(
    name: NameOption,
    challenger: Annotated[str, typer.Option("--challenger", help=copy.TRAIN_COMPARE_CHALLENGER)],
    champion: Annotated[str | None, typer.Option("--champion", help=copy.VERSION_IN_SERVICE)] = None,
    dataset: DatasetOption = None,
    dataset_file: DatasetFileOption = None,
    cohort: CohortOption = None,
    whole: Annotated[bool, typer.Option("--whole", help=copy.TRAIN_COMPARE_WHOLE)] = False,
    policy_file: PolicyOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Campeón contra retador en la misma cohorte: AUC, KS, PSI y tasa de aprobación en los cortes de la política."""
    from cli.train_analyst import run_compare

    run_compare(
        name=name,
        challenger=challenger,
        champion=champion,
        dataset=dataset,
        dataset_file=dataset_file,
        cohort=cohort,
        whole=whole,
        policy_file=policy_file,
        model_dir=model_dir,
    )


@app.command("promote", help=copy.TRAIN_PROMOTE)
def promote(
    version: Annotated[str, typer.Argument(help=copy.TRAIN_PROMOTE_VERSION)],
    name: NameOption,
    reason: Annotated[str, typer.Option("--reason", help=copy.TRAIN_PROMOTE_REASON)] = "",
    by: Annotated[str | None, typer.Option("--by", help=copy.TRAIN_PROMOTE_BY)] = None,
    model_dir: ModelDirOption = None,
    policy_file: PolicyOption = None,
) -> None:
    """Pone en servicio una versión: lo único que cambia `current`; queda en promotions.jsonl (quién, cuándo,
    por qué, versión anterior y la comparación citada). Los procesos en marcha la toman sin reiniciar."""
    from cli.train_analyst import run_promote

    run_promote(name=name, version=version, reason=reason, by=by, model_dir=model_dir, policy_file=policy_file)


@app.command("psi", help=copy.TRAIN_PSI)
def psi(
    name: NameOption,
    version: Annotated[str | None, typer.Option("--version", help=copy.VERSION_IN_SERVICE)] = None,
    dataset: DatasetOption = None,
    dataset_file: DatasetFileOption = None,
    cohort: CohortOption = None,
    policy_file: PolicyOption = None,
    model_dir: ModelDirOption = None,
    from_db: Annotated[bool, typer.Option("--from-db", help=copy.TRAIN_PSI_FROM_DB)] = False,
    since: Annotated[datetime | None, typer.Option("--since", help=copy.TRAIN_PSI_SINCE)] = None,
    until: Annotated[datetime | None, typer.Option("--until", help=copy.TRAIN_PSI_UNTIL)] = None,
    database_url: Annotated[str | None, typer.Option("--url", help=copy.TRAIN_PSI_URL)] = None,
    fail_on: Annotated[
        PsiBand | None,
        typer.Option("--fail-on", help=copy.TRAIN_PSI_FAIL_ON),
    ] = None,
) -> None:
    """PSI por variable y del puntaje de una cohorte frente a la población de entrenamiento (bandas 0.1 / 0.25)."""
    from cli.train_analyst import run_psi

    run_psi(
        name=name,
        version=version,
        dataset=dataset,
        dataset_file=dataset_file,
        cohort=cohort,
        policy_file=policy_file,
        model_dir=model_dir,
        from_db=from_db,
        since=since,
        until=until,
        database_url=database_url,
        fail_on=None if fail_on is None else fail_on.value,
    )


@app.command("score", help=copy.TRAIN_SCORE)
def score(
    name: NameOption,
    cohort: Annotated[Path, typer.Option("--cohort", help=copy.TRAIN_SCORE_COHORT)],
    version: Annotated[str | None, typer.Option("--version", help=copy.VERSION_IN_SERVICE)] = None,
    dataset: DatasetOption = None,
    dataset_file: DatasetFileOption = None,
    top: Annotated[int, typer.Option("--top", min=1, help=copy.TRAIN_SCORE_TOP)] = 3,
    policy_file: PolicyOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """PD, puntaje y códigos de razón por solicitante (JSON por línea) con un modelo de la semilla 001."""
    from cli.train_analyst import run_score

    run_score(
        name=name,
        version=version,
        cohort=cohort,
        dataset=dataset,
        dataset_file=dataset_file,
        top=top,
        policy_file=policy_file,
        model_dir=model_dir,
    )
