"""History stays true (#12 item 6, #16 item 5): an assessment keeps the LGD and exposure it was assessed with,
and a later change of the policy's LGD does not rewrite past expected loss. Both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.policy import PolicyError, default_policy, load_policy
from storage.analytics import Analytics
from storage.db import downgrade, make_engine, migrate
from storage.repositories import Storage
from tests.models import get_assessor
from tests.samples import policy_variant, random_profiles

AS_OF = date(2026, 11, 24)


def test_assessments_record_their_loss_inputs_and_past_expected_loss_survives_an_lgd_change(
    storage: Storage, tmp_path: Path
) -> None:
    before = get_assessor()
    for profile in random_profiles(40, seed=3):
        storage.save_assessment(before.assess(profile, AS_OF), request=profile, channel="api")
    shipped = Analytics(storage.engine, default_policy()).expected_loss()
    assert shipped["expected_loss"] > 0 and shipped["lgd"] == pytest.approx(default_policy().product.lgd)

    # the analyst doubles the LGD: the past figures stay; the new assumption is reported beside them
    doubled = load_policy(policy_variant(tmp_path / "lgd.toml", {"lgd = 0.45": "lgd = 0.90"}, version="lgd-x2"))
    after_change = Analytics(storage.engine, doubled).expected_loss()
    assert after_change["expected_loss"] == shipped["expected_loss"]
    assert after_change["lgd"] == pytest.approx(0.45)
    assert after_change["assumptions"]["auto"]["lgd"] == 0.90
    seg_before = Analytics(storage.engine, default_policy()).segments(by="tenure")
    assert Analytics(storage.engine, doubled).segments(by="tenure") == seg_before

    # what is assessed under the new policy records 0.90, and only those rows carry it
    profile = random_profiles(1, seed=99)[0]
    new = get_assessor(doubled).assess(profile, AS_OF)
    assert new.loss_inputs.lgd == 0.90 and new.loss_inputs.source == doubled.product.source
    aid = storage.save_assessment(new, request=profile, channel="api")
    row = storage.get_assessment(aid)
    assert row is not None and (row.product, row.lgd) == ("auto", 0.90)
    assert row.exposure == pytest.approx(new.derived.requested_amount)
    assert row.exposure is not None
    assert row.expected_loss == pytest.approx(new.pd.probability * 0.90 * row.exposure, abs=0.01)
    mixed = Analytics(storage.engine, doubled).expected_loss()
    added = row.expected_loss if new.expert.decision in ("aprobado", "revisar") else 0.0
    assert mixed["expected_loss"] == pytest.approx(shipped["expected_loss"] + added, abs=0.02)


def test_migration_backfills_loss_inputs_from_the_policy_of_record(db_url: str) -> None:
    downgrade(db_url, "0003")
    engine = make_engine(db_url)
    try:
        old = sa.table(
            "assessments",
            *(sa.column(c) for c in ("id", "created_at", "channel", "policy_version", "model_version", "decision")),
            *(sa.column(c) for c in ("pd", "credit_score", "requested_amount", "expected_loss", "low_score")),
            sa.column("escalate"),
            sa.column("result", sa.JSON),
        )
        rows = [
            {"id": str(uuid.uuid4()), "pd": 0.1, "requested_amount": 200_000.0, "expected_loss": 9_000.0},
            {"id": str(uuid.uuid4()), "pd": 0.2, "requested_amount": 100_000.0, "expected_loss": None},
        ]
        common = {
            "created_at": datetime(2026, 11, 20, tzinfo=UTC).replace(tzinfo=None),
            "channel": "bot",
            "policy_version": "2026.11.1",
            "model_version": "m",
            "decision": "aprobado",
            "credit_score": 600,
            "low_score": False,
            "escalate": False,
            "result": {},
        }
        with engine.begin() as conn:
            conn.execute(old.insert(), [{**common, **r} for r in rows])
        migrate(db_url)
        with engine.connect() as conn:
            got = {
                r.id: r
                for r in conn.execute(sa.text("SELECT id, product, lgd, exposure, expected_loss FROM assessments"))
            }
        first, second = got[rows[0]["id"]], got[rows[1]["id"]]
        assert (first.product, first.lgd, first.exposure, first.expected_loss) == ("auto", 0.45, 200_000.0, 9_000.0)
        assert (second.lgd, second.exposure) == (0.45, 100_000.0)
        assert second.expected_loss == pytest.approx(0.2 * 0.45 * 100_000.0)
    finally:
        migrate(db_url)
        engine.dispose()


def test_the_policy_validates_loss_inputs_and_names_the_key(tmp_path: Path) -> None:
    for replacements, key in (
        ({"lgd = 0.45": "lgd = 1.5"}, "products.auto.lgd"),
        ({"ead_factor = 1.0": "ead_factor = 0"}, "products.auto.ead_factor"),
        ({"[products.auto]": "[products.moto]"}, "products"),
    ):
        with pytest.raises(PolicyError) as err:
            load_policy(policy_variant(tmp_path / "bad.toml", replacements))
        assert key in [k for k, _ in err.value.problems], err.value.problems
    # an older copy with [pd].lgd is told where the key went
    moved = policy_variant(tmp_path / "old.toml", {"approve_pd_below = 0.20": "lgd = 0.45\napprove_pd_below = 0.20"})
    with pytest.raises(PolicyError, match=r"moved to \[products.auto\]"):
        load_policy(moved)
