"""Applicant PD (SPEC §4, §6): mapping, monotonicity over the answer space, calibration, artifacts, scaling."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from engine.derive import derive
from engine.pd import ApplicantPDModel, ModelUnavailable, load_served
from engine.pd import features as F
from engine.pd import registry as artifact
from engine.pd.model import WORSENING
from engine.pd.scaling import pd_from_score, raw_score_from_pd, score_from_pd
from engine.policy import DEFAULT_POLICY_PATH, PolicyError, default_policy
from engine.policy import parse_policy as _parse_policy
from engine.training import applicant as training
from engine.types import AssessmentRequest
from tests.samples import sample_profile

AS_OF = date(2026, 11, 24)
POLICY = default_policy()
PD_QUESTIONS = tuple(WORSENING)  # the answers PD depends on
SAMPLE = sample_profile()


def _policy_with(old: str, new: str):
    """The shipped policy with one textual edit (a copy an analyst would make)."""
    raw = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    assert raw.count(old) == 1, old
    return _parse_policy(raw.replace(old, new).encode(), Path("edited.toml"))


def _request(**answers: str) -> AssessmentRequest:
    data = json.loads(json.dumps(SAMPLE))
    data["answers"].update(answers)
    return AssessmentRequest.model_validate(data)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def model(model_dir: Path) -> ApplicantPDModel:
    # the directory is empty: this trains (the "first run" path)
    return load_served(model_dir, POLICY)


@pytest.fixture(scope="module")
def run() -> training.TrainingRun:
    return training.run_training(POLICY)


RESAMPLED = ('resampler = "none"', 'resampler = "over"'), ('recalibration = "none"', 'recalibration = "platt"')


@pytest.fixture(scope="module")
def resampled_run() -> training.TrainingRun:
    """The previous served procedure (random over-sampling + Platt), still a candidate in `train compare`."""
    raw = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    for old, new in RESAMPLED:
        assert raw.count(old) == 1, old
        raw = raw.replace(old, new)
    return training.run_training(_parse_policy(raw.encode(), Path("resampled.toml")))


# ------------------------------------------------------------------------------------------ mapping
def test_mapping_covers_every_answer_code() -> None:
    m = POLICY.pd.mapping
    tables = {
        "history_level": "historial_crediticio",
        "arrears_floor": "atrasos_12_meses",
        "credits_floor": "creditos_vigentes",
        "employment_level": "trabajo_tiempo",
        "existing_credits": "creditos_vigentes",
        "other_installment_plans": "creditos_vigentes",
    }
    for field, question in tables.items():
        assert set(getattr(m, field)) == set(POLICY.answers[question]), field
    for question, order in WORSENING.items():
        assert sorted(order) == sorted(POLICY.answers[question]), question
    # every German label of the two ordinal columns has a meaning under both readings
    df, _ = training.load_german()
    for reading in F.HISTORY_READINGS.values():
        assert set(df[F.COL_HISTORY]) == set(reading)
        assert set(reading.values()) == set(F.HISTORY_ORDER)
    assert set(df[F.COL_EMPLOYMENT]) == set(F.EMPLOYMENT_LABELS)


def test_policy_rejects_a_mapping_that_misses_a_code() -> None:
    with pytest.raises(PolicyError, match=r"pd\.mapping\.history_level.*missing \['sin_historial'\]"):
        _policy_with(', sin_historial = "none_or_all_paid" }', " }")


def test_a_mapping_that_breaks_monotonicity_is_refused(run: training.TrainingRun) -> None:
    bad = _policy_with(
        'excelente = "all_paid_here", bueno = "existing_paid"', 'excelente = "delay", bueno = "existing_paid"'
    )
    with pytest.raises(ValueError, match=r"pd\.mapping\.history_level"):
        ApplicantPDModel(run.artifact, bad.pd.mapping, bad.capacity.reference_rate_annual)


def test_credit_history_readings_on_the_data() -> None:
    """Read as printed, 'critical account' defaults least (the quirk); Grömping's reading is monotone."""
    df, _ = training.load_german()
    bad = df[F.TARGET] == F.BAD
    rates = {
        name: [bad[df[F.COL_HISTORY].map(reading) == level].mean() for level in F.HISTORY_ORDER]
        for name, reading in F.HISTORY_READINGS.items()
    }
    assert all(b >= a - 0.005 for a, b in itertools.pairwise(rates["groemping_2019"]))
    printed = dict(zip(F.HISTORY_ORDER, rates["as_printed"], strict=True))
    assert printed["critical"] < printed["all_paid_here"]


