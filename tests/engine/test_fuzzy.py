"""Fuzzy risk (seed 003): the rule parser, the membership functions and hedges, the fast path's equality
with scikit-fuzzy's ControlSystem (1e-6), monotone sanity, batch API, and a rule base that leaves gaps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.fuzzy import (
    FuzzyPolicyError,
    FuzzyRiskModel,
    ReferenceSystem,
    RuleSyntaxError,
    fuzzy_model,
    parse_rule,
    reference_risk,
    reference_system,
)
from engine.fuzzy.envelope import monotone_risk
from engine.fuzzy.membership import term_arrays, universe
from engine.fuzzy.model import _KEEP_GIL
from engine.fuzzy.rules import And, Is, Not, Or, evaluate
from engine.policy import DEFAULT_POLICY_PATH, PolicyError, default_policy, load_policy
from engine.policy.models import FuzzyPolicy, Policy

TOL = 1e-6
VARS = {"a": ("x", "y"), "b": ("x", "y"), "c": ("z",)}


@pytest.fixture(scope="module")
def policy() -> Policy:
    return default_policy()


@pytest.fixture(scope="module")
def model(policy: Policy) -> FuzzyRiskModel:
    return fuzzy_model(policy)


@pytest.fixture(scope="module")
def reference(policy: Policy) -> ReferenceSystem:
    return reference_system(policy)


def _with_fuzzy(policy: Policy, **changes: object) -> Policy:
    data = policy.fuzzy.model_dump(by_alias=True)
    data.update(changes)
    return policy.model_copy(update={"fuzzy": FuzzyPolicy.model_validate(data)})


# ------------------------------------------------------------------------------------------------ parser
class TestParser:
    def test_and_binds_tighter_than_or(self) -> None:
        assert parse_rule("a is x or b is y and c is z") == Or(Is("a", "x"), And(Is("b", "y"), Is("c", "z")))
        assert parse_rule("a is x and b is y or c is z") == Or(And(Is("a", "x"), Is("b", "y")), Is("c", "z"))

    def test_chains_associate_to_the_left(self) -> None:
        assert parse_rule("a is x and b is y and c is z") == And(And(Is("a", "x"), Is("b", "y")), Is("c", "z"))
        assert parse_rule("a is x or b is y or c is z") == Or(Or(Is("a", "x"), Is("b", "y")), Is("c", "z"))

    def test_parentheses_override_precedence(self) -> None:
        assert parse_rule("(a is x or b is y) and c is z") == And(Or(Is("a", "x"), Is("b", "y")), Is("c", "z"))
        assert parse_rule("((a is x))") == Is("a", "x")

    def test_is_not_and_prefix_not_are_complements(self) -> None:
        assert parse_rule("a is not x") == Not(Is("a", "x"))
        assert parse_rule("not a is x and b is y") == And(Not(Is("a", "x")), Is("b", "y"))
        assert parse_rule("not (a is x or b is y)") == Not(Or(Is("a", "x"), Is("b", "y")))

    def test_every_seed_rule_parses_against_the_policy(self, policy: Policy) -> None:
        names = {v: spec.term_names for v, spec in policy.fuzzy.variables.items()}
        trees = {r.id: parse_rule(r.if_, names) for r in policy.fuzzy.rules}
        assert trees["F2"] == And(Or(Is("ingreso", "medio"), Is("estabilidad", "moderada")), Is("puntaje", "regular"))
        assert trees["F4"] == And(Not(Is("ingreso", "alto")), Is("estabilidad", "inestable"))
        assert trees["F7"] == And(Is("estabilidad", "muy_estable"), Not(Is("puntaje", "malo")))

    def test_evaluation_is_min_max_complement(self) -> None:
        mu = {("a", "x"): 0.2, ("b", "y"): 0.7, ("c", "z"): 0.4}
        tree = parse_rule("(a is x or b is y) and c is not z")

        def leaf(n: Is) -> float:
            return mu[(n.var, n.term)]

        assert evaluate(tree, leaf, min, max, lambda v: 1 - v) == pytest.approx(min(max(0.2, 0.7), 1 - 0.4))

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("d is x", "unknown variable 'd' at position 0 (known: a, b, c)"),
            ("a is x and c is w", "'w' at position 16 is not a term of 'c' (terms: z)"),
            ("a is x and (b is y", "expected ')' at position 18, found end of rule"),
            ("a is x b is y", "expected 'and', 'or' or end of rule at position 7, found 'b'"),
            ("a x", "expected 'is' after 'a' at position 2, found 'x'"),
            ("a is", "expected a term name after 'a is' at position 4, found end of rule"),
            ("a is not and", "expected a term name after 'a is not' at position 9, found 'and'"),
            ("", "expected a variable name, 'not' or '(' at position 0, found end of rule"),
            ("a is x & b is y", "unexpected character '&' at position 7"),
            ("and is x", "expected a variable name, 'not' or '(' at position 0, found 'and'"),
        ],
    )
    def test_errors_say_what_and_where(self, text: str, message: str) -> None:
        with pytest.raises(RuleSyntaxError) as exc:
            parse_rule(text, VARS)
        assert str(exc.value) == message

    def test_a_bad_rule_fails_at_policy_load_naming_the_rule(self, tmp_path) -> None:
        raw = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
        bad = raw.replace('"ingreso is bajo and puntaje is malo"', '"ingreso is bajo and puntaje is pesimo"', 1)
        assert bad != raw
        path = tmp_path / "policy.toml"
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(PolicyError) as exc:
            load_policy(path)
        assert "fuzzy" in str(exc.value)
        assert "rules[0] (F1): 'pesimo' at position 31 is not a term of 'puntaje'" in str(exc.value)

    def test_a_step_that_misses_max_fails_at_load(self, policy: Policy) -> None:
        data = policy.fuzzy.model_dump(by_alias=True)
        data["variables"]["ingreso"]["step"] = 0.3
        with pytest.raises(ValueError, match=r"step 0\.3 does not divide"):
            FuzzyPolicy.model_validate(data)


# ------------------------------------------------------------------------------------------- memberships
class TestMemberships:
    def test_universes_are_min_to_max_inclusive(self, policy: Policy) -> None:
        x = universe(policy.fuzzy.variables["ingreso"])
        assert (x[0], x[-1], len(x)) == (0.0, 10.0, 1001)
        y = universe(policy.fuzzy.output)
        assert (y[0], y[-1], len(y)) == (0.0, 100.0, 1001)

    def test_samples_equal_skfuzzys_generators(self, policy: Policy) -> None:
        import skfuzzy

        for spec in (*policy.fuzzy.variables.values(), policy.fuzzy.output):
            x = universe(spec)
            ours = term_arrays(spec, x)
            for name, mf in spec.terms.items():
                if hasattr(mf, "trap"):
                    theirs = skfuzzy.trapmf(x, list(mf.trap))
                elif hasattr(mf, "tri"):
                    theirs = skfuzzy.trimf(x, list(mf.tri))
                else:
                    theirs = skfuzzy.gaussmf(x, mf.gauss.mean, mf.gauss.sigma)
                np.testing.assert_array_equal(ours[name], theirs, err_msg=name)

    @pytest.mark.parametrize(
        ("var", "term", "x", "expected"),
        [
            ("ingreso", "medio", 3.0, 1.0),  # triangle peak
            ("ingreso", "medio", 2.2, 0.5),  # half-way up 1.4 -> 3
            ("ingreso", "medio", 4.25, 0.5),  # half-way down 3 -> 5.5
            ("ingreso", "bajo", 1.4, 1.0),
            ("ingreso", "bajo", 2.1, 0.5),
            ("ingreso", "bajo", 2.8, 0.0),
            ("ingreso", "alto", 10.0, 1.0),
            ("ingreso", "alto", 7.2, math.exp(-0.5)),  # one sigma below the mean
            ("estabilidad", "inestable", 3.0, 0.5),
            ("estabilidad", "moderada", 5.5, 1.0),
            ("estabilidad", "estable", 5.0, math.exp(-2.0)),  # two sigmas
            ("puntaje", "malo", 250.0, 0.5),
            ("puntaje", "regular", 650.0, math.exp(-0.5)),
            ("puntaje", "bueno", 660.0, 0.5),
            ("puntaje", "bueno", 1000.0, 1.0),
            ("riesgo", "medio", 30.0, 0.5),
            ("riesgo", "bajo", 0.0, 1.0),
        ],
    )
    def test_seed_values(self, model: FuzzyRiskModel, var: str, term: str, x: float, expected: float) -> None:
        assert model.membership(var, term, x) == pytest.approx(expected, abs=1e-12)

    @pytest.mark.parametrize(
        ("var", "hedged", "base", "power"),
        [
            ("ingreso", "mas_o_menos_alto", "alto", 0.5),
            ("ingreso", "extremadamente_alto", "alto", 3.0),
            ("estabilidad", "muy_estable", "estable", 2.0),
            ("estabilidad", "mas_o_menos_estable", "estable", 0.5),
            ("puntaje", "muy_bueno", "bueno", 2.0),
            ("puntaje", "mas_o_menos_malo", "malo", 0.5),
            ("riesgo", "muy_bajo", "bajo", 2.0),
            ("riesgo", "mas_o_menos_alto", "alto", 0.5),
        ],
    )
    def test_hedges_are_powers_of_the_base_term(
        self, model: FuzzyRiskModel, var: str, hedged: str, base: str, power: float
    ) -> None:
        # at sample points (between them a hedged term is interpolated from its own samples, as in skfuzzy)
        spec = model.fuzzy.output if var == "riesgo" else model.fuzzy.variables[var]
        for x in universe(spec)[::37]:
            b = model.membership(var, base, x)
            assert model.membership(var, hedged, x) == pytest.approx(b**power, abs=1e-12)

    def test_firing_strengths_by_hand(self, model: FuzzyRiskModel) -> None:
        # ingreso 3 (medio = 1), estabilidad 5.5 (moderada = 1), puntaje 500 (regular = 1, malo = 0)
        act = model.activations(3.0, 5.5, 500.0)
        assert list(act) == [r.id for r in model.fuzzy.rules]
        assert act["F2"] == pytest.approx(1.0) and act["F6"] == pytest.approx(1.0)
        assert act["F1"] == 0.0 and act["F8"] == 0.0  # ingreso not bajo, estabilidad not inestable
        assert act["F5"] == pytest.approx(1.0)  # puntaje is not bueno (bueno(500) = 0)
        assert act["F7"] == pytest.approx(math.exp(-2 * (4.5**2) / (2 * 2.5**2)), rel=1e-3)  # muy_estable(5.5)

    def test_best_profile_by_hand(self, model: FuzzyRiskModel) -> None:
        # only F3 and F7 fire (at 1) -> the output is the bajo triangle (0, 0, 35): centroid 35/3
        act = model.activations(10.0, 10.0, 1000.0)
        assert act["F3"] == act["F7"] == pytest.approx(1.0)
        assert max(v for k, v in act.items() if k not in {"F3", "F7"}) < 0.004  # F2 via regular(1000) only
        assert model.risk(10.0, 10.0, 1000.0) == pytest.approx(35 / 3, abs=1e-9)


# ----------------------------------------------------------------------------------------- equivalence
def _axis(spec, n: int) -> np.ndarray:
    """Universe edges, every membership break point, and evenly spaced points between."""
    pts = list(np.linspace(spec.min, spec.max, n))
    for mf in spec.terms.values():
        pts += list(getattr(mf, "trap", None) or getattr(mf, "tri", None) or [mf.gauss.mean])
    return np.unique([p for p in pts if spec.min <= p <= spec.max])


def test_fast_path_equals_skfuzzy_over_a_dense_grid(policy: Policy, model, reference) -> None:
    """THE equivalence test: scikit-fuzzy's ControlSystem (its own array mode) against the fast path, scalar
    and batch, over a grid through every break point plus random points, to 1e-6. About 2,300 points: the
    reference spends ~2.5 ms on each (its centroid is a Python loop)."""
    v = policy.fuzzy.variables
    grid = np.meshgrid(_axis(v["ingreso"], 9), _axis(v["estabilidad"], 9), _axis(v["puntaje"], 9), indexing="ij")
    rng = np.random.default_rng(20261124)
    n = 300
    rand = [rng.uniform(0, 10, n), rng.uniform(0, 10, n), rng.uniform(0, 1000, n)]
    ing, est, pun = (np.concatenate([g.ravel(), r]) for g, r in zip(grid, rand, strict=True))
    assert len(ing) > 2000

    expected = reference.risk_many(ingreso=ing, estabilidad=est, puntaje=pun)
    batch = model.risk_many(ing, est, pun)
    scalar = np.array([model.risk(a, b, c) for a, b, c in zip(ing, est, pun, strict=True)])
    assert np.abs(batch - expected).max() < TOL
    assert np.abs(scalar - expected).max() < TOL
    assert expected.min() > 10 and expected.max() < 90  # a grid that spans the output, not a constant


def test_reference_scalar_mode_on_the_full_policy_system(policy: Policy, model, reference) -> None:
    # the scalar reference holds every output term (muy_bajo too), as the policy declares them
    rng = np.random.default_rng(3)
    points = [(0.0, 0.0, 0.0), (10.0, 10.0, 1000.0), (3.0, 5.5, 500.0), (2.8, 4.0, 720.0), (1.4, 7.0, 600.0)]
    points += [(rng.uniform(0, 10), rng.uniform(0, 10), rng.uniform(0, 1000)) for _ in range(60)]
    for a, b, c in points:
        assert abs(model.risk(a, b, c) - reference_risk(policy, a, b, c)) < TOL, (a, b, c)


def test_inputs_outside_the_universe_are_clipped_as_skfuzzy_does(policy: Policy, model) -> None:
    for raw, clipped in [((-3.0, 12.0, 1500.0), (0.0, 10.0, 1000.0)), ((25.0, -1.0, -50.0), (10.0, 0.0, 0.0))]:
        assert model.risk(*raw) == pytest.approx(model.risk(*clipped), abs=1e-12)
        assert abs(model.risk(*raw) - reference_risk(policy, *raw)) < TOL
    np.testing.assert_allclose(model.risk_many(np.array([-3.0]), 12.0, 1500.0), [model.risk(0.0, 10.0, 1000.0)])


# ---------------------------------------------------------------------------------------------- batch
def test_batch_matches_scalar_and_keeps_the_shape(model: FuzzyRiskModel) -> None:
    rng = np.random.default_rng(7)
    ing, est, pun = rng.uniform(-1, 11, (3, 40)), rng.uniform(-1, 11, (3, 40)), rng.uniform(-50, 1050, (3, 40))
    out = model.risk_many(ing, est, pun)
    assert out.shape == (3, 40)
    for idx in np.ndindex(out.shape):
        assert out[idx] == pytest.approx(model.risk(float(ing[idx]), float(est[idx]), float(pun[idx])), abs=1e-9)
    # broadcasting a scalar against arrays
    assert model.risk_many(5.0, est[0], 700.0).shape == (40,)
    acts = model.activations_many(ing[0], est[0], pun[0])
    assert acts.shape == (40, len(model.rule_ids))
    assert list(acts[5]) == pytest.approx(list(model.activations(ing[0, 5], est[0, 5], pun[0, 5]).values()))


def test_one_applicants_aggregate_equals_the_array_formula_and_keeps_the_gil(model: FuzzyRiskModel) -> None:
    """`risk`'s aggregate is `np.minimum(m, cuts).max(axis=0)` to the bit, built from pieces small enough that
    NumPy does not let go of the GIL (model.py `_KEEP_GIL`; docs/engine.md, "The GIL")."""
    rng = np.random.default_rng(11)
    for _ in range(2000):
        cuts = rng.uniform(0, 1, len(model.output_terms))
        cuts[rng.random(len(cuts)) < 0.3] = 0.0
        expected = np.minimum(model._m, cuts[:, None]).max(axis=0)
        assert np.array_equal(model._aggregate(cuts.tolist()), expected)
    pieces = [samples for term in model._term_pieces for _, samples in term]
    assert pieces and all(0 < len(p) <= _KEEP_GIL for p in pieces)


def test_envelope_scalar_path_equals_its_array_path_bit_for_bit(policy: Policy, model: FuzzyRiskModel) -> None:
    """The engine reads `risk` (plain Python), the policy simulation `risk_many` (NumPy): the same floats,
    on grid points, between them, on the tabled stabilities and between them, and outside every range."""
    env = monotone_risk(policy, model)
    rng = np.random.default_rng(12)
    n = 20_000
    ing, est, pun = rng.uniform(-0.1, 0.3, n), rng.uniform(-1, 11, n), rng.uniform(-50, 1050, n)
    ing[:3000], pun[:3000], est[:4000] = (
        rng.choice(env.incomes, 3000),
        rng.choice(env.scores, 3000),
        rng.choice(env.stabilities, 4000),
    )
    batch = env.risk_many(ing, est, pun)
    scalar = np.array([env.risk(a, b, c) for a, b, c in zip(ing.tolist(), est.tolist(), pun.tolist(), strict=True)])
    assert np.array_equal(batch, scalar)
    assert env.risk(0.05, 5, 600) == env.risk_many(np.array([0.05]), np.array([5.0]), np.array([600.0]))[0]  # ints


def test_nan_is_refused(model: FuzzyRiskModel) -> None:
    with pytest.raises(ValueError, match="estabilidad is NaN"):
        model.risk(1.0, float("nan"), 500.0)
    with pytest.raises(ValueError, match="puntaje contains NaN"):
        model.risk_many(np.ones(3), np.ones(3), np.array([1.0, np.nan, 2.0]))


# -------------------------------------------------------------------------------------------- monotone
def test_risk_falls_with_the_score_up_to_a_centroid_ripple(model: FuzzyRiskModel) -> None:
    """Across the whole score range a better score lowers risk (by > 10 points at every income and
    stability). It is not monotone step by step with the seed rules: as the score leaves `regular`, the
    `medio` cut (F2, F6) shrinks, and when the rest of the output mass lies above 50 the centroid moves *up*
    a little. Measured on this grid the rise never exceeds ~1.1 points; we hold it under 1.5."""
    i, e, s = np.linspace(0, 10, 21), np.linspace(0, 10, 21), np.linspace(0, 1000, 201)
    risk = model.risk_many(*np.meshgrid(i, e, s, indexing="ij"))
    assert (risk[:, :, 0] - risk[:, :, -1]).min() > 10.0
    rise = risk - np.minimum.accumulate(risk, axis=2)
    assert rise.max() < 1.5
    # in the low band (score <= 500, only malo and regular move) it is monotone
    low = s <= 500
    assert (np.diff(risk[:, :, low], axis=2) <= 1e-4).all()


def test_income_extremes_order(model: FuzzyRiskModel) -> None:
    # more income never raises risk from one end of the universe to the other (step by step it can: F2/F6)
    e, s = np.linspace(0, 10, 41), np.linspace(0, 1000, 41)
    ee, ss = np.meshgrid(e, s, indexing="ij")
    assert (model.risk_many(0.0, ee, ss) >= model.risk_many(10.0, ee, ss) - 1e-9).all()


# --------------------------------------------------------------------------------------- no rule fires
def test_a_rule_base_with_gaps_fails_at_build_and_falls_back_to_the_midpoint(policy: Policy) -> None:
    gappy = _with_fuzzy(policy, rules=[{"id": "G1", "if": "ingreso is bajo", "then": "alto"}])
    with pytest.raises(FuzzyPolicyError, match=r"no rule fires at ingreso=3, estabilidad=0, puntaje=0 "):
        fuzzy_model(gappy)
    unchecked = FuzzyRiskModel(gappy.fuzzy, check_coverage=False)
    assert unchecked.fallback == 50.0
    assert unchecked.risk(9.0, 5.0, 500.0) == 50.0
    assert unchecked.activations(9.0, 5.0, 500.0) == {"G1": 0.0}
    assert ReferenceSystem(gappy.fuzzy).risk(ingreso=9.0, estabilidad=5.0, puntaje=500.0) == 50.0
    both = unchecked.risk_many(np.array([9.0, 1.0]), 5.0, 500.0)
    assert both[0] == 50.0
    assert both[1] == pytest.approx(ReferenceSystem(gappy.fuzzy).risk(ingreso=1.0, estabilidad=5.0, puntaje=500.0))


def test_rules_on_a_variable_the_engine_does_not_feed_are_refused(policy: Policy) -> None:
    data = policy.fuzzy.model_dump(by_alias=True)
    data["variables"]["edad"] = data["variables"]["estabilidad"]
    data["rules"] = [*data["rules"], {"id": "E1", "if": "edad is estable", "then": "bajo"}]
    with pytest.raises(FuzzyPolicyError, match=r"use \['edad'\]"):
        FuzzyRiskModel(FuzzyPolicy.model_validate(data))


def test_models_are_cached_per_policy_content(policy: Policy, model: FuzzyRiskModel) -> None:
    assert fuzzy_model(policy) is model
    assert fuzzy_model(default_policy()) is model
    other = _with_fuzzy(policy, rules=[*policy.fuzzy.model_dump(by_alias=True)["rules"][:8]])
    assert other.content_hash == policy.content_hash  # a copy keeps the file's hash …
    assert fuzzy_model(other) is not model  # … but not the fuzzy section's fingerprint
    assert fuzzy_model(other).rule_ids == tuple(f"F{i}" for i in range(1, 9))
