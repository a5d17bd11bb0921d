"""The engine is handed its settings (policy, model directory, data root) by the adapters, which read them through
core.config.Settings: no module under engine/ reads an environment variable (issue 18)."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"


def _reads(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        # os.environ, os.getenv, os.putenv… and `from os import environ, getenv`
        if (isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"}) or (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(a.name in {"environ", "getenv", "environb"} for a in node.names)
        ):
            lines.append(node.lineno)
    return lines


def test_no_engine_module_reads_the_environment() -> None:
    found = {
        str(path.relative_to(ENGINE.parent)): lines
        for path in sorted(ENGINE.rglob("*.py"))
        if (lines := _reads(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert found == {}


def test_the_check_sees_a_read() -> None:
    assert _reads(ast.parse("import os\nx = os.environ.get('A')\n")) == [2]
    assert _reads(ast.parse("from os import getenv\n")) == [1]