# ------------------------------------------------------------------------------------------ model
def test_bounded_coefficients_are_non_negative(model: ApplicantPDModel) -> None:
    a = model.artifact
    for col, nonneg in zip(F.COLUMNS, F.NONNEGATIVE, strict=True):
        if nonneg:
            assert a["coefficients"][col] >= 0.0, col
    for col in a["at_bound"]:
        assert a["coefficients"][col] == 0.0
    assert a["calibration"]["slope"] > 0


def _answer_grid() -> tuple[list[tuple[str, ...]], dict[str, list[str]]]:
    combos = list(itertools.product(*(WORSENING[q] for q in PD_QUESTIONS)))
    return combos, {q: [c[i] for c in combos] for i, q in enumerate(PD_QUESTIONS)}


LOANS = ((120000.0, 12), (350000.0, 48), (900000.0, 72))
AGES = (19, 35, 70)


class _AnswerGridPD:
    """PD of every combination of the PD answers (_answer_grid's order) at one price, term and age."""

    def __init__(self, model: ApplicantPDModel) -> None:
        m = POLICY.mappings
        self.model = model
        self.combos, self.cols = _answer_grid()
        self.income = np.array([m.income_by_band[c] for c in self.cols["ingreso_mensual"]])
        self.fraction = np.array([m.down_payment_fraction[c] for c in self.cols["enganche"]])
        shares = np.array([m.existing_payment_share[c] for c in self.cols["creditos_vigentes"]])
        self.existing = np.round(self.income * shares, 2)

    def __call__(self, price: float, term: int, age: int) -> np.ndarray:
        cols, n = self.cols, len(self.combos)
        X = self.model.mapper.encode_batch(
            trabajo_tiempo=cols["trabajo_tiempo"],
            historial_crediticio=cols["historial_crediticio"],
            creditos_vigentes=cols["creditos_vigentes"],
            atrasos_12_meses=cols["atrasos_12_meses"],
            requested_amount=np.round(price * (1 - self.fraction), 2),
            term_months=np.full(n, term),
            income_mxn=self.income,
            existing_payments=self.existing,
            age=np.full(n, age),
            clip=self.model.clip,
        )
        return self.model.predict_proba_encoded(X)


def _grid_pd(model: ApplicantPDModel) -> np.ndarray:
    """PD over every combination of the PD answers × LOANS × AGES, shaped as that grid."""
    pd_at = _AnswerGridPD(model)
    out = np.empty((len(pd_at.combos), len(LOANS), len(AGES)))
    for li, (price, term) in enumerate(LOANS):
        for ai, age in enumerate(AGES):
            out[:, li, ai] = pd_at(price, term, age)
    shape = tuple(len(WORSENING[q]) for q in PD_QUESTIONS)
    return out.reshape(*shape, len(LOANS), len(AGES))


def test_pd_never_falls_when_an_answer_gets_worse(model: ApplicantPDModel) -> None:
    grid = _grid_pd(model)
    assert grid.size == 4 * 5 * 4 * 4 * 4 * 5 * len(LOANS) * len(AGES)
    for axis, question in enumerate(PD_QUESTIONS):
        steps = np.diff(grid, axis=axis)
        assert steps.min() >= -1e-12, f"PD falls along {question}"
    # and the answers matter: the worst history/arrears/tenure/down payment is clearly riskier
    assert grid[-1, -1, -1, -1, -1, -1].min() > grid[0, 0, 0, 0, 0, 0].max()


