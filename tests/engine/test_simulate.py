"""`asesor policy simulate` (engine/simulate): the invariants over the whole answer space × the loan grid on the
shipped policy, the simulation equal to `Assessor.assess` (experta, the ontology) on random points, and every
invariant checker shown able to fail on a deliberately broken policy.

The full run on the shipped policy is done once (module fixture) and serves both the invariants test and the
equality test; CI runs it here rather than a second time from scripts/test.sh (docs/engine.md says why).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from engine.assess import get_assessor
from engine.policy import DEFAULT_POLICY_PATH, default_policy, parse_policy
from engine.simulate import report, run
from engine.simulate.evaluate import AS_OF, rows
from engine.simulate.invariants import DECISIONS, Outcomes, best_and_worst, check_all, no_approval_without_bank

ROOT = Path(__file__).resolve().parents[2]


def policy_with(*changes: tuple[bytes, bytes], name: str = "lab-test.toml"):
    raw = DEFAULT_POLICY_PATH.read_bytes()
    for old, new in changes:
        assert old in raw, old
        raw = raw.replace(old, new, 1)
    return parse_policy(raw, Path(name))


# a small grid: the same 179,200 combinations, 2 prices × 2 ages (the broken-policy tests only need to see it break)
SMALL_GRID = (
    (b"vehicle_prices = [100000, 200000, 300000, 400000, 500000, 600000, 700000, 800000, 900000, 1000000]",
     b"vehicle_prices = [100000, 300000]"),
    (b"ages = [18, 25, 30, 40, 50, 60, 70, 75]", b"ages = [40, 60]"),
)  # fmt: skip


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "models"


@pytest.fixture(scope="module")
def shipped(models):
    assessor = get_assessor(default_policy(), model_dir=models)
    sim = run(assessor, workers=2)
    return sim, report(sim, 0.0)


def test_invariants_hold_over_the_full_space_on_the_shipped_policy(shipped):
    _, rep = shipped
    assert rep.space.answer_combinations == 179_200 and rep.space.grid_points == 10 * 5 * 8 * 5
    assert rep.space.terms == [12, 24, 36, 48, 60]
    assert {inv.name: inv.held for inv in rep.invariants} == {
        "no_approval_without_eligible_bank": True,
        "monotonicity": True,
        "rate_rises_with_pd": True,
        "rate_spans_the_range": True,
        "best_profile_approved_near_the_floor": True,
        "worst_profile_never_approved": True,
    }, [inv.model_dump() for inv in rep.invariants if not inv.held]
    assert rep.ok
    # "for each loan of the grid": every (price, term) is held to the rate invariants, none left unchecked
    loans = len(rep.space.vehicle_prices) * len(rep.space.terms)
    rate_invariants = [inv for inv in rep.invariants if inv.name in ("rate_rises_with_pd", "rate_spans_the_range")]
    assert [(inv.checked, inv.broken) for inv in rate_invariants] == [(loans, 0), (loans, 0)], rate_invariants
    # every decision occurs, the scores span the three fuzzy terms, R5 and R13 are reachable now
    assert all(rep.decisions[d].count > 0 for d in DECISIONS)
    assert all(share > 0 for share in rep.score_terms.values())
    fired = {r.rule: r.fired for r in rep.rules}
    assert fired["R5"] > 0 and fired["R13"] > 0 and fired["K1"] > 0 and fired["P1"] > 0 and fired["P2"] > 0
    # R3 cannot fire under the seed's membership functions, and says so
    assert "R3" in rep.dead_rules and [u.rule for u in rep.unreachable_rules] == ["R3"]
    assert rep.rate is not None and rep.rate.max - rep.rate.min >= 10
    json.dumps(rep.model_dump(mode="json"))  # the API stores it as JSON


def test_simulation_equals_assess_on_random_points(shipped):
    """The factored, vectorised simulation against the real path (experta, ontology) on 3,000 random points."""
    sim, _ = shipped
    t, o = sim.tables, sim.outcomes
    assessor = sim.assessor
    rng = random.Random(12)
    n_prof = len(t.space.profiles)
    risk = rows(t, 0, n_prof)["risk"]
    decisions = set()
    for _ in range(3000):
        combo = rng.randrange(t.space.size)
        p = int(t.space.profile_of[combo])
        idx = tuple(rng.randrange(n) for n in t.grid.shape)
        answers = t.space.combination(combo)
        request = {
            "answers": answers,
            "loan": {"vehicle_price": t.grid.prices[idx[0]], "term_months": t.grid.terms[idx[1]]},
            "applicant": {
                "birth_year": AS_OF.year - t.grid.ages[idx[2]],
                "monthly_income": float(t.incomes[t.bands.index(answers["ingreso_mensual"]), idx[3]]),
            },
        }
        r = assessor.assess(request, AS_OF)
        at = (p, *idx)
        got = (DECISIONS[int(o.decision[at])], o.rate_cents[at] / 100 if o.decision[at] == 2 else 0.0)
        assert got == (r.expert.decision, r.expert.rate), (request, r.expert)
        assert o.pd[at] == r.pd.probability and o.score[at] == r.credit_score
        assert risk[at] == pytest.approx(r.fuzzy.rule_risk, abs=1e-4)  # the result rounds it to 4 decimals
        decisions.add(r.expert.decision)
    assert decisions == set(DECISIONS)


def _small(models, *changes):
    policy = policy_with(*SMALL_GRID, *changes)
    sim = run(get_assessor(policy, model_dir=models), workers=2)
    return sim, {inv.name: inv for inv in check_all(sim.tables, sim.outcomes)}


def test_the_small_grid_holds_every_invariant_too(models):
    _, inv = _small(models)
    assert all(i.held for i in inv.values()), [i.model_dump() for i in inv.values() if not i.held]


def test_monotonicity_breaks_when_the_rules_read_the_seeds_own_risk(models):
    """The seed's fuzzy risk rises with income in places (F2/F6/F9): read as it is, a raise can cost a higher rate."""
    _, inv = _small(models, (b"[lab]", b"[fuzzy.envelope]\nmonotone = false\n\n[lab]"))
    m = inv["monotonicity"]
    assert not m.held and m.counterexample is not None
    assert m.counterexample["after"][m.counterexample["worse"]] != m.counterexample["before"][m.counterexample["worse"]]


