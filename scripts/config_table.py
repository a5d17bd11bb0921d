"""The README's configuration table, rendered from the settings object (`core.config.Settings`): one row per
environment variable, its default and its description. The README keeps the rendered table between two markers;
tests/cli/test_config_table.py fails when they differ, so a new setting reaches the README with its field.

    .venv/bin/python scripts/config_table.py           print the table
    .venv/bin/python scripts/config_table.py --write   rewrite it in README.md
    .venv/bin/python scripts/config_table.py --check   exit 1 when README.md is not up to date
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402
from pydantic_core import PydanticUndefined  # noqa: E402

from core.config import REPO_ROOT, Settings  # noqa: E402

README = ROOT / "README.md"
START = "<!-- config-table:start: generated from core.config.Settings by scripts/config_table.py --write -->"
END = "<!-- config-table:end -->"


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if value is None or value == [] or value == "":
        return "—"
    if isinstance(value, SecretStr):
        return "a public development value"
    if isinstance(value, Path):
        try:
            return f"`{value.relative_to(REPO_ROOT)}/`"
        except ValueError:
            return f"`{value}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    missing = []
    for name, field in Settings.model_fields.items():
        variable = field.alias or name.upper()
        if not field.description:
            missing.append(variable)
        rows.append(f"| `{variable}` | {_default(field)} | {_cell(field.description or '')} |")
    if missing:
        raise SystemExit(f"settings without a description (Field(description=…)): {', '.join(missing)}")
    return "\n".join(rows)


def replace_in(text: str, table: str) -> str:
    if START not in text or END not in text:
        raise SystemExit(f"README.md has no {START!r} … {END!r} markers")
    head, rest = text.split(START, 1)
    _old, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv: list[str]) -> int:
    table = render()
    if not argv:
        print(table)
        return 0
    current = README.read_text(encoding="utf-8")
    wanted = replace_in(current, table)
    if argv == ["--write"]:
        if wanted != current:
            README.write_text(wanted, encoding="utf-8")
        return 0
    if argv == ["--check"]:
        if wanted != current:
            print("README.md's table is out of date: run scripts/config_table.py --write", file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
