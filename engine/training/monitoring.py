"""Population stability: PSI of a scored cohort against the training population, per feature and for the score.

PSI = Σ (actual% − expected%) · ln(actual% / expected%) over bins fixed on the training population (deciles
for numbers, levels for categories). Usual reading: < 0.10 stable, 0.10–0.25 moderate (watch), ≥ 0.25
significant. A reference keeps only bin edges and shares, so it goes into a JSON artifact with the model.

The applicant model's artifact keeps such a reference of its training rows (`applicant_reference`): one entry
per feature group (the value each assessment records in `PDResult.features`) and one for the credit score.
Applicants are then binned where they are stored (storage.analytics counts them per bin) and `psi_rows` turns
those counts into PSI and bands, for the dashboard, `/metrics` and `asesor train psi --from-db` alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

PSI_WATCH = 0.10
PSI_SHIFT = 0.25
OTHER = "__otro__"
# an empty bin would make ln(0); a tiny floor keeps PSI finite and still large
_FLOOR = 1e-4


# band codes (CLI options, metrics, CSS) and their Spanish labels (the analysts' pages and reports)
BANDS = ("stable", "moderate", "significant")
BAND_LABELS = {"stable": "estable", "moderate": "vigilar", "significant": "cambio significativo"}


def psi_band_code(value: float) -> str:
    if value < PSI_WATCH:
        return "stable"
    if value < PSI_SHIFT:
        return "moderate"
    return "significant"


def psi_band(value: float) -> str:
    return BAND_LABELS[psi_band_code(value)]


def psi_from_shares(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.maximum(np.asarray(expected, dtype=float), _FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), _FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass(frozen=True)
class BinnedReference:
    """Expected shares of one variable: numeric (inner `edges`) or categorical (`levels`)."""

    name: str
    shares: tuple[float, ...]
    edges: tuple[float, ...] | None = None
    levels: tuple[str, ...] | None = None

    @classmethod
    def numeric(cls, name: str, values: np.ndarray, n_bins: int = 10) -> BinnedReference:
        values = np.asarray(values, dtype=float)
        inner = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1]))
        ref = cls(name=name, shares=(), edges=tuple(float(x) for x in inner))
        return cls(name=name, shares=tuple(ref.actual_shares(values).tolist()), edges=ref.edges)

    @classmethod
    def discrete(cls, name: str, values: np.ndarray) -> BinnedReference:
        """One bin per distinct value (ranks, counts, 0/1): (-inf, v0], (v0, v1], …, (v_{k-2}, inf)."""
        values = np.asarray(values, dtype=float)
        ref = cls(name=name, shares=(), edges=tuple(float(x) for x in np.unique(values)[:-1]))
        return cls(name=name, shares=tuple(ref.actual_shares(values).tolist()), edges=ref.edges)

    @classmethod
    def categorical(cls, name: str, values: pd.Series) -> BinnedReference:
        counts = values.astype(str).value_counts(normalize=True).sort_index()
        levels = (*counts.index.tolist(), OTHER)
        return cls(name=name, shares=(*counts.to_numpy().tolist(), 0.0), levels=levels)

    def actual_shares(self, values: Any) -> np.ndarray:
        if self.levels is not None:
            v = pd.Series(values).astype(str)
            v = v.where(v.isin(self.levels[:-1]), OTHER)
            counts = v.value_counts().reindex(list(self.levels), fill_value=0).to_numpy(dtype=float)
        else:
            # bins are (-inf, e1], (e1, e2], …, (ek, inf)
            idx = np.searchsorted(np.asarray(self.edges, dtype=float), np.asarray(values, dtype=float), side="left")
            counts = np.bincount(idx, minlength=len(self.edges or ()) + 1).astype(float)
        total = counts.sum()
        return counts / total if total else counts

    def psi(self, values: Any) -> float:
        return psi_from_shares(np.array(self.shares), self.actual_shares(values))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "shares": list(self.shares)}
        if self.edges is not None:
            d["edges"] = list(self.edges)
        if self.levels is not None:
            d["levels"] = list(self.levels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BinnedReference:
        return cls(
            name=d["name"],
            shares=tuple(d["shares"]),
            edges=tuple(d["edges"]) if "edges" in d else None,
            levels=tuple(d["levels"]) if "levels" in d else None,
        )


def population_reference(
    X: pd.DataFrame, categorical: list[str] | tuple[str, ...], score: np.ndarray | None = None, n_bins: int = 10
) -> dict[str, BinnedReference]:
    """References of every feature (and of the score under the key `score`) on the training population."""
    refs = {
        c: BinnedReference.categorical(c, X[c])
        if c in categorical
        else BinnedReference.numeric(c, X[c].to_numpy(), n_bins)
        for c in X.columns
    }
    if score is not None:
        refs["score"] = BinnedReference.numeric("score", score, n_bins)
    return refs


def psi_table(refs: dict[str, BinnedReference], X: pd.DataFrame, score: np.ndarray | None = None) -> pd.DataFrame:
    """PSI and band per feature present in `X`, and for the score when given."""
    rows = []
    for name, ref in refs.items():
        if name == "score":
            if score is None:
                continue
            values: Any = score
        elif name in X.columns:
            values = X[name] if ref.levels is not None else X[name].to_numpy()
        else:
            continue
        value = ref.psi(values)
        rows.append({"variable": name, "psi": value, "banda": psi_band(value)})
    return pd.DataFrame(rows, columns=["variable", "psi", "banda"])


# ------------------------------------------------------------------------ the applicant model's population
def group_values(design: np.ndarray, groups: Mapping[str, Sequence[int]]) -> dict[str, np.ndarray]:
    """Each feature group's value per row of a design matrix: the sum of its columns, i.e. the value itself
    for a one-column group and the rank for an ordinal group encoded as cumulative steps."""
    X = np.asarray(design, dtype=float)
    return {g: X[:, list(ix)].sum(axis=1) for g, ix in groups.items()}


def applicant_reference(
    design: np.ndarray, groups: Mapping[str, Sequence[int]], scores: np.ndarray, n_bins: int = 10
) -> dict[str, dict[str, Any]]:
    """The training population as an artifact keeps it: binned shares of every feature group (one bin per
    value when it has at most `n_bins` values, deciles otherwise) and of the credit score the served model
    gives those rows (JSON-ready)."""
    refs = {
        g: BinnedReference.discrete(g, v) if len(np.unique(v)) <= n_bins else BinnedReference.numeric(g, v, n_bins)
        for g, v in group_values(design, groups).items()
    }
    refs["score"] = BinnedReference.numeric("score", np.asarray(scores, dtype=float), n_bins)
    return {name: ref.to_dict() for name, ref in refs.items()}


def psi_rows(reference: Mapping[str, Mapping[str, Any]], counts: Mapping[str, Sequence[int]]) -> list[dict[str, Any]]:
    """PSI and band per variable from applicants' counts per reference bin (as storage.analytics returns them).
    A variable with no applicant counted has no PSI (None), rather than a meaningless one."""
    rows = []
    for name, spec in reference.items():
        ref = BinnedReference.from_dict(dict(spec))
        n = np.asarray(counts.get(name, ()), dtype=float)
        if len(n) != len(ref.shares):
            raise ValueError(f"{name}: {len(n)} counts for {len(ref.shares)} reference bins")
        total = float(n.sum())
        value = psi_from_shares(np.array(ref.shares), n / total) if total else None
        rows.append(
            {
                "variable": name,
                "psi": None if value is None else round(value, 4),
                "band": None if value is None else psi_band_code(value),
                "label": None if value is None else psi_band(value),
                "applicants": int(total),
                "expected_shares": [round(x, 4) for x in ref.shares],
                "actual_shares": [round(x / total, 4) if total else 0.0 for x in n],
                "edges": list(ref.edges or ()),
            }
        )
    return rows
