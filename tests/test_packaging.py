"""Packaging: the declared dependencies are exactly what the code imports, and no benchmark shadows a module.

Runtime packages (the wheel) may import only `[project].dependencies`; tests/, benchmarks/ and scripts/ may also
import the `test` group. A declared dependency nothing imports must say why on its line in pyproject.toml
(`# not imported by us: <reason>`), so a leftover (joblib, networkx) cannot sit there unnoticed.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
CONFIG = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
RUNTIME_PACKAGES = [Path(p).name for p in CONFIG["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]]
SUPPORT_DIRS = ["tests", "benchmarks", "scripts"]
NOT_IMPORTED = "# not imported by us:"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dist_name(requirement: str) -> str:
    return _norm(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0])


def _declared(requirements: list[str]) -> set[str]:
    return {_dist_name(r) for r in requirements}


def _exempt() -> set[str]:
    """Dependencies whose pyproject line says why nothing of ours imports them."""
    return {
        _dist_name(line.strip().strip('",').split('"')[0])
        for line in PYPROJECT.read_text(encoding="utf-8").splitlines()
        if NOT_IMPORTED in line and line.strip().startswith('"')
    }


def _local_names() -> set[str]:
    """Top-level names that resolve to this repository (our packages, test helpers put on sys.path)."""
    names = set(RUNTIME_PACKAGES) | set(SUPPORT_DIRS)
    for d in SUPPORT_DIRS:
        names |= {p.stem for p in (ROOT / d).rglob("*.py")}
    return names


def _imports(dirs: list[str]) -> dict[str, str]:
    """Third-party top-level module -> one file importing it."""
    local = _local_names()
    found: dict[str, str] = {}
    for d in dirs:
        for path in sorted((ROOT / d).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in local and top != "__future__":
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def _distributions(imports: dict[str, str]) -> dict[str, str]:
    """Distribution (normalised) -> a file importing it; fails on an import no installed distribution provides."""
    providers = md.packages_distributions()
    unknown = {m: f for m, f in imports.items() if m not in providers}
    assert not unknown, f"imported but provided by no installed distribution: {unknown}"
    return {_norm(providers[m][0]): f for m, f in imports.items()}


def test_runtime_imports_are_exactly_the_runtime_dependencies():
    declared = _declared(CONFIG["project"]["dependencies"])
    used = _distributions(_imports(RUNTIME_PACKAGES))
    undeclared = {d: f for d, f in used.items() if d not in declared}
    assert not undeclared, f"imported by the runtime packages, not in [project].dependencies: {undeclared}"
    unused = declared - set(used) - _exempt()
    assert not unused, f"declared and never imported (remove, or say why with {NOT_IMPORTED!r}): {sorted(unused)}"


def test_support_code_imports_only_runtime_and_test_dependencies():
    groups = CONFIG["dependency-groups"]
    runtime, test = _declared(CONFIG["project"]["dependencies"]), _declared(groups["test"])
    used = _distributions(_imports(SUPPORT_DIRS))
    undeclared = {d: f for d, f in used.items() if d not in runtime | test}
    assert not undeclared, f"imported by tests/benchmarks/scripts, in no group: {undeclared}"
    unused = test - set(used) - _exempt()
    assert not unused, f"test group entries nothing imports (remove, or say why): {sorted(unused)}"
    runtime_used = set(_distributions(_imports(RUNTIME_PACKAGES)))
    assert not (test & runtime_used), f"test-group packages imported at runtime: {sorted(test & runtime_used)}"
    assert not (runtime & test), f"declared twice (runtime and test): {sorted(runtime & test)}"
    assert not _declared(groups["dev"]) & (runtime | test), "a dev tool is also a runtime or test dependency"


def test_no_benchmark_shadows_a_package():
    """Run as a script, benchmarks/ comes first on sys.path: benchmarks/engine.py would be imported as `engine`."""
    taken = set(RUNTIME_PACKAGES) | set(sys.stdlib_module_names) | set(md.packages_distributions())
    shadowing = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py") if p.stem in taken)
    assert not shadowing, f"benchmarks that shadow an importable module: {shadowing}"


def test_import_contracts_hold():
    """The layering of pyproject's [tool.importlinter] (also run by scripts/test.sh): only storage imports
    SQLAlchemy, engine imports nothing of ours, dialogs no transport, bot and api never each other."""
    lint = Path(sys.executable).with_name("lint-imports")
    p = subprocess.run(
        [str(lint), "--no-logo", "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-1000:]
    assert "0 broken" in p.stdout
