from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.training.monitoring import (
    PSI_SHIFT,
    PSI_WATCH,
    BinnedReference,
    population_reference,
    psi_band,
    psi_table,
)


def test_psi_of_a_sample_against_itself_is_zero_and_against_a_shift_is_large() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 20000)
    ref = BinnedReference.numeric("x", base)
    assert ref.psi(base) < 1e-9
    # a fresh sample of the same population stays in the stable band
    assert ref.psi(rng.normal(0, 1, 5000)) < PSI_WATCH
    assert ref.psi(rng.normal(0.15, 1, 5000)) < PSI_SHIFT
    assert ref.psi(base + 1.0) > PSI_SHIFT


def test_categorical_psi_and_unseen_levels() -> None:
    values = pd.Series(["a"] * 500 + ["b"] * 300 + ["c"] * 200)
    ref = BinnedReference.categorical("z", values)
    assert ref.psi(values) < 1e-9
    shifted = pd.Series(["a"] * 200 + ["b"] * 300 + ["c"] * 200 + ["nuevo"] * 300)
    assert ref.psi(shifted) > PSI_SHIFT


def test_bands() -> None:
    assert psi_band(0.05) == "estable"
    assert psi_band(0.1) == "vigilar"
    assert psi_band(0.2499) == "vigilar"
    assert psi_band(0.25) == "cambio significativo"


def test_reference_round_trips_and_table(frame: pd.DataFrame) -> None:
    X = frame[["deuda", "zona"]]
    score = frame["deuda"].to_numpy() * -50 + 600
    refs = population_reference(X, ["zona"], score=score)
    again = {k: BinnedReference.from_dict(v.to_dict()) for k, v in refs.items()}
    table = psi_table(again, X.assign(deuda=X["deuda"] + 2), score)
    by = dict(zip(table["variable"], table["psi"], strict=True))
    assert set(by) == {"deuda", "zona", "score"}
    assert by["deuda"] > PSI_SHIFT and by["zona"] < 1e-9 and by["score"] < 1e-9


def test_discrete_reference_has_one_bin_per_value_and_psi_rows_from_counts() -> None:
    from engine.training.monitoring import psi_rows

    values = np.array([0] * 30 + [1] * 50 + [2] * 20, dtype=float)
    ref = BinnedReference.discrete("rank", values)
    assert ref.edges == (0.0, 1.0) and ref.shares == (0.3, 0.5, 0.2)
    reference = {"rank": ref.to_dict()}
    same = psi_rows(reference, {"rank": [3, 5, 2]})[0]
    assert same["psi"] == 0.0 and same["band"] == "stable" and same["applicants"] == 10
    moved = psi_rows(reference, {"rank": [0, 2, 8]})[0]
    expected = sum((a - e) * np.log(max(a, 1e-4) / e) for a, e in ((1e-4, 0.3), (0.2, 0.5), (0.8, 0.2)))
    assert moved["psi"] == round(expected, 4) and moved["band"] == "significant"
    assert moved["label"] == "cambio significativo" and moved["actual_shares"] == [0.0, 0.2, 0.8]
    assert psi_rows(reference, {"rank": [0, 0, 0]})[0]["psi"] is None  # nobody counted: no figure
    with pytest.raises(ValueError):
        psi_rows(reference, {"rank": [1, 2]})