def test_pd_never_falls_when_the_amount_or_the_term_grows(model: ApplicantPDModel) -> None:
    """Over every answer combination: a dearer vehicle (a larger requested amount) or a longer term never lowers
    PD. The bounds make it so: amount and duration coefficients >= 0 and the instalment class measured at the
    reference term (a longer term must not buy a lower class through a smaller payment)."""
    lim = POLICY.limits
    pd_at = _AnswerGridPD(model)
    prices = np.geomspace(lim.vehicle_price_min, lim.vehicle_price_max, 9)
    terms = np.unique(np.r_[np.arange(lim.term_months_min, lim.term_months_max + 1, 6), lim.term_months_max])
    grid = np.empty((len(pd_at.combos), len(prices), len(terms)))
    for pi, price in enumerate(prices):
        for ti, term in enumerate(terms):
            grid[:, pi, ti] = pd_at(price, term, 35)
    assert np.diff(grid, axis=1).min() >= -1e-12, "PD falls as the amount grows"
    assert np.diff(grid, axis=2).min() >= -1e-12, "PD falls as the term grows"
    assert (grid[:, -1, -1] > grid[:, 0, 0]).all()  # and they matter
    # the sign bounds that make it hold
    coef = model.artifact["coefficients"]
    assert coef["log_credit_amount"] >= 0 and coef["duration_months"] >= 0 and coef["installment_rate"] >= 0


def test_the_vectorised_grid_matches_predict(model: ApplicantPDModel) -> None:
    """The batch path used above is the same function as the hot path (checked on a sample with derive())."""
    grid = _grid_pd(model)
    rng = np.random.default_rng(7)
    shape = grid.shape
    for flat in rng.choice(grid.size, size=300, replace=False):
        idx = np.unravel_index(flat, shape)
        answers = {q: WORSENING[q][idx[i]] for i, q in enumerate(PD_QUESTIONS)}
        price, term = LOANS[idx[-2]]
        data = json.loads(json.dumps(SAMPLE))
        data["answers"].update(answers)
        data["loan"] = {"vehicle_price": price, "term_months": term}
        data["applicant"]["birth_year"] = AS_OF.year - AGES[idx[-1]]
        req = AssessmentRequest.model_validate(data)
        got = model.predict(req, derive(req, POLICY, AS_OF)).probability
        assert got == pytest.approx(grid[idx], rel=1e-12, abs=1e-15)


def test_pd_does_not_rise_with_declared_income(model: ApplicantPDModel) -> None:
    pds = []
    for income in (9000, 15000, 25000, 40000, 80000, 200000):
        data = json.loads(json.dumps(SAMPLE))
        data["applicant"]["monthly_income"] = income
        req = AssessmentRequest.model_validate(data)
        pds.append(model.predict(req, derive(req, POLICY, AS_OF)).probability)
    assert all(b <= a for a, b in itertools.pairwise(pds))
    assert pds[0] > pds[-1]


def test_predict_equals_the_encoded_batch_path(model: ApplicantPDModel) -> None:
    for answers in ({}, {"historial_crediticio": "malo"}, {"trabajo_tiempo": "menos_6m", "enganche": "menos_15"}):
        req = _request(**answers)
        der = derive(req, POLICY, AS_OF)
        x = model.encode(req, der)
        assert model.predict(req, der).probability == pytest.approx(model.predict_proba_encoded(x)[0], rel=1e-12)


def test_features_are_the_group_values_of_the_encoded_row(model: ApplicantPDModel) -> None:
    """What the result records for monitoring is the design row summed per group (an ordinal group's rank)."""
    for answers in ({}, {"historial_crediticio": "malo"}, {"trabajo_tiempo": "menos_6m", "enganche": "menos_15"}):
        req = _request(**answers)
        der = derive(req, POLICY, AS_OF)
        x = model.encode(req, der)[0]
        features = model.predict(req, der).features
        assert list(features) == list(F.GROUPS)
        for group, ix in F.GROUPS.items():
            assert features[group] == pytest.approx(float(x[list(ix)].sum()), rel=1e-12), group


