"""Data sets as configuration: a small TOML definition names the file, the target and the columns.

`--dataset scoring_bancario|german|taiwan` picks a definition shipped in `dataset_defs/`; `--dataset-file PATH`
reads any other one the same way. Relative data paths resolve against the definition's own folder first and
then against the shared data root (ASESOR_SHARED_DATA, default `<repo>/../shared/data`): the seed-001 base may
not be redistributed, so the repository ships definitions only, never the data.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DEFS_DIR = Path(__file__).with_name("dataset_defs")
REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA_ENV = "ASESOR_SHARED_DATA"


class DatasetError(ValueError):
    """A definition or data file that cannot be used; the message (plain English) says which and why. `code` and
    `ctx` (its values) let an adapter say it in its own words (core.copy_es.dataset_message)."""

    def __init__(self, message: str, code: str = "dataset_error", **ctx: Any) -> None:
        super().__init__(message)
        self.code, self.ctx = code, ctx


def _cause(exc: Exception) -> dict[str, Any]:
    """Why a file could not be read, as values: the OS's errno, or where TOML stopped, or that it is no CSV."""
    if isinstance(exc, OSError):
        return {"cause": "os", "errno": exc.errno}
    if isinstance(exc, tomllib.TOMLDecodeError):
        where = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        return {"cause": "toml", **({"line": int(where[1]), "column": int(where[2])} if where else {})}
    return {"cause": "csv"}


