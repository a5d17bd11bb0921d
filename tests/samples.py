"""The SPEC §7 sample profile for the tests, read from the file users run (examples/profile.json); a strong
applicant's answers; random profiles (the benchmarks' too); a variant of the shipped policy."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

_PROFILE: dict[str, Any] = json.loads((Path(__file__).parents[1] / "examples" / "profile.json").read_text())


def sample_profile() -> dict[str, Any]:
    """A fresh copy of the sample request (answers, loan, applicant): callers may change it."""
    return copy.deepcopy(_PROFILE)


def sample_answers() -> dict[str, str]:
    return dict(_PROFILE["answers"])


def strong_answers() -> dict[str, str]:
    """A strong applicant's answer code to each question, in the dialog's order (the chat tests walk it)."""
    return {
        "trabajo_tiempo": "mas_2a",
        "banco_nomina": "bbva",
        "historial_crediticio": "excelente",
        "creditos_vigentes": "1_2",
        "atrasos_12_meses": "ninguno",
        "enganche": "35_mas",
        "prioridad_financiamiento": "pagos_fijos",
        "ingreso_mensual": "mas_30k",
    }


def random_profiles(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """`n` random requests over the policy's answer codes, prices and terms (the benchmarks' shape)."""
    import random

    from engine.policy import default_policy

    policy = default_policy()
    rng = random.Random(seed)
    return [
        {
            "answers": {q: rng.choice(list(codes)) for q, codes in policy.answers.items()},
            "loan": {
                "vehicle_price": rng.randint(120_000, 1_200_000),
                "term_months": rng.choice(policy.limits.term_options),
            },
            "applicant": {"birth_year": rng.randint(1955, 2004), "monthly_income": None},
        }
        for _ in range(n)
    ]


def policy_variant(path: Path, replacements: dict[str, str], version: str | None = None) -> Path:
    """A copy of the shipped policy at `path` with exact text replacements (each must occur once)."""
    import re

    from engine.policy import DEFAULT_POLICY_PATH

    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    if version is not None:  # [meta].version is the file's first `version = …` line
        text = re.sub(r'^version = ".*"$', f'version = "{version}"', text, count=1, flags=re.M)
    for old, new in replacements.items():
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the shipped policy"
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path