def test_artifact_keeps_the_training_population_for_monitoring(run: training.TrainingRun) -> None:
    """Every feature group and the served score of the training rows, binned: the training rows against
    themselves have PSI 0, and a population with longer terms shows as a significant shift of `duration`."""
    from engine.training.monitoring import BinnedReference, group_values, psi_rows

    reference = run.artifact["reference"]
    assert set(reference) == {*F.GROUPS, "score"}
    values = group_values(run.X_train, F.GROUPS)
    counts = {}
    for name, spec in reference.items():
        ref = BinnedReference.from_dict(spec)
        assert sum(ref.shares) == pytest.approx(1.0)
        if name != "score":
            assert ref.edges is not None, name
            counts[name] = np.bincount(
                np.searchsorted(ref.edges, values[name], side="left"), minlength=len(ref.shares)
            ).tolist()
    assert BinnedReference.from_dict(reference["credit_history"]).edges == (0.0, 1.0, 2.0, 3.0)  # one bin per rank
    rows = {r["variable"]: r for r in psi_rows({k: reference[k] for k in counts}, counts)}
    assert all(r["psi"] == 0.0 for r in rows.values())
    longer = values["duration"] * 2
    dur = BinnedReference.from_dict(reference["duration"])
    assert dur.edges is not None
    shifted = np.bincount(np.searchsorted(dur.edges, longer, side="left"), minlength=len(dur.shares)).tolist()
    assert psi_rows({"duration": reference["duration"]}, {"duration": shifted})[0]["band"] == "significant"


def test_top_features_are_the_groups_that_raised_pd(model: ApplicantPDModel) -> None:
    req = _request(historial_crediticio="malo", trabajo_tiempo="menos_6m", atrasos_12_meses="ninguno")
    der = derive(req, POLICY, AS_OF)
    result = model.predict(req, der)
    x = model.encode(req, der)[0]
    a = model.cal_a
    expected = {
        g: a * float(np.dot(model.coef[list(ix)], x[list(ix)] - model.mean[list(ix)])) for g, ix in F.GROUPS.items()
    }
    ranked = sorted((v, g) for g, v in expected.items() if v > 1e-9)[::-1][: POLICY.pd.mapping.top_features]
    assert [t.feature for t in result.top_features] == [g for _, g in ranked]
    for t in result.top_features:
        assert t.contribution == pytest.approx(expected[t.feature], abs=1e-4)
        assert t.contribution > 0
    history = next(t for t in result.top_features if t.feature == "credit_history")
    assert "historial_crediticio=malo" in (history.answer or "")


# ------------------------------------------------------------------------------------- calibration
def test_the_served_fit_is_calibrated_without_recalibration(run: training.TrainingRun) -> None:
    """Fitted on the original class mix: no Platt step, mean PD at the data's rate, Brier below a constant."""
    assert run.artifact["calibration"] == {"method": "none", "slope": 1.0, "intercept": 0.0}
    y = run.y_holdout
    p = run.model.proba(run.X_holdout)
    assert np.array_equal(p, run.model.proba_uncalibrated(run.X_holdout))
    assert abs(p.mean() - y.mean()) < 0.03
    m = run.artifact["metrics"]
    assert m["holdout_brier_calibrated"] < m["holdout_brier_base_rate"]


def test_a_resampled_fit_without_recalibration_is_refused() -> None:
    with pytest.raises(PolicyError, match=r"pd\.training.*recalibrated"):
        _policy_with('resampler = "none"', 'resampler = "over"')


def test_calibration_lowers_brier_and_undoes_the_resampling_inflation(resampled_run: training.TrainingRun) -> None:
    run = resampled_run
    y = run.y_holdout
    p_unc = run.model.proba_uncalibrated(run.X_holdout)
    p_cal = run.model.proba(run.X_holdout)
    assert training.brier(y, p_cal) < training.brier(y, p_unc)
    # balanced training data pushes the mean PD towards 0.5; recalibration brings it back near the 30 % mix
    assert p_unc.mean() > 0.40
    assert abs(p_cal.mean() - y.mean()) < 0.05
    # Platt is monotone: the ranking (AUC) is unchanged
    assert training.auc(y, p_cal) == pytest.approx(training.auc(y, p_unc), abs=1e-12)
    m = run.artifact["metrics"]
    assert m["holdout_brier_calibrated"] < m["holdout_brier_base_rate"]


def test_discrimination_is_near_the_honest_ceiling(run: training.TrainingRun) -> None:
    m = run.artifact["metrics"]
    assert 0.66 <= m["cv_auc_mean"] <= 0.76
    assert m["holdout_auc"] > 0.65


def test_training_is_deterministic(run: training.TrainingRun) -> None:
    again = training.run_training(POLICY)
    assert again.artifact["coefficients"] == run.artifact["coefficients"]
    assert again.artifact["calibration"] == run.artifact["calibration"]
    # the version differs only if the checkout's code version moved in between
    assert again.artifact["training_fingerprint"] == run.artifact["training_fingerprint"]