@dataclass(frozen=True)
class DatasetDefinition:
    name: str
    file: str
    target: str
    positive: Any
    title: str = ""
    drop: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    rename: dict[str, str] = field(default_factory=dict)
    ead_column: str | None = None
    ead_note: str = ""
    currency: str = ""
    seed_reference: dict[str, Any] = field(default_factory=dict)
    # folder of the definition file: relative data paths are tried there first
    base_dir: Path | None = None

    @classmethod
    def from_mapping(cls, raw: dict[str, Any], base_dir: Path | None = None) -> DatasetDefinition:
        missing = [k for k in ("name", "file", "target", "positive") if k not in raw]
        if missing:
            raise DatasetError(f"dataset definition lacks {', '.join(missing)}", "definition_lacks", missing=missing)
        known = {f for f in cls.__dataclass_fields__ if f != "base_dir"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise DatasetError(
                f"dataset definition has unknown keys: {', '.join(unknown)}", "definition_unknown_keys", unknown=unknown
            )
        return cls(
            name=str(raw["name"]),
            file=str(raw["file"]),
            target=str(raw["target"]),
            positive=raw["positive"],
            title=str(raw.get("title", raw["name"])),
            drop=tuple(raw.get("drop", ())),
            categorical=tuple(raw.get("categorical", ())),
            rename=dict(raw.get("rename", {})),
            ead_column=raw.get("ead_column"),
            ead_note=str(raw.get("ead_note", "")),
            currency=str(raw.get("currency", "")),
            seed_reference=dict(raw.get("seed_reference", {})),
            base_dir=base_dir,
        )


@dataclass(frozen=True)
class Dataset:
    """Features (renamed, dropped columns removed), the 0/1 target and where they came from."""

    definition: DatasetDefinition
    X: pd.DataFrame
    y: pd.Series
    path: Path
    sha256: str

    @property
    def numeric(self) -> list[str]:
        return [c for c in self.X.columns if c not in self.definition.categorical]

    @property
    def categorical(self) -> list[str]:
        return [c for c in self.X.columns if c in self.definition.categorical]


def builtin_names() -> list[str]:
    return sorted(p.stem for p in DEFS_DIR.glob("*.toml"))


def shared_data_root(root: Path | None = None) -> Path:
    """`root` (the adapters pass core.config.Settings.resolved_shared_data_dir), else ../shared/data beside the
    repository; the engine reads no environment variable."""
    return Path(root).expanduser() if root else (REPO_ROOT.parent / "shared" / "data")


def load_definition(name: str | None = None, path: Path | None = None) -> DatasetDefinition:
    """A shipped definition by name, or one read from `path` (exactly one of the two)."""
    if (name is None) == (path is None):
        raise DatasetError("give a dataset name or a definition file, not both and not neither", "name_or_file")
    if name is not None:
        path = DEFS_DIR / f"{name}.toml"
        if not path.is_file():
            raise DatasetError(
                f"unknown dataset {name!r}; known: {', '.join(builtin_names())}",
                "unknown_dataset",
                name=name,
                known=builtin_names(),
            )
    assert path is not None
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DatasetError(
            f"cannot read dataset definition {path}: {exc}", "definition_unreadable", path=str(path), **_cause(exc)
        ) from exc
    # the shipped definitions name files under the shared root, not beside themselves
    base = None if name is not None else Path(path).resolve().parent
    return DatasetDefinition.from_mapping(raw, base_dir=base)


def resolve_data_path(defn: DatasetDefinition, data_file: Path | None = None, shared_root: Path | None = None) -> Path:
    if data_file is not None:
        candidates = [Path(data_file)]
    else:
        rel = Path(defn.file).expanduser()
        if rel.is_absolute():
            candidates = [rel]
        else:
            candidates = ([defn.base_dir / rel] if defn.base_dir else []) + [shared_data_root(shared_root) / rel]
    for c in candidates:
        if c.is_file():
            return c
    tried = ", ".join(str(c) for c in candidates)
    raise DatasetError(
        f"data file for {defn.name!r} not found (tried {tried}; set {SHARED_DATA_ENV})",
        "data_not_found",
        dataset=defn.name,
        tried=[str(c) for c in candidates],
        variable=SHARED_DATA_ENV,
    )


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def prepare(frame: pd.DataFrame, defn: DatasetDefinition) -> tuple[pd.DataFrame, pd.Series]:
    """Pure part of loading: rename, check, split off the 0/1 target, drop columns, type the categoricals."""
    df = frame.rename(columns=defn.rename)
    needed = [defn.target, *defn.drop, *defn.categorical] + ([defn.ead_column] if defn.ead_column else [])
    absent = [c for c in needed if c not in df.columns]
    if absent:
        raise DatasetError(
            f"{defn.name}: columns not in the data: {', '.join(absent)}",
            "columns_absent",
            dataset=defn.name,
            columns=absent,
        )
    raw_target = df[defn.target]
    values = set(raw_target.dropna().unique().tolist())
    if defn.positive not in values:
        raise DatasetError(
            f"{defn.name}: positive class {defn.positive!r} not among target values {sorted(map(str, values))}",
            "positive_absent",
            dataset=defn.name,
            positive=str(defn.positive),
            values=sorted(map(str, values)),
        )
    if raw_target.isna().any():
        raise DatasetError(f"{defn.name}: the target has missing values", "target_missing", dataset=defn.name)
    y = (raw_target == defn.positive).astype(np.int8).rename("target")
    X = df.drop(columns=[defn.target, *defn.drop])
    for c in X.columns:
        if c in defn.categorical:
            X[c] = X[c].astype(str)
        elif not pd.api.types.is_numeric_dtype(X[c]):
            raise DatasetError(
                f"{defn.name}: column {c!r} is not numeric; list it under `categorical`",
                "not_numeric",
                dataset=defn.name,
                column=c,
            )
    if X.isna().any().any():
        bad = [c for c in X.columns if X[c].isna().any()]
        raise DatasetError(
            f"{defn.name}: missing values in {', '.join(bad)} (impute them before training)",
            "missing_values",
            dataset=defn.name,
            columns=bad,
        )
    return X.reset_index(drop=True), y.reset_index(drop=True)


def load_dataset(defn: DatasetDefinition, data_file: Path | None = None, shared_root: Path | None = None) -> Dataset:
    path = resolve_data_path(defn, data_file, shared_root)
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}", "data_unreadable", path=str(path), **_cause(exc)) from exc
    X, y = prepare(frame, defn)
    return Dataset(definition=defn, X=X, y=y, path=path, sha256=file_sha256(path))