def test_rate_invariants_break_when_the_rate_ignores_the_score(models):
    _, inv = _small(
        models,
        (b"base_rate_per_score = 16.0", b"base_rate_per_score = 0.0"),
        (b"base_rate_per_risk = 6.0", b"base_rate_per_risk = 1.0"),
    )
    assert not inv["rate_rises_with_pd"].held and inv["rate_rises_with_pd"].counterexample["spearman"] < 0.8
    assert not inv["rate_spans_the_range"].held


def test_best_profile_invariant_breaks_with_expensive_money(models):
    _, inv = _small(models, (b"base_rate_intercept = 5.0", b"base_rate_intercept = 9.0"))
    best = inv["best_profile_approved_near_the_floor"]
    assert not best.held and best.counterexample["outcome"]["rate"] > 6.5


def test_an_ordered_question_that_is_not_monotone_breaks(models):
    """Declaring "sin historial" the best history row contradicts the PD mapping: the checker sees it."""
    old = b'better_rows.historial_crediticio = ["excelente", "bueno", "sin_historial", "regular", "malo"]'
    new = b'better_rows.historial_crediticio = ["sin_historial", "excelente", "bueno", "regular", "malo"]'
    _, inv = _small(models, (old, new))
    m = inv["monotonicity"]
    assert not m.held and m.counterexample["change"].startswith("historial_crediticio: excelente -> sin_historial")