def test_the_fit_equals_sklearn_where_the_bounds_do_not_bind(resampled_run: training.TrainingRun) -> None:
    """L-BFGS-B with bounds = sklearn's LogisticRegression on the columns whose bound does not bind."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    run = resampled_run
    cfg = run.artifact["training"]
    cfg = POLICY.pd.training.model_copy(update={"resampler": cfg["resampler"], "recalibration": cfg["recalibration"]})
    Xr, yr = training.resample(run.X_train, run.y_train, cfg.resampler, cfg.seed)
    free = ~run.model.fit.at_bound
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=cfg.l2_c, tol=1e-12, max_iter=100000))
    pipe.fit(Xr[:, free], yr)
    ours = run.model.proba_uncalibrated(run.X_holdout)
    theirs = pipe.predict_proba(run.X_holdout[:, free])[:, 1]
    assert np.max(np.abs(ours - theirs)) < 1e-5
    # and Platt = an unpenalised 1-D logistic regression on the out-of-fold logits
    oof = training.out_of_fold_logits(run.X_train, run.y_train, cfg, cfg.seed)
    platt = LogisticRegression(C=np.inf, tol=1e-12, max_iter=100000).fit(oof[:, None], run.y_train)
    assert platt.coef_[0, 0] == pytest.approx(run.model.platt.slope, rel=1e-4)
    assert platt.intercept_[0] == pytest.approx(run.model.platt.intercept, rel=1e-4, abs=1e-5)
    calibrated = platt.predict_proba(np.log(theirs / (1 - theirs))[:, None])[:, 1]
    assert np.max(np.abs(run.model.proba(run.X_holdout) - calibrated)) < 1e-5


# ---------------------------------------------------------------------------------------- artifacts
def _current_path(model_dir: Path, name: str = POLICY.pd.applicant_model) -> Path:
    version = artifact.current_version(model_dir, name)
    assert version is not None
    return artifact.version_dir(model_dir, name, version)


def test_artifact_is_json_with_its_provenance(model: ApplicantPDModel, model_dir: Path) -> None:
    path = _current_path(model_dir)
    assert path.parent.name == POLICY.pd.applicant_model
    assert sorted(p.name for p in path.iterdir()) == [artifact.CARD_FILE, artifact.MODEL_FILE]
    a = json.loads((path / artifact.MODEL_FILE).read_text(encoding="utf-8"))
    data_sha = hashlib.sha256(training.DATA_PATH.read_bytes()).hexdigest()
    assert a["data"]["sha256"] == data_sha
    assert a["model_version"].startswith(f"applicant-{data_sha[:8]}-")
    assert path.name == artifact.safe(a["model_version"])
    for key in ("coefficients", "intercept", "calibration", "feature_contract", "code_version", "created_at"):
        assert a[key] not in (None, "", {}), key
    assert a["policy_version"] == POLICY.version
    assert a["feature_contract"]["columns"] == list(F.COLUMNS)
    card = (path / artifact.CARD_FILE).read_text(encoding="utf-8")
    assert "PROXY" in card and "CC BY 4.0" in card
    assert f"{a['metrics']['holdout_auc']:.4f}" in card


def test_the_artifact_card_heads_with_cv_and_states_the_prior_shift_and_its_use(run: training.TrainingRun) -> None:
    """#16 item 2: the card beside every version heads with CV (the hold-out beside it), labels no step the
    model did not take, states the prior shift as an assumption, says what the model may and may not be used
    for, and does not call a model trained on the bank's outcomes a German Credit proxy."""
    from engine.pd.artifact import SHIPPED_DATA_FILE, model_card

    a, m = run.artifact, run.artifact["metrics"]
    assert training.DATA_PATH.name == SHIPPED_DATA_FILE
    assert a["training"]["resampler"] == "none" and a["calibration"]["method"] == "none"
    card = model_card(a)
    metrics = card[card.index("## Metrics") : card.index("## Prior shift")]
    headline = next(line for line in metrics.splitlines() if line.startswith("| ROC-AUC"))
    cv, holdout = f"{m['cv_auc_mean']:.4f} ± {m['cv_auc_std']:.4f}", f"{m['holdout_auc']:.4f}"
    assert headline.index(cv) < headline.index(holdout)  # CV first, the hold-out beside it
    assert "resampled" not in metrics and "before calibration" not in metrics  # neither step was taken
    shift = card[card.index("## Prior shift") : card.index("## Intended use")]
    assert f"portfolio_bad_rate` = {POLICY.pd.mapping.portfolio_bad_rate:g}" in shift and "assumption" in shift
    assert "May be used for" in card and "May not be used for" in card
    assert "German Credit data (1,000 loans, 30% bad" in card and "PROXY" in card
    # a version trained on the ETL's outcomes (asesor train applicant --from-db)
    from_db = json.loads(json.dumps(a))
    from_db["data"] = {**a["data"], "file": "loan_outcomes-bank.csv", "rows": 4200}
    from_db["metrics"] = {**m, "rows": 4200, "bad_rate": 0.11}
    other = model_card(from_db)
    assert "PROXY" not in other and "public German Credit" not in other
    assert "`loan_outcomes-bank.csv` (4,200 loans, 11% bad)" in other
    # a resampled, recalibrated fit shows the step before calibration under its name
    resampled = json.loads(json.dumps(a))
    resampled["training"]["resampler"] = "over"
    resampled["calibration"] = {"method": "platt", "slope": 0.9, "intercept": -0.1}
    assert "| Brier, resampled model before calibration |" in model_card(resampled)


