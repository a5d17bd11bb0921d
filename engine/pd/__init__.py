"""Applicant probability of default: features, model artifact, scoring, score scaling (SPEC §4, §6).

`load_served(model_dir, policy)` is what the engine calls once per process (and again on a promotion): the
model the registry's `current` names (engine.pd.registry), or ModelUnavailable naming it when it cannot
serve. It never retrains nor re-points `current`; only an empty registry is bootstrapped, by training once on
the shipped German Credit data (deterministic, seconds).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.pd import registry
from engine.pd.registry import APPLICANT_FORMAT, ModelUnavailable
from engine.policy import Policy

if TYPE_CHECKING:
    from engine.pd.model import ApplicantPDModel

__all__ = ["ApplicantPDModel", "ModelUnavailable", "check_servable", "load_served", "load_version"]


def __getattr__(name: str) -> Any:
    # lazily: engine.training.calibration (which the model imports) reads engine.pd.registry, and importing that
    # runs this package first; an eager import of the model here would close the circle
    if name == "ApplicantPDModel":
        from engine.pd.model import ApplicantPDModel

        return ApplicantPDModel
    raise AttributeError(name)


def _model(artifact: dict[str, Any], policy: Policy, model_dir: Path, version: str | None) -> ApplicantPDModel:
    from engine.pd.model import ApplicantPDModel

    name = policy.pd.applicant_model
    if artifact.get("format") != APPLICANT_FORMAT:
        reason = f"not an applicant PD artifact ({artifact.get('format')})"
        raise ModelUnavailable(
            name, version, model_dir, reason, "wrong_format", {"format": str(artifact.get("format"))}
        )
    if artifact.get("name") != name:
        reason = f"the artifact is model {artifact.get('name')!r}, the policy serves {name!r}"
        raise ModelUnavailable(
            name, version, model_dir, reason, "wrong_name", {"artifact": str(artifact.get("name")), "served": name}
        )
    try:
        return ApplicantPDModel(artifact, policy.pd.mapping, policy.capacity.reference_rate_annual)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        reason = f"incompatible with this code's feature mapping or the policy in service ({type(exc).__name__}: {exc})"
        raise ModelUnavailable(name, version, model_dir, reason, "incompatible", {"error": type(exc).__name__}) from exc


def check_servable(artifact: dict[str, Any], policy: Policy, model_dir: Path) -> None:
    """Raise ModelUnavailable when `artifact` could not serve under `policy` (what promotion checks first)."""
    _model(artifact, policy, Path(model_dir), artifact.get("model_version"))


def load_version(model_dir: str | Path, policy: Policy, version: str) -> ApplicantPDModel:
    """Version `version` of the policy's applicant model, or ModelUnavailable naming it."""
    model_dir = Path(model_dir)
    name = policy.pd.applicant_model
    try:
        artifact = registry.read(model_dir, name, version)
    except registry.RegistryError as exc:
        reason = f"missing or unreadable artifact ({exc})"
        raise ModelUnavailable(name, version, model_dir, reason, "unreadable", {"code": exc.code, **exc.ctx}) from exc
    if artifact.get("model_version") != version:
        reason = f"its model.json holds version {artifact.get('model_version')!r}"
        holds = str(artifact.get("model_version"))
        raise ModelUnavailable(name, version, model_dir, reason, "version_mismatch", {"holds": holds})
    return _model(artifact, policy, model_dir, version)


def _bootstrap_artifact(policy: Policy) -> tuple[dict[str, Any], str]:
    from engine.pd.artifact import model_card
    from engine.training.applicant import run_training  # scipy and scikit-learn only when training

    artifact = run_training(policy).artifact
    return artifact, model_card(artifact)


def load_served(model_dir: str | Path, policy: Policy) -> ApplicantPDModel:
    """The applicant model in service under `model_dir` (what `current` names)."""
    model_dir = Path(model_dir)
    name = policy.pd.applicant_model
    version = registry.current_version(model_dir, name)
    if version is None:
        if registry.versions(model_dir, name):
            # versions but none in service: someone must choose; training a new one would hide that
            reason = "no version is in service (no `current`); run `asesor train promote <version> --name " + name + "`"
            raise ModelUnavailable(name, None, model_dir, reason, "none_in_service")
        who = f"bootstrap ({socket.gethostname()}, pid {os.getpid()})"
        version = registry.bootstrap(model_dir, name, lambda: _bootstrap_artifact(policy), by=who)
    return load_version(model_dir, policy, version)
