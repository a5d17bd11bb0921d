"""The deployment files, checked statically (no Docker daemon runs here, and the client has no compose plugin).

- docker-compose.yml validates against the Compose Specification's JSON schema, vendored in deploy/ from the
  PyPI package check-jsonschema 0.39.0 (`check_jsonschema/builtin_schemas/vendor/compose-spec.json`, Apache-2.0,
  licence beside it), after the `${VAR:-default}` interpolation compose itself does;
- its structure is the one docs/deploy.md promises (issue #13's and #17's deployment bullets): the proxy is the
  only service publishing ports, N API and N bot replicas against one PostgreSQL and one Redis, ASESOR_ENV,
  healthchecks, Prometheus multiprocess mode where several workers serve, every required variable documented;
- the Caddyfile forwards the API and only the bot's webhook path; the Dockerfile runs as a non-root user with a
  healthcheck; `.env` (the secrets) stays out of the image and of git.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs  # installed with schemathesis (dev group)
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "deploy" / "compose-spec.schema.json"
SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"  # as shipped in the wheel
VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution: ${X}, ${X:-default}, ${X:?error} (required)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        name, kind, arg = m.groups()
        if name in env:
            return env[name]
        if kind == "?":
            raise KeyError(f"{name} is required: {arg}")
        return arg or ""

    return VAR.sub(sub, value)


def required_variables(text: str) -> set[str]:
    return {m.group(1) for m in VAR.finditer(text) if m.group(2) == "?"}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any]) -> dict[str, Any]:
    env = {name: f"value-of-{name.lower()}" for name in required_variables(COMPOSE.read_text())}
    return interpolate(raw, env)


def test_the_schema_is_the_vendored_one() -> None:
    import hashlib

    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_compose_file_is_valid_against_the_compose_spec(compose: dict[str, Any]) -> None:
    validator = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors, "\n".join(errors)


def test_the_schema_check_can_fail(compose: dict[str, Any]) -> None:
    """The validation above is not vacuous: a misspelt key or a wrong type is caught."""
    validator = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))
    broken = json.loads(json.dumps(compose))
    broken["services"]["api"]["helthcheck"] = broken["services"]["api"].pop("healthcheck")
    broken["services"]["bot"]["deploy"]["replicas"] = [2]
    assert len(list(validator.iter_errors(broken))) >= 2


def test_one_database_one_redis_and_replicated_api_and_bot(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "api", "bot", "proxy"} <= set(services)
    images = [s.get("image", "") for s in services.values()]
    assert sum(i.startswith("postgres:") for i in images) == 1 and sum(i.startswith("redis:") for i in images) == 1
    for name in ("api", "bot"):
        assert int(services[name]["deploy"]["replicas"]) >= 2, name
        env = services[name]["environment"]
        assert env["DATABASE_URL"].endswith("@postgres:5432/asesor") and env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["ASESOR_ENV"] == "production"  # the default when ASESOR_ENV is not set
    assert services["bot"]["environment"]["BOT_MODE"] == "webhook"
    assert "--appendonly" in services["redis"]["command"]  # dialogs and the event outbox survive a restart


def test_only_the_proxy_publishes_ports(compose: dict[str, Any]) -> None:
    published = {name for name, s in compose["services"].items() if s.get("ports")}
    assert published == {"proxy"}
    assert {"80:80", "443:443"} <= set(compose["services"]["proxy"]["ports"])
    assert "backend" not in compose["services"]["proxy"]["networks"]  # the proxy cannot reach the databases
    for name in ("postgres", "redis"):
        assert compose["services"][name]["networks"] == ["backend"]


def test_healthchecks_and_prometheus_multiprocess_mode(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("api", "bot", "postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
    assert "/healthz" in " ".join(services["api"]["healthcheck"]["test"])
    api = services["api"]
    workers = int(api["command"][api["command"].index("--workers") + 1])
    assert workers >= 2
    multiproc = api["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert any(t.split(":")[0] == multiproc for t in api["tmpfs"])  # empty at each start, per container
    proxy_deps = services["proxy"]["depends_on"]
    assert proxy_deps["api"]["condition"] == proxy_deps["bot"]["condition"] == "service_healthy"


def test_caddyfile_forwards_the_api_and_only_the_webhook_path() -> None:
    caddy = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "{$API_DOMAIN} {" in caddy and "{$BOT_DOMAIN} {" in caddy
    assert "dynamic a api 8000" in caddy and "health_uri /readyz" in caddy
    bot_site = caddy.split("{$BOT_DOMAIN} {", 1)[1]
    assert "handle /telegram/webhook {" in bot_site and "dynamic a bot 8081" in bot_site
    assert "respond 404" in bot_site
    from bot.app import WEBHOOK_PATH

    assert WEBHOOK_PATH == "/telegram/webhook"


def test_dockerfile_runs_as_a_non_root_user_with_a_healthcheck() -> None:
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text().splitlines() if ln.strip()]
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert any(ln.startswith("HEALTHCHECK ") for ln in lines)
    assert lines.index(next(ln for ln in lines if ln.startswith("USER "))) > max(
        i for i, ln in enumerate(lines) if ln.startswith("RUN ")
    )  # nothing runs as root after the switch


def test_the_env_file_with_the_secrets_stays_out_of_the_image_and_of_git(tmp_path: Path) -> None:
    """docs/deploy.md keeps the deployment's secrets in `.env` beside docker-compose.yml; `COPY . .` would bake
    it into an image layer (and the settings object would read /app/.env in every container of it), and nothing
    stopped a `git add .` from committing it (#13)."""
    import fnmatch
    import subprocess

    patterns = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln.strip() and ln[0] != "#"]
    for path in (".env", ".env.production", "deploy/.env"):
        assert any(fnmatch.fnmatch(path, p) for p in patterns), f".dockerignore lets {path} into the image"
    for path in (".env", ".env.production"):
        check = subprocess.run(
            ["git", "check-ignore", "--no-index", "-q", path], cwd=ROOT, capture_output=True, check=False
        )
        assert check.returncode == 0, f".gitignore does not ignore {path}"


def test_every_required_variable_is_documented() -> None:
    docs = (ROOT / "docs" / "deploy.md").read_text()
    missing = sorted(v for v in required_variables(COMPOSE.read_text()) if f"`{v}`" not in docs)
    assert not missing, f"docs/deploy.md does not list {missing}"
