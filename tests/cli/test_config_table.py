"""The README's configuration table is the one rendered from core.config.Settings (scripts/config_table.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("config_table", ROOT / "scripts" / "config_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_is_rendered_from_settings() -> None:
    script = _script()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert script.replace_in(readme, script.render()) == readme, (
        "README.md's configuration table differs from core.config.Settings: "
        "run .venv/bin/python scripts/config_table.py --write"
    )


def test_every_setting_has_a_row() -> None:
    from core.config import Settings

    table = _script().render()
    for name, field in Settings.model_fields.items():
        assert f"| `{field.alias or name.upper()}` |" in table
