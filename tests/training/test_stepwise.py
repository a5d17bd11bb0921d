from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import statsmodels.api as sm

from engine.training.logit import INTERCEPT, DesignSpec, LogitModel, aic_of, fit_logit
from engine.training.stepwise import stepwise_aic
from tests.training.conftest import make_frame


def test_stepwise_drops_the_pure_noise_column(dataset) -> None:
    spec = DesignSpec.fit(dataset.X, dataset.categorical)
    result = stepwise_aic(spec, dataset.X, dataset.y)
    assert "ruido" in result.dropped
    assert {"deuda", "cuentas", "zona"} <= set(result.fit.terms)
    # every accepted move lowered the AIC, as R's step() requires
    aics = [s.aic for s in result.path]
    assert all(b < a for a, b in itertools.pairwise(aics))
    assert result.path[-1].aic == result.fit.aic or abs(result.path[-1].aic - result.fit.aic) < 1e-6


def test_stepwise_adds_back_a_term_when_started_without_it(dataset) -> None:
    spec = DesignSpec.fit(dataset.X, dataset.categorical)
    result = stepwise_aic(spec, dataset.X, dataset.y, start=["ruido", "monto"])
    assert any(s.move == "+ deuda" for s in result.path)
    assert "deuda" in result.fit.terms and "ruido" not in result.fit.terms


def test_factor_moves_as_one_term(dataset) -> None:
    spec = DesignSpec.fit(dataset.X, dataset.categorical)
    assert spec.levels["zona"] == ("centro", "norte", "sur")  # reference = first level, as R
    assert spec.columns_of("zona") == ["zona=norte", "zona=sur"]
    fit = fit_logit(spec, dataset.X, dataset.y, ["deuda", "zona"])
    assert set(fit.coef) == {INTERCEPT, "deuda", "zona=norte", "zona=sur"}


def test_fit_matches_statsmodels_on_the_raw_design() -> None:
    frame = make_frame(2000, seed=5)
    X = frame[["deuda", "cuentas", "monto"]]
    y = frame["malo"]
    spec = DesignSpec.fit(X, [])
    ours = fit_logit(spec, X, y, ["deuda", "cuentas", "monto"])
    ref = sm.Logit(y.to_numpy(float), sm.add_constant(X.astype(float))).fit(disp=0)
    np.testing.assert_allclose([ours.coef[c] for c in ["deuda", "cuentas", "monto"]], ref.params[1:], rtol=1e-6)
    np.testing.assert_allclose([ours.std_err[c] for c in ["deuda", "cuentas", "monto"]], ref.bse[1:], rtol=1e-5)
    np.testing.assert_allclose(
        [ours.p_value[c] for c in ["deuda", "cuentas", "monto"]], ref.pvalues[1:], rtol=1e-4, atol=1e-12
    )
    assert abs(ours.aic - ref.aic) < 1e-6
    assert abs(aic_of(spec, X, y, ["deuda", "cuentas", "monto"]) - ref.aic) < 1e-6
    assert ours.odds_ratio["deuda"] == np.exp(ours.coef["deuda"])


def test_model_round_trips_through_json_and_predicts_the_same(dataset) -> None:
    import json

    spec = DesignSpec.fit(dataset.X, dataset.categorical)
    model = LogitModel.from_fit(spec, fit_logit(spec, dataset.X, dataset.y, ["deuda", "zona"]))
    again = LogitModel.from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_allclose(again.predict_proba(dataset.X), model.predict_proba(dataset.X))
    # an unseen level falls on the reference level instead of failing
    odd = dataset.X.head(3).assign(zona="oeste")
    ref = dataset.X.head(3).assign(zona="centro")
    np.testing.assert_allclose(model.predict_proba(odd), model.predict_proba(ref))


def test_intercept_only_model_is_the_base_rate() -> None:
    frame = make_frame(500)
    spec = DesignSpec.fit(frame[["deuda"]], [])
    fit = fit_logit(spec, frame[["deuda"]], frame["malo"], [])
    rate = frame["malo"].mean()
    assert abs(1 / (1 + np.exp(-fit.coef[INTERCEPT])) - rate) < 1e-6
    assert isinstance(pd.DataFrame(fit.table()), pd.DataFrame)
