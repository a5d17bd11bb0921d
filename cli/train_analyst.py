"""Implementation of the analysts' training commands: `asesor train report | compare | promote | psi`.

cli/train.py holds only thin typer functions that call these; the computation is in engine/training.
Output: JSON on stdout; errors as JSON on stderr with exit code 2; the progress bar goes to stderr.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from cli import errors
from core import copy_es as copy


def fail(error: str, message: str, **extra: Any) -> NoReturn:
    errors.fail(error, message, **extra)


def emit(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=float) + "\n")


def _policy(policy_file: Path | None) -> Any:
    from core.config import get_settings
    from engine.policy import PolicyError, load_policy

    try:
        return load_policy(policy_file or get_settings().policy_file)
    except PolicyError as exc:
        errors.policy_failure(exc, "--policy" if policy_file else None)


def _model_dir(model_dir: Path | None) -> Path:
    from core.config import get_settings

    return Path(model_dir) if model_dir else get_settings().resolved_model_dir


def _definition(dataset: str | None, dataset_file: Path | None) -> Any:
    from engine.training.datasets import DatasetError, load_definition

    if dataset is None and dataset_file is None:
        dataset = "scoring_bancario"
    try:
        return (
            load_definition(name=dataset, path=dataset_file)
            if dataset_file is None
            else load_definition(path=dataset_file)
        )
    except DatasetError as exc:
        option = "--dataset-file" if dataset_file is not None else "--dataset"
        fail("invalid_dataset", copy.dataset_message(exc.code, exc.ctx), field=option, kind=exc.code)


def _load(defn: Any, data: Path | None) -> Any:
    from core.config import get_settings
    from engine.training.datasets import DatasetError, load_dataset

    try:
        return load_dataset(defn, data, get_settings().resolved_shared_data_dir)
    except DatasetError as exc:
        fail("invalid_dataset", copy.dataset_message(exc.code, exc.ctx), kind=exc.code)


def default_name(dataset_name: str) -> str:
    return f"seed001-{dataset_name}"


# ----------------------------------------------------------------------------------------------- report
def run_report(
    *,
    dataset: str | None,
    dataset_file: Path | None,
    data: Path | None,
    out: Path | None,
    seed: int,
    valid_share: float,
    strategies: str,
    policy_file: Path | None,
    model_dir: Path | None,
    save_model: bool,
    progress: bool = True,
) -> None:
    from tqdm import tqdm

    from core.config import get_settings
    from engine.pd.registry import promote_if_empty, write
    from engine.training.applicant import code_version
    from engine.training.registry import envelope
    from engine.training.resampling import STRATEGIES

    chosen_strategies = tuple(s.strip() for s in strategies.split(",") if s.strip())
    unknown = [s for s in chosen_strategies if s not in STRATEGIES]
    if unknown or not chosen_strategies:
        fail(
            "invalid_strategies",
            copy.ERR_UNKNOWN_NAMES.format(
                what=copy.ERR_STRATEGIES, unknown=", ".join(unknown), known=", ".join(STRATEGIES)
            ),
        )
    if not 0 < valid_share < 1:
        fail("invalid_valid_share", copy.ERR_VALID_SHARE, field="--valid-share")
    started = time.perf_counter()
    policy = _policy(policy_file)
    defn = _definition(dataset, dataset_file)
    ds = _load(defn, data)  # before the bar starts, so a bad data set gives a clean JSON error
    steps = ["partición", *(f"estrategia {s}" for s in chosen_strategies), "scorecard", "informe"]
    # disable=None: a bar only on a terminal, never `\r`-joined lines in a log file
    bar_off = None if progress else True
    with tqdm(
        total=len(steps), desc=f"informe {defn.name}", unit="paso", file=sys.stderr, leave=True, disable=bar_off
    ) as bar:

        def tick(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        from engine.training.report import build_tables, render_html, render_markdown
        from engine.training.study import artifact_body, run_study

        study = run_study(ds, policy, seed=seed, valid_share=valid_share, strategies=chosen_strategies, progress=tick)
        tables = build_tables(study)
        html = render_html(study, tables)
        md = render_markdown(study, tables)
        bar.set_postfix_str("informe")
        bar.update(1)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = Path(out) if out else get_settings().data_dir / "reports" / f"{defn.name}-{stamp}"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.html").write_text(html, encoding="utf-8")
    (out_dir / "summary.md").write_text(md, encoding="utf-8")
    result: dict[str, Any] = {
        "dataset": defn.name,
        "data_sha256": ds.sha256,
        "report_html": str(out_dir / "report.html"),
        "summary_md": str(out_dir / "summary.md"),
        "chosen_strategy": study.chosen.strategy,
        "strategies": {
            r.strategy: {
                "rows": r.n_rows,
                "positives": r.n_pos,
                "roc_auc": round(r.metrics.roc_auc, 4),
                "f1": round(r.metrics.f1, 4),
                "ks": round(r.metrics.ks, 4),
                "brier_raw": round(r.brier_raw, 4),
                "brier_calibrated": round(r.brier_calibrated, 4),
                "dropped_by_stepwise": list(r.stepwise.dropped),
            }
            for r in study.strategies
        },
        "scorecard_roc_auc": round(study.scorecard_metrics.roc_auc, 4),
        "expected_loss_calibrated": round(study.chosen.el_calibrated, 2),
        "study_seconds": round(study.seconds, 2),
    }
    if save_model:
        name = default_name(defn.name)
        artifact = envelope(
            artifact_body(study), name=name, code_version=code_version(), data_file=ds.path.name, rows=len(ds.y)
        )
        directory = _model_dir(model_dir)
        path = write(directory, artifact)
        # the first version of a name goes into service; later ones wait for `asesor train promote`
        promote_if_empty(directory, name, artifact["model_version"], by="asesor train report", reason="first version")
        from engine.pd.registry import current_version

        result |= {
            "model_name": name,
            "model_version": artifact["model_version"],
            "model_path": str(path),
            "in_service": current_version(directory, name),
        }
    result["total_seconds"] = round(time.perf_counter() - started, 2)
    emit(result)


# ------------------------------------------------------------------------------------------------- card
def run_card(
    *,
    policy_file: Path | None,
    model_dir: Path | None,
    data: Path | None,
    out: Path | None,
    repeats: int,
    folds: int,
    candidates: str,
    rates: str,
) -> None:
    """The applicant model's card (MODEL_CARD.md + model_card.json) and the candidates' comparison, kept in the
    registry so that `asesor train promote` of this version cites it."""
    from core.config import get_settings
    from engine.pd.registry import save_comparison
    from engine.training.candidates import CANDIDATES, Folds
    from engine.training.card import build_card, render_markdown

    names = tuple(c.strip() for c in candidates.split(",") if c.strip())
    unknown = [c for c in names if c not in CANDIDATES]
    if unknown or not names:
        fail(
            "invalid_candidates",
            copy.ERR_UNKNOWN_NAMES.format(
                what=copy.ERR_CANDIDATES, unknown=", ".join(unknown), known=", ".join(CANDIDATES)
            ),
        )
    try:
        shown = tuple(float(r) for r in rates.split(",") if r.strip())
    except ValueError:
        fail("invalid_rates", copy.ERR_RATES_NOT_NUMBERS.format(rates=rates), field="--rates")
    if any(not 0 < r < 1 for r in shown):
        fail("invalid_rates", copy.ERR_RATES_RANGE, field="--rates")
    if data is not None and not data.is_file():
        fail("data_not_found", copy.ERR_NO_SUCH_FILE.format(path=data), field="--data")
    policy = _policy(policy_file)
    started = time.perf_counter()
    card, _comparison = build_card(
        policy, data, Folds(folds, repeats, policy.pd.training.seed), names, shown, progress=None
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = Path(out) if out else get_settings().data_dir / "reports" / f"applicant-card-{stamp}"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "MODEL_CARD.md").write_text(render_markdown(card), encoding="utf-8")
    (out_dir / "model_card.json").write_text(json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    name = policy.pd.applicant_model
    directory = _model_dir(model_dir)
    cited = save_comparison(
        directory,
        name,
        card["model_version"],
        {"kind": "candidates_same_folds", "model_card": str(out_dir / "model_card.json"), **card["candidates"]},
    )
    rec = card["candidates"]["recommendation"]
    emit(
        {
            "model_version": card["model_version"],
            "model_card_md": str(out_dir / "MODEL_CARD.md"),
            "model_card_json": str(out_dir / "model_card.json"),
            "comparison": str(cited),
            "headline": card["headline"],
            "holdout": card["holdout"],
            "candidates": {
                c: {
                    "auc": s["auc"],
                    "brier": s["brier"],
                    **{k: rec["verdicts"][c][k] for k in ("within_noise", "auc_sd_ratio", "stable", "as_good")},
                }
                for c, s in card["candidates"]["candidates"].items()
            },
            "stability_reference": rec["stability_reference"],
            "recommended": rec["recommended"],
            "total_seconds": round(time.perf_counter() - started, 2),
        }
    )


# ------------------------------------------------------------------------------------ cohort + scorers
def _cohort(
    scorer_artifact: dict[str, Any], dataset: str | None, dataset_file: Path | None, cohort: Path | None, whole: bool
) -> tuple[Any, Any, str]:
    """(X, y or None, description) of the cohort for a model kind."""
    import pandas as pd

    from engine.training.registry import SEED001_FORMAT

    if scorer_artifact.get("format") == SEED001_FORMAT:
        from engine.training.datasets import DatasetError, prepare
        from engine.training.resampling import stratified_split

        defn = _definition(dataset or scorer_artifact["dataset"], dataset_file)
        if cohort is not None:
            # an outside cohort (e.g. the applicants scored in a period): all its rows, outcome optional
            try:
                frame = pd.read_csv(cohort)
            except (OSError, ValueError) as exc:
                fail("invalid_cohort", copy.ERR_CANNOT_READ.format(path=cohort, reason=copy.read_reason(exc)))
            if defn.target not in frame.columns:
                X = frame.rename(columns=defn.rename).drop(columns=[c for c in defn.drop if c in frame.columns])
                return X, None, f"{cohort} ({len(X)} filas, sin resultado)"
            try:
                X, y = prepare(frame, defn)
            except DatasetError as exc:
                fail("invalid_cohort", copy.dataset_message(exc.code, exc.ctx), kind=exc.code)
            return X, y.to_numpy(), f"{cohort} ({len(X)} filas)"
        ds = _load(defn, None)
        if whole:
            return ds.X, ds.y.to_numpy(), f"{defn.name}: todas las filas"
        sp = stratified_split(ds.X, ds.y, valid_share=scorer_artifact["valid_share"], seed=scorer_artifact["seed"])
        return sp.X_valid, sp.y_valid.to_numpy(), f"{defn.name}: validación (semilla {scorer_artifact['seed']})"
    # the applicant model reads German-Credit-format rows
    from engine.pd.features import BAD, GERMAN_CREDIT_CSV, TARGET

    path = cohort or GERMAN_CREDIT_CSV
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        fail("invalid_cohort", copy.ERR_CANNOT_READ.format(path=path, reason=copy.read_reason(exc)))
    outcome = (frame[TARGET] == BAD).to_numpy().astype(int) if TARGET in frame.columns else None
    return frame, outcome, f"{path} ({len(frame)} filas)"


def _read_artifact(model_dir: Path, name: str, version: str | None) -> dict[str, Any]:
    from engine.pd.registry import RegistryError, read

    try:
        return read(model_dir, name, version)
    except RegistryError as exc:
        errors.registry_failure(exc, field="--version" if version else "--name")


def _scaling(policy: Any) -> Any:
    from engine.pd.scaling import fixed_base_odds
    from engine.training.scorecard import Scaling

    s = policy.score_scaling
    return Scaling(s.base_points, fixed_base_odds(policy), s.pdo, s.min_score, s.max_score)


def run_compare(
    *,
    name: str,
    challenger: str,
    champion: str | None,
    dataset: str | None,
    dataset_file: Path | None,
    cohort: Path | None,
    whole: bool,
    policy_file: Path | None,
    model_dir: Path | None,
) -> None:
    from engine.training.champion import compare, scorer_for

    policy = _policy(policy_file)
    directory = _model_dir(model_dir)
    champ_a = _read_artifact(directory, name, champion)
    chall_a = _read_artifact(directory, name, challenger)
    X, y, desc = _cohort(champ_a, dataset, dataset_file, cohort, whole)
    scaling = _scaling(policy)
    try:
        result = compare(
            scorer_for(champ_a, scaling),
            scorer_for(chall_a, scaling),
            X,
            y,
            approve_pd_below=policy.pd.approve_pd_below,
            review_pd_below=policy.pd.review_pd_below,
        )
    except (KeyError, ValueError) as exc:
        fail("cohort_mismatch", copy.ERR_COHORT_MISMATCH_MODELS.format(reason=exc))
    from engine.pd.registry import save_comparison

    body = {
        "name": name,
        "cohort": desc,
        "policy_version": policy.version,
        "approve_pd_below": policy.pd.approve_pd_below,
        "review_pd_below": policy.pd.review_pd_below,
        **result,
    }
    # the promotion record of this challenger cites the comparison
    save_comparison(directory, name, chall_a["model_version"], body)
    emit(body)


def run_promote(
    *, name: str, version: str, reason: str, by: str | None, model_dir: Path | None, policy_file: Path | None = None
) -> None:
    """Put a version in service (the only way `current` moves): an applicant model is first checked against the
    policy in service, so a version that could not serve is refused here, not in the serving processes."""
    import getpass

    from engine.pd import check_servable
    from engine.pd.registry import APPLICANT_FORMAT, ModelUnavailable, RegistryError, load_comparison, promote

    if not reason.strip():
        fail(
            "missing_reason",
            "Di por qué se promueve esta versión: --reason «…» (queda en promotions.jsonl).",
            field="--reason",
        )
    directory = _model_dir(model_dir)
    policy = _policy(policy_file)

    def check(artifact: dict[str, Any]) -> None:
        if artifact.get("format") == APPLICANT_FORMAT:
            check_servable(artifact, policy, directory)

    try:
        record = promote(
            directory,
            name,
            version,
            by=by or getpass.getuser(),
            reason=reason,
            comparison=load_comparison(directory, name, version),
            check=check,
        )
    except RegistryError as exc:
        errors.registry_failure(exc)
    except ModelUnavailable as exc:
        reason = copy.model_reason(exc.kind, exc.ctx)
        fail("model_unavailable", copy.MODEL_CANNOT_SERVE.format(version=version, name=name, reason=reason))
    emit(record)


def run_psi(
    *,
    name: str,
    version: str | None,
    dataset: str | None,
    dataset_file: Path | None,
    cohort: Path | None,
    policy_file: Path | None,
    model_dir: Path | None,
    from_db: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
    database_url: str | None = None,
    fail_on: str | None = None,
) -> None:
    """PSI per variable and for the score; with `fail_on` (moderate | significant), exit 1 after printing when a
    variable is in that band or above (for cron jobs)."""
    import pandas as pd

    from engine.training.champion import ApplicantScorer, Seed001Scorer, monitor, scorer_for
    from engine.training.monitoring import BANDS, PSI_SHIFT, PSI_WATCH, psi_band_code, psi_rows

    policy = _policy(policy_file)
    directory = _model_dir(model_dir)
    artifact = _read_artifact(directory, name, version)
    scorer = scorer_for(artifact, _scaling(policy))
    if from_db and cohort is not None:
        fail("invalid_options", copy.ERR_EXCLUSIVE.format(first="--cohort", second="--from-db"))
    try:
        if from_db:
            # the applicants the model assessed in a period, binned where they are stored against the training
            # population the artifact keeps: the same figures as the dashboard and /metrics
            if not isinstance(scorer, ApplicantScorer):
                fail("unsupported_model", copy.ERR_FROM_DB_APPLICANT_ONLY)
            reference = artifact.get("reference")
            if not reference:
                fail("no_reference", copy.ERR_NO_REFERENCE.format(version=artifact["model_version"]))
            from cli.train_from_db import OutcomesError, population_counts

            try:
                counts = population_counts(reference, artifact["model_version"], since, until, database_url)
            except OutcomesError as exc:
                fail("database_unavailable", str(exc))
            if not counts["assessments"]:
                fail("empty_cohort", copy.ERR_EMPTY_COHORT)
            rows = [
                {"variable": r["variable"], "psi": r["psi"], "band": r["label"], "band_code": r["band"]}
                for r in psi_rows(reference, counts["counts"])
            ]
            span = f"{since.isoformat() if since else '…'} – {until.isoformat() if until else '…'}"
            desc = f"assessments {span} ({counts['assessments']} solicitantes)"
        else:
            X, _y, desc = _cohort(artifact, dataset, dataset_file, cohort, whole=False)
            if isinstance(scorer, Seed001Scorer):
                table = monitor(scorer, X, reference=scorer.reference())
            else:
                from engine.pd.features import GERMAN_CREDIT_CSV

                # German-Credit-format rows: the applicant model's training population is the shipped file
                table = monitor(scorer, X, training=pd.read_csv(GERMAN_CREDIT_CSV))
            rows = [
                {
                    "variable": r["variable"],
                    "psi": round(float(r["psi"]), 4),
                    "band": r["banda"],
                    "band_code": psi_band_code(r["psi"]),
                }
                for r in table.to_dict("records")
            ]
    except (KeyError, ValueError) as exc:
        fail("cohort_mismatch", copy.ERR_COHORT_MISMATCH.format(reason=exc))
    emit(
        {
            "name": name,
            "model_version": artifact["model_version"],
            "cohort": desc,
            "bands": {"watch_from": PSI_WATCH, "shift_from": PSI_SHIFT},
            "psi": rows,
            "shifted": [r["variable"] for r in rows if r["psi"] is not None and r["psi"] >= PSI_SHIFT],
        }
    )
    if fail_on is not None:
        threshold = BANDS.index(fail_on)
        if any(r["band_code"] is not None and BANDS.index(r["band_code"]) >= threshold for r in rows):
            raise SystemExit(1)


def run_score(
    *,
    name: str,
    version: str | None,
    cohort: Path,
    dataset: str | None,
    dataset_file: Path | None,
    top: int,
    policy_file: Path | None,
    model_dir: Path | None,
) -> None:
    """One JSON line per applicant of the cohort: PD, score, scorecard points and reason codes."""
    from engine.training.champion import Seed001Scorer, scorer_for

    policy = _policy(policy_file)
    artifact = _read_artifact(_model_dir(model_dir), name, version)
    scorer = scorer_for(artifact, _scaling(policy))
    if not isinstance(scorer, Seed001Scorer):
        fail(
            "unsupported_model",
            copy.ERR_REASON_CODES_SEED001,
        )
    X, _y, _desc = _cohort(artifact, dataset, dataset_file, cohort, whole=False)
    try:
        rows = scorer.explain(X, top=top)
    except (KeyError, ValueError) as exc:
        fail("cohort_mismatch", copy.ERR_COHORT_MISMATCH.format(reason=exc))
    for i, row in enumerate(rows, start=1):
        sys.stdout.write(json.dumps({"line": i, "model_version": scorer.version, **row}, ensure_ascii=False) + "\n")
