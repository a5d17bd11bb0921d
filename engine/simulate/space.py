"""The space the policy simulation covers: every combination of the 8 answers × a loan grid (policy [lab]).

Factoring (docs/engine.md, "Policy simulation"): the verdict depends on the answers only through whether any
bank is eligible and the six questions that feed the derived numbers and the PD (tenure, history, existing
credits, arrears, down payment, income band); the payroll bank and the financing priority change only the
bank ranking. The 179,200 combinations therefore collapse onto a few thousand *profiles* (6,400 with the
shipped table), each evaluated once per grid point and counted with its multiplicity. Nothing is sampled: a
combination's outcome is its profile's, and a test holds the simulation to `Assessor.assess`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from engine.bank_fit import bank_table
from engine.policy import QUESTIONS, Policy

# the questions the derived numbers and the PD read (engine/derive.py, engine/pd/features.py)
VERDICT_QUESTIONS: tuple[str, ...] = (
    "trabajo_tiempo",
    "historial_crediticio",
    "creditos_vigentes",
    "atrasos_12_meses",
    "enganche",
    "ingreso_mensual",
)


@dataclass(frozen=True)
class LoanGrid:
    """Vehicle prices, the offered terms, ages and declared incomes (per band, ascending) of the simulation."""

    prices: tuple[float, ...]
    terms: tuple[int, ...]
    ages: tuple[int, ...]
    incomes: dict[str, tuple[float, ...]]  # band -> as many incomes for every band, ascending

    @classmethod
    def from_policy(cls, policy: Policy) -> LoanGrid:
        lab, m = policy.lab, policy.mappings
        incomes: dict[str, tuple[float, ...]] = {}
        for band, (lo, hi) in m.income_band_range.items():
            hi = min(hi, lab.income_cap)
            rep = m.income_by_band[band]
            # the band's ends, its representative (what "prefiero no decir" assesses) and the midpoints
            incomes[band] = (float(lo), (lo + rep) / 2, float(rep), (rep + hi) / 2, float(hi))
        return cls(tuple(map(float, lab.vehicle_prices)), policy.offered_terms, tuple(lab.ages), incomes)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.prices), len(self.terms), len(self.ages), len(next(iter(self.incomes.values()))))

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass(frozen=True)
class AnswerSpace:
    """Every combination of the answers (QUESTIONS order, C order) and the profile each one falls on."""

    policy: Policy

    @cached_property
    def codes(self) -> dict[str, tuple[str, ...]]:
        return {q: tuple(self.policy.answers[q]) for q in QUESTIONS}

    @cached_property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(self.codes[q]) for q in QUESTIONS)

    @cached_property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @cached_property
    def index(self) -> np.ndarray:
        """(size, 8): the answer index of every question for every combination."""
        return np.indices(self.shape).reshape(len(QUESTIONS), -1).T

    @cached_property
    def eligible_banks(self) -> np.ndarray:
        """(size,) how many banks accept every answer of each combination (seed 002's table)."""
        table = bank_table(self.policy)
        rejected = np.zeros((self.size, len(table.banks)), dtype=bool)
        for k, q in enumerate(QUESTIONS):
            cells = np.array([[c.rejected for c in table.cells[q][code]] for code in self.codes[q]])
            rejected |= cells[self.index[:, k]]
        return np.asarray((~rejected).sum(axis=1))

    @cached_property
    def _profiles(self) -> tuple[np.ndarray, np.ndarray]:
        cols = [QUESTIONS.index(q) for q in VERDICT_QUESTIONS]
        key = np.column_stack([self.eligible_banks == 0, self.index[:, cols]]).astype(np.int64)
        radix = np.array([2, *(self.shape[c] for c in cols)], dtype=np.int64)
        code = np.ravel_multi_index(key.T, radix)  # one integer per key: a 1-D unique is much cheaper
        unique, inverse = np.unique(code, return_inverse=True)
        return np.column_stack(np.unravel_index(unique, radix)), inverse.reshape(-1)

    @property
    def profiles(self) -> np.ndarray:
        """(n_profiles, 7): no eligible bank, then the answer index of each VERDICT_QUESTIONS question."""
        return self._profiles[0]

    @property
    def profile_of(self) -> np.ndarray:
        """(size,) the profile of every combination."""
        return self._profiles[1]

    @cached_property
    def weight(self) -> np.ndarray:
        """(n_profiles,) how many combinations fall on each profile."""
        return np.bincount(self.profile_of, minlength=len(self.profiles))

    def combination(self, i: int) -> dict[str, str]:
        return {q: self.codes[q][int(k)] for q, k in zip(QUESTIONS, self.index[i], strict=True)}
