"""Segment strategies: the first rule of the policy's [strategies] that holds gives a segment's action."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.policy import PolicyError, default_policy, load_policy
from engine.strategies import holds, rank, suggest

POLICY = default_policy()
DEFAULT_TOML = Path(__file__).resolve().parents[2] / "engine" / "policy" / "default.toml"


def _segment(**figures: object) -> dict:
    base = {
        "payroll_bank": "bbva",
        "income_band": "20k_30k",
        "down_payment": "20_30",
        "applicants": 50,
        "approval_rate": 0.4,
        "review_rate": 0.1,
        "mean_pd": 0.12,
        "expected_loss_per_applicant": 5000.0,
        "top_bank": "banorte",
    }
    return {**base, **figures}


def test_the_shipped_rules_in_order() -> None:
    assert POLICY.strategies.dimensions == ("payroll_bank", "income_band", "down_payment")
    promote = suggest(_segment(approval_rate=0.7, mean_pd=0.05), POLICY)
    assert promote["action"] == "promote" and promote["bank"] == "banorte" and promote["rule"] == 1
    assert promote["label"] == "Promover con Banorte: aprobación alta y riesgo bajo"
    down = suggest(_segment(down_payment="menos_15", mean_pd=0.2), POLICY)
    assert down["action"] == "larger_down_payment" and down["rule"] == 2
    # the same risk with a large down payment is not asked for more; many reviews go to an advisor
    assert suggest(_segment(down_payment="35_mas", mean_pd=0.2), POLICY)["action"] is None
    assert suggest(_segment(review_rate=0.35), POLICY)["rule"] == 3
    assert suggest(_segment(expected_loss_per_applicant=20_000.0), POLICY)["rule"] == 4
    small = suggest(_segment(applicants=5, approval_rate=0.9, mean_pd=0.01), POLICY)
    assert small["action"] is None and "pequeña" in small["label"]


def test_conditions_all_hold_and_missing_figures_do_not() -> None:
    rule = POLICY.strategies.rules[1].when  # down payment in (menos_15, minimo_15) and mean PD >= 0.15
    assert holds(rule, _segment(down_payment="minimo_15", mean_pd=0.15))
    assert not holds(rule, _segment(down_payment="minimo_15", mean_pd=0.149))
    assert not holds(rule, _segment(down_payment="minimo_15", mean_pd=None))


def test_rank_by_the_policy_small_segments_last() -> None:
    ranked = rank(
        [
            _segment(payroll_bank="otro", approval_rate=0.9, applicants=3),
            _segment(payroll_bank="bbva", approval_rate=0.5),
            _segment(payroll_bank="banorte", approval_rate=0.8),
            _segment(payroll_bank="afirme", approval_rate=0.5, applicants=80),
        ],
        POLICY,
    )
    assert [s["payroll_bank"] for s in ranked] == ["banorte", "afirme", "bbva", "otro"]
    assert [s["rank"] for s in ranked] == [1, 2, 3, 4] and all("suggestion" in s for s in ranked)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('when = { down_payment = ["menos_15", "minimo_15"]', 'when = { down_payment = ["menos_5"]', "down_payment"),
        ('label = "Canalizar a un asesor: muchos casos en revisión"', 'label = "x"\nbank = "bbva"', "promote"),
        ('action = "promote"', 'action = "promote"\nbank = "banco_x"', "banco_x"),
        (
            'dimensions = ["payroll_bank", "income_band", "down_payment"]',
            'dimensions = ["payroll_bank", "nombre"]',
            "dimensions",
        ),
        ("mean_pd_below = 0.10", "mean_pd_below = 1.5", "mean_pd_below"),
    ],
)
def test_an_analysts_bad_rule_is_refused_naming_it(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = DEFAULT_TOML.read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "policy.toml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PolicyError) as exc:
        load_policy(bad)
    assert message in str(exc.value) and "strategies" in str(exc.value)


def test_a_policy_without_the_section_suggests_nothing(tmp_path: Path) -> None:
    text = DEFAULT_TOML.read_text(encoding="utf-8")
    plain = tmp_path / "policy.toml"
    plain.write_text(text[: text.index("\n[strategies]")], encoding="utf-8")
    policy = load_policy(plain)
    assert policy.strategies.rules == () and suggest(_segment(approval_rate=1.0, mean_pd=0.0), policy)["action"] is None
