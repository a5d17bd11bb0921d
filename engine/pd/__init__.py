"""Applicant probability of default: features, model artifact, scoring, score scaling (SPEC §4, §6).

`load_or_train(model_dir, policy)` is what the engine calls once: it loads the current artifact, and
trains one (deterministically, in seconds) when there is none or it no longer fits the policy's training
settings, the shipped data or the feature schema.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from engine.pd import artifact as store
from engine.pd.features import FEATURE_SCHEMA, GERMAN_CREDIT_CSV
from engine.pd.model import ApplicantPDModel
from engine.policy import Policy

__all__ = ["ApplicantPDModel", "is_usable", "load_or_train"]


def is_usable(artifact: dict[str, Any], policy: Policy, data_sha256: str) -> bool:
    """Whether an artifact was trained with this data, these training settings and this feature schema."""
    fingerprint = store.training_fingerprint(policy.pd.training.model_dump(), data_sha256, FEATURE_SCHEMA)
    contract = artifact.get("feature_contract", {})
    return contract.get("schema") == FEATURE_SCHEMA and artifact.get("training_fingerprint") == fingerprint


def load_or_train(model_dir: str | Path, policy: Policy) -> ApplicantPDModel:
    """The current applicant model under `model_dir`, trained first when missing or stale."""
    model_dir = Path(model_dir)
    data_sha = hashlib.sha256(GERMAN_CREDIT_CSV.read_bytes()).hexdigest()  # 268 kB, once per load
    path = store.current_path(model_dir, policy.pd.applicant_model)
    if path is not None:
        try:
            artifact = store.read(path)
        except (OSError, ValueError):
            artifact = None
        if artifact is not None and is_usable(artifact, policy, data_sha):
            return ApplicantPDModel(artifact, policy.pd.mapping, policy.capacity.reference_rate_annual)
    from engine.training.applicant import train_applicant  # scipy and scikit-learn only when training

    path, _ = train_applicant(model_dir, policy)
    return ApplicantPDModel.from_artifact(path, policy)
