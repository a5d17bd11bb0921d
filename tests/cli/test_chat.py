"""`asesor chat` as a process driven through standard input (not a terminal): the whole dialog to the handoff
link, numbered options, a bad answer re-prompted, and what it stored."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from dialogs.flow import Flow
from dialogs.state import DialogState
from engine.policy import QUESTIONS, default_policy
from tests.models import default_model_dir, get_assessor
from tests.samples import strong_answers

ASESOR = str(Path(sys.executable).with_name("asesor"))
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POLICY = default_policy()
ANSWERS = strong_answers()


def _option(codes: list[str], code: str) -> str:
    return str(codes.index(code) + 1)


def test_a_whole_dialog_through_stdin(tmp_path: Path) -> None:
    get_assessor()  # the model artifact exists: the process does not train its own
    summary_fields = len(Flow(POLICY).summary_values(DialogState()))
    lines = ["1", "Ana López", "1990", "1"]  # Acepto, name, year, «Prefiero no darlo»
    lines += [_option(list(POLICY.answers[q]), ANSWERS[q]) for q in QUESTIONS]
    lines += ["1", "abc", "350 mil"]  # «Prefiero no decir», a bad price, a good one
    lines += [_option([str(t) for t in POLICY.offered_terms], "48")]
    lines += [str(summary_fields + 1), "1"]  # «Ver mi resultado» (after one button per field), the form's link
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'chat.sqlite3'}",
        "REDIS_URL": REDIS_URL,
        "ASESOR_DATA_DIR": str(tmp_path),
        "ASESOR_MODEL_DIR": str(default_model_dir()),
        "API_PUBLIC_URL": "http://127.0.0.1:8000",
    }
    proc = subprocess.run(
        [ASESOR, "chat"], input="\n".join(lines) + "\n", capture_output=True, text=True, env=env, cwd=tmp_path,
        timeout=300,
    )  # fmt: skip
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "¿Aceptas el aviso de privacidad?" in out and "  1) ✅ Acepto" in out and "<b>" not in out
    for k in range(1, 9):
        assert f"Pregunta {k} de 8" in out
    assert "> abc" in out and "No entendí la cantidad" in out  # echoed, explained, asked again
    assert "Tu resultado" in out and "Banco recomendado:" in out
    assert "→ Abrir solicitud: http://127.0.0.1:8000/solicitud/" in out
    with create_engine(env["DATABASE_URL"]).connect() as conn:
        channel, answers = conn.execute(text("SELECT channel, request FROM assessments")).one()
    assert channel == "terminal" and '"bbva"' in answers