def test_artifact_round_trip_gives_identical_pd(model: ApplicantPDModel, model_dir: Path) -> None:
    path = _current_path(model_dir)
    from_snapshot = ApplicantPDModel.from_artifact(path)  # mapping from the artifact's snapshot
    from_policy = ApplicantPDModel.from_artifact(path / artifact.MODEL_FILE, POLICY)
    for answers in ({}, {"historial_crediticio": "regular", "creditos_vigentes": "3_mas"}, {"enganche": "35_mas"}):
        req = _request(**answers)
        der = derive(req, POLICY, AS_OF)
        expected = model.predict(req, der)
        assert from_snapshot.predict(req, der) == expected
        assert from_policy.predict(req, der) == expected


def test_load_served_loads_the_current_artifact_without_training(
    model: ApplicantPDModel, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("must not train: a version is in service")

    monkeypatch.setattr(training, "run_training", refuse)
    again = load_served(model_dir, POLICY)
    assert again.model_version == model.model_version
    assert again.artifact["created_at"] == model.artifact["created_at"]


def test_other_training_settings_do_not_retrain_nor_move_current(
    model: ApplicantPDModel, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model in service is the analyst's choice: a policy whose [pd.training] differs (or a model trained
    on the bank's data) is served as promoted, never silently retrained (issue 16)."""
    shutil.copytree(model_dir, tmp_path / "m")
    model_dir = tmp_path / "m"
    monkeypatch.setattr(training, "run_training", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    other = _policy_with("seed = 20261124", "seed = 7")
    served = load_served(model_dir, other)
    assert served.model_version == model.model_version
    assert artifact.current_version(model_dir, POLICY.pd.applicant_model) == model.model_version
    assert len(artifact.promotions(model_dir, POLICY.pd.applicant_model)) == 1  # the bootstrap only


def test_a_broken_artifact_is_refused_naming_it(tmp_path: Path) -> None:
    base = tmp_path / POLICY.pd.applicant_model
    broken = base / "applicant-broken"
    broken.mkdir(parents=True)
    (broken / artifact.MODEL_FILE).write_text("{not json", encoding="utf-8")
    (base / artifact.CURRENT).write_text("applicant-broken\n", encoding="utf-8")
    with pytest.raises(ModelUnavailable, match="applicant applicant-broken") as err:
        load_served(tmp_path, POLICY)
    assert err.value.version == "applicant-broken" and "unreadable" in err.value.reason
    # never replaced: the pointer still names it and nothing was trained
    assert artifact.current_version(tmp_path, POLICY.pd.applicant_model) == "applicant-broken"
    assert sorted(p.name for p in base.iterdir() if not p.name.startswith(".")) == ["applicant-broken", "current"]


def test_a_missing_version_and_an_incompatible_feature_mapping_are_refused(
    model: ApplicantPDModel, model_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(model_dir, tmp_path / "m")
    m = tmp_path / "m"
    name = POLICY.pd.applicant_model
    (m / name / artifact.CURRENT).write_text("applicant-gone\n", encoding="utf-8")
    with pytest.raises(ModelUnavailable, match="applicant-gone"):
        load_served(m, POLICY)
    # a version whose feature contract is another schema's
    data = json.loads((_current_path(model_dir) / artifact.MODEL_FILE).read_text(encoding="utf-8"))
    data["model_version"] = "applicant-oldschema"
    data["feature_contract"]["schema"] = -1
    artifact.write(m, data)
    (m / name / artifact.CURRENT).write_text("applicant-oldschema\n", encoding="utf-8")
    with pytest.raises(ModelUnavailable, match="feature") as err:
        load_served(m, POLICY)
    assert err.value.version == "applicant-oldschema"


def test_versions_without_one_in_service_are_refused_not_retrained(model_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(model_dir, tmp_path / "m")
    (tmp_path / "m" / POLICY.pd.applicant_model / artifact.CURRENT).unlink()
    with pytest.raises(ModelUnavailable, match="no version is in service"):
        load_served(tmp_path / "m", POLICY)


def test_the_bootstrap_is_the_first_promotion(model: ApplicantPDModel, model_dir: Path) -> None:
    [record] = artifact.promotions(model_dir, POLICY.pd.applicant_model)
    assert record["from"] is None and record["to"] == model.model_version
    assert record["reason"].startswith("bootstrap") and record["by"].startswith("bootstrap") and record["at"]


def test_cli_train_applicant_writes_a_version_and_leaves_current(model_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    result = CliRunner().invoke(app, ["train", "applicant", "--model-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert Path(out["path"], artifact.MODEL_FILE).is_file()
    assert 0.5 < out["metrics"]["holdout_auc"] < 1.0
    # an empty registry: its first version goes into service
    assert _current_path(tmp_path, "applicant") == Path(out["path"]) and out["in_service"] == out["model_version"]
    # a registry with another version in service keeps it
    name = POLICY.pd.applicant_model
    (tmp_path / name / artifact.CURRENT).write_text("applicant-other\n", encoding="utf-8")
    again = json.loads(CliRunner().invoke(app, ["train", "applicant", "--model-dir", str(tmp_path)]).stdout)
    assert again["in_service"] == "applicant-other" and "train promote" in again["to_promote"]
    assert artifact.current_version(tmp_path, name) == "applicant-other"


# ------------------------------------------------------------------------------------------ scaling
# The first default (600 points at odds 10:1, 50 to double, fixed) as a fixed-anchor case; the shipped one is
# anchored at the book's odds: 600 at the book's average, 100 points to double (#12, docs/engine.md).
FIXED = POLICY.score_scaling.model_copy(update={"base_points": 600, "base_odds": 10.0, "pdo": 50.0, "anchor": "fixed"})


@pytest.mark.parametrize(("pd", "score"), [(0.01, 765), (0.05, 646), (0.30, 495), (0.90, 275)])
def test_score_scaling_checkpoints_fixed_anchor(pd: float, score: int) -> None:
    assert abs(score_from_pd(pd, FIXED) - score) <= 1


# 600 + 100 · log2(((1 − p) / p) / (0.92 / 0.08)), clamped to 0–1000
@pytest.mark.parametrize(("pd", "score"), [(0.01, 911), (0.05, 672), (0.08, 600), (0.30, 370), (0.90, 0)])
def test_score_scaling_checkpoints_book_anchor(pd: float, score: int) -> None:
    assert POLICY.score_scaling.anchor == "book" and POLICY.pd.mapping.portfolio_bad_rate == 0.08
    assert score_from_pd(pd, POLICY.score_scaling, 0.08) == score


def test_book_anchored_score_does_not_move_with_the_assumed_rate() -> None:
    """A prior shift moves an applicant's log-odds and the book's alike: the score stays."""
    s = POLICY.score_scaling
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    for p30 in (0.05, 0.2, 0.3, 0.6, 0.9):  # PDs on a 30 % training mix
        for book in (0.02, 0.08, 0.15):
            shifted = 1 / (1 + math.exp(-(logit(p30) + logit(book) - logit(0.30))))
            assert raw_score_from_pd(shifted, s, book) == pytest.approx(raw_score_from_pd(p30, s, 0.30), abs=1e-9)
    with pytest.raises(ValueError, match="book"):
        score_from_pd(0.1, s)


@pytest.mark.parametrize("s", [FIXED, POLICY.score_scaling])
def test_score_scaling_clamps_inverts_and_orders(s) -> None:
    book = 0.08 if s.anchor == "book" else None
    assert score_from_pd(0.0, s, book) == s.max_score
    assert score_from_pd(1.0, s, book) == s.min_score
    if s.anchor == "fixed":
        assert score_from_pd(0.5, s) == round(s.base_points - s.pdo / math.log(2) * math.log(s.base_odds))
    pds = np.linspace(0.001, 0.999, 500)
    scores = [score_from_pd(float(p), s, book) for p in pds]
    assert all(b <= a for a, b in itertools.pairwise(scores))
    for p in (0.02, 0.1, 0.3, 0.7):
        assert pd_from_score(raw_score_from_pd(p, s, book), s, book) == pytest.approx(p, rel=1e-12)
    with pytest.raises(ValueError):
        score_from_pd(1.2, s, book)
    with pytest.raises(ValueError):
        score_from_pd(float("nan"), s, book)


def test_portfolio_prior_shift_moves_the_mean_pd_and_keeps_the_order(run: training.TrainingRun) -> None:
    # the shipped policy shifts to 0.08; an analyst's copy without the key keeps German Credit's mix
    assert POLICY.pd.mapping.portfolio_bad_rate == 0.08
    plain_policy = _policy_with("\nportfolio_bad_rate = 0.08\n", "\n")
    assert plain_policy.pd.mapping.portfolio_bad_rate is None
    plain = ApplicantPDModel(run.artifact, plain_policy.pd.mapping, plain_policy.capacity.reference_rate_annual)
    shifted = ApplicantPDModel(run.artifact, POLICY.pd.mapping, POLICY.capacity.reference_rate_annual)
    p0 = plain.predict_proba_encoded(run.X_holdout)
    p1 = shifted.predict_proba_encoded(run.X_holdout)
    assert np.array_equal(np.argsort(p0, kind="stable"), np.argsort(p1, kind="stable"))
    # odds scale by the same factor for everyone: (0.08/0.92) / (0.30/0.70)
    odds_ratio = (p1 / (1 - p1)) / (p0 / (1 - p0))
    assert np.allclose(odds_ratio, (0.08 / 0.92) / (0.3 / 0.7), rtol=1e-9)
    assert 0.05 < p1.mean() < 0.12


def _load_served_in_child(model_dir: str) -> str:
    return load_served(Path(model_dir), default_policy()).model_version


def test_two_processes_training_at_once_end_with_one_valid_artifact(tmp_path: Path) -> None:
    import multiprocessing as mp

    with mp.get_context("fork").Pool(2) as pool:  # fork: no re-import; the race is what matters
        versions = pool.map(_load_served_in_child, [str(tmp_path), str(tmp_path)])
    assert versions[0] == versions[1]
    base = tmp_path / POLICY.pd.applicant_model
    files = sorted(p.name for p in base.iterdir() if not p.name.startswith("."))
    assert files == sorted([artifact.CURRENT, artifact.PROMOTIONS, artifact.safe(versions[0])])
    assert len(artifact.promotions(tmp_path, POLICY.pd.applicant_model)) == 1  # trained and promoted once
    assert ApplicantPDModel.from_artifact(base / artifact.safe(versions[0])).model_version == versions[0]


def test_cli_train_applicant_reports_a_bad_policy_as_json(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    bad = tmp_path / "bad.toml"
    bad.write_text(DEFAULT_POLICY_PATH.read_text(encoding="utf-8").replace("l2_c = 1.0", "l2_c = -1.0"))
    result = CliRunner().invoke(app, ["train", "applicant", "--policy", str(bad), "--model-dir", str(tmp_path)])
    assert result.exit_code == 2
    err = json.loads(result.stderr)
    assert err["error"]["code"] == "invalid_policy" and "pd.training.l2_c" in err["error"]["message"]
    assert not (tmp_path / "applicant").exists()
