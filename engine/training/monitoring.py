"""Population stability: PSI of a scored cohort against the training population, per feature and for the score.

PSI = Σ (actual% − expected%) · ln(actual% / expected%) over bins fixed on the training population (deciles
for numbers, levels for categories). Usual reading: < 0.10 stable, 0.10–0.25 watch, ≥ 0.25 shifted.
A reference keeps only bin edges and shares, so it goes into a JSON artifact with the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

PSI_WATCH = 0.10
PSI_SHIFT = 0.25
OTHER = "__otro__"
# an empty bin would make ln(0); a tiny floor keeps PSI finite and still large
_FLOOR = 1e-4


def psi_band(value: float) -> str:
    if value < PSI_WATCH:
        return "estable"
    if value < PSI_SHIFT:
        return "vigilar"
    return "cambio significativo"


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