def test_an_unordered_question_that_matters_breaks(models):
    """A payroll bank that knocks a bank out changes eligibility: the verdict then depends on an unordered answer."""
    _, inv = _small(models, (b"otro = [1, 1, 1, 1, 1, 1]", b'otro = ["R", "R", "R", "R", "R", "R"]'))
    m = inv["monotonicity"]
    assert not m.held and "unordered" in m.counterexample["change"]


def test_knock_out_and_worst_profile_checkers_fail_on_outcomes_that_break_them(shipped):
    """No policy can approve a knocked-out applicant (K1 accepts only revisar/rechazado): break the outcomes."""
    sim, _ = shipped
    t, o = sim.tables, sim.outcomes
    forged = Outcomes(o.decision.copy(), o.rate_cents, o.pd, o.score, o.risk)
    forged.decision[t.space.profiles[:, 0] == 1] = 2
    assert not no_approval_without_bank(t, forged).held
    assert not best_and_worst(t, forged)[1].held


def test_the_score_does_not_move_with_the_assumed_book_rate(models):
    """Anchored at the book's odds, the score (and the risk the rules read) is the same whatever rate is assumed."""
    a, _ = _small(models)
    b, _ = _small(models, (b"\nportfolio_bad_rate = 0.08\n", b"\nportfolio_bad_rate = 0.03\n"))
    assert not np.array_equal(a.outcomes.pd, b.outcomes.pd)  # the PD shown moves with the assumption
    # the score may move by one point where rounding meets the float noise of the shift; the verdict does not
    diff = np.abs(a.outcomes.score.astype(int) - b.outcomes.score.astype(int))
    assert diff.max() <= 1 and diff.mean() < 1e-3
    assert (a.outcomes.decision == b.outcomes.decision).mean() > 0.9999


def test_cli_simulate_exits_1_when_an_invariant_breaks(tmp_path, models):
    bad = tmp_path / "bad.toml"
    raw = DEFAULT_POLICY_PATH.read_bytes()
    for old, new in (*SMALL_GRID, (b"base_rate_intercept = 5.0", b"base_rate_intercept = 9.0")):
        raw = raw.replace(old, new, 1)
    bad.write_bytes(raw)
    env = {"ASESOR_MODEL_DIR": str(models), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "cli", "policy", "simulate", "--policy", str(bad), "--json",
                          "--no-progress"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)  # fmt: skip
    assert out.returncode == 1, out.stderr
    body = json.loads(out.stdout)
    assert body["ok"] is False and any(not i["held"] for i in body["invariants"])
    assert out.stderr == ""  # no progress bar off a terminal, and a broken invariant is not an error


def test_cli_simulate_bad_policy_file_is_an_error_not_a_broken_invariant(tmp_path, models):
    """Exit 2 with the JSON error on stderr naming --policy (docs/cli.md): never the 1 of a broken invariant."""
    bad = tmp_path / "broken.toml"
    bad.write_text("version = [unclosed\n")
    env = {"ASESOR_MODEL_DIR": str(models), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "cli", "policy", "simulate", "--policy", str(bad), "--json",
                          "--no-progress"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    error = json.loads(out.stderr)["error"]
    assert error["code"] != "internal_error" and error["field"] == "--policy"


def test_policy_check_reports_unreachable_rules_and_a_threshold_makes_r3_reachable(tmp_path, models):
    env = {"ASESOR_MODEL_DIR": str(models), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "cli", "policy", "check"], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert [u["rule"] for u in json.loads(out.stdout)["unreachable_rules"]] == ["R3"]
    lowered = tmp_path / "r3.toml"
    lowered.write_bytes(
        DEFAULT_POLICY_PATH.read_bytes().replace(b"reject_risk_above = 0.8", b"reject_risk_above = 0.7")
    )
    out = subprocess.run([sys.executable, "-m", "cli", "policy", "check", str(lowered)], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=300)  # fmt: skip
    assert out.returncode == 0 and json.loads(out.stdout)["unreachable_rules"] == []


def test_as_of_is_a_fixed_date():
    assert date(2026, 1, 1) == AS_OF
