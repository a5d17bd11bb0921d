"""core.logging and core.redaction: one handler, JSON or console lines, request ids from the context, nothing
secret in a line (message, arguments, traceback, key-value pairs), repeated lines rate-limited."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import structlog

from core.config import Settings
from core.logging import RepeatFilter, bind, bound, captured, clear_context, configure_logging
from core.redaction import Redactor, redact, register_secrets, secrets_of

BOT_TOKEN = "7012345678:AAHk3j4h5k6j7h8k9j0h1k2j3h4k5j6h7k8"
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwicm9sZSI6ImFkbWluIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
HANDOFF = "eyJhIjoiYWtfMTIzIiwiYiI6IjQ1NiJ9.Z0xYkQ.q1w2e3r4t5y6u7i8o9p0a1s2d3f"
# a compressed itsdangerous payload starts with a dot
ZIPPED = ".eJwNjDEOwjAMAP_iuZEaJ3GcfqJiYXdcm6V0ANShiL-TG0-n-8IJS5xAYAGOGZGMsHm2.aw-sdg.uia_EcTyKYpjlOA3hD2jOTdD-PE"
ARGON2 = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g"


@pytest.mark.parametrize(
    ("text", "secret", "mark"),
    [
        (f"GET /solicitud/{HANDOFF} failed", HANDOFF, "/solicitud/<token>"),
        ("POST /solicitud/abc123/confirmacion", "abc123", "/solicitud/<token>/confirmacion"),
        ("GET /resultado/opaque-value?x=1", "opaque-value", "/resultado/<token>"),
        (f"link {HANDOFF} sent", HANDOFF, "<token>"),
        (f"link {ZIPPED} sent", ZIPPED, "link <token> sent"),
        (f"Authorization: Bearer {JWT}", JWT, "Bearer <redacted>"),
        (f"token={JWT}", JWT, "<token>"),
        (f"POST https://api.telegram.org/bot{BOT_TOKEN}/getMe", BOT_TOKEN, "/bot<bot-token>/getMe"),
        (f"('{ARGON2}', 'ana')", ARGON2, "<argon2-hash>"),
        ("postgresql+psycopg://asesor:pw-s3cr3t@db:5432/asesor", "pw-s3cr3t", "asesor:<redacted>@db"),
        ("Cookie: asesor_session=abc.def; csrftoken=zz", "abc.def", "Cookie: <redacted>"),
        ("set asesor_chat=InNlc3Npb24i.c2lnbmF0dXJlc2lnbmF0dXJl; Path=/", "InNlc3Npb24i", "asesor_chat=<"),
        ("teléfono 55 1234 5678.", "1234 5678", "<phone>"),
        ("teléfono +52 55-1234-5678", "1234-5678", "<phone>"),
        ("teléfono 5512345678", "5512345678", "<phone>"),
        ("teléfono (333) 123 4567", "123 4567", "<phone>"),
    ],
)
def test_each_kind_of_secret_is_redacted_by_shape(text: str, secret: str, mark: str) -> None:
    out = redact(text)
    assert secret not in out and mark in out, out


@pytest.mark.parametrize(
    "text",
    [
        "storage.repositories.Storage: sqlalchemy.exc.OperationalError on POST /v1/assessments",
        "update 123456789 failed: TelegramNetworkError",
        "listening on 127.0.0.1:8081 at 2026-12-02T04:06:04Z, 8 workers, case 12 of 345",
        "webhook listening on 0.0.0.0:8443/telegram/webhook",
        "unhandled error on GET /solicitud/{token}",
    ],
)
def test_ordinary_lines_pass_unchanged(text: str) -> None:
    assert redact(text) == text


def test_the_settings_secrets_are_redacted_by_value() -> None:
    settings = Settings(
        ASESOR_JWT_SECRET="jwt-secret-of-this-test-0123456789",
        BOT_TOKEN="not-shaped-like-a-telegram-token",
        ASESOR_FERNET_KEY="first-fernet-key-aaaaaaaaaaaaaaaaa,second-fernet-key-bbbbbbbbbbbbbbb",
        REDIS_URL="redis://:redis-pass-123@127.0.0.1:6379/0",
        _env_file=None,
    )
    redactor = Redactor()
    redactor.register_secrets(secrets_of(settings))
    line = (
        "jwt-secret-of-this-test-0123456789 not-shaped-like-a-telegram-token second-fernet-key-bbbbbbbbbbbbbbb "
        "redis-pass-123"
    )
    out = redactor(line)
    assert out == "<ASESOR_JWT_SECRET> <BOT_TOKEN> <ASESOR_FERNET_KEY> <REDIS_URL>", out


def test_json_lines_carry_the_request_id_and_no_secret_anywhere() -> None:
    register_secrets([("ASESOR_HANDOFF_SECRET", "handoff-secret-of-this-test-42")])
    log = logging.getLogger("asesor.test.logging")
    with captured("DEBUG", "json") as lines:
        with bound(request_id="req-1"):
            log.info("GET /solicitud/%s with key %s", HANDOFF, "handoff-secret-of-this-test-42")
            try:
                raise RuntimeError(f"bad hash {ARGON2} for /solicitud/{HANDOFF}")
            except RuntimeError:
                log.exception("unhandled error")
            structlog.get_logger("asesor.test.structlog").info("login", authorization=f"Bearer {JWT}")
        log.info("outside any request")
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert [r["event"].split(" ")[0] for r in records] == ["GET", "unhandled", "login", "outside"]
    assert [r.get("request_id") for r in records] == ["req-1", "req-1", "req-1", None]
    assert records[0]["level"] == "info" and records[0]["logger"] == "asesor.test.logging"
    assert "RuntimeError" in records[1]["exception"] and "Traceback" in records[1]["exception"]
    assert records[2]["authorization"] == "Bearer <redacted>"
    text = "\n".join(lines)
    for secret in (HANDOFF, ARGON2, JWT, "handoff-secret-of-this-test-42"):
        assert secret not in text
    assert "<ASESOR_HANDOFF_SECRET>" in text and "/solicitud/<token>" in text


def test_console_format_is_readable_and_redacted() -> None:
    with captured("INFO", "console") as lines:
        logging.getLogger("asesor.test.console").warning("form at /solicitud/%s", HANDOFF)
    assert len(lines) == 1 and "[warning" in lines[0] and "/solicitud/<token>" in lines[0], lines
    assert not lines[0].startswith("{")


def test_configuring_twice_keeps_one_handler() -> None:
    root = logging.getLogger()
    before = len(root.handlers)
    configure_logging("INFO", "json")
    configure_logging("DEBUG", "console")
    configure_logging("WARNING", "json")
    ours = [h for h in root.handlers if getattr(h, "_asesor", False)]
    assert len(ours) == 1 and len(root.handlers) <= before + 1
    assert root.level == logging.WARNING


def test_repeated_lines_are_counted_not_written() -> None:
    now = [0.0]
    repeat = RepeatFilter(interval=10.0, clock=lambda: now[0])

    def record(msg: str, *args: object, level: int = logging.WARNING, **extra: object) -> logging.LogRecord:
        rec = logging.LogRecord("asesor.t", level, __file__, 1, msg, args, None)
        rec.__dict__.update(extra)
        return rec

    written = []
    for i in range(1000):  # 1000 lines in 10 s, each with other arguments: one template, one key
        rec = record("database unavailable on %s", f"/v1/x{i}")
        if repeat.filter(rec):
            written.append(rec.getMessage())
        now[0] += 0.0099
    for rec in (record("redis unavailable"), record("info lines pass", level=logging.INFO)):
        assert repeat.filter(rec)  # another key, and lines below WARNING, are not held back
    assert repeat.filter(record("x", throttle="outbox")) and not repeat.filter(record("y", throttle="outbox"))
    now[0] += 0.2
    last = record("database unavailable on %s", "/v1/y")
    assert repeat.filter(last)
    written.append(last.getMessage())
    assert written == [
        "database unavailable on /v1/x0",
        "database unavailable on /v1/y (999 similar lines suppressed in the last 10 s)",
    ]
    assert repeat.suppressed(("asesor.t", logging.WARNING, "database unavailable on %s")) == 0


def test_an_outage_writes_few_lines_through_the_real_handler() -> None:
    log = logging.getLogger("asesor.test.outage")
    with captured("INFO", "json") as lines:
        for i in range(200):
            log.warning("update %s failed: %s", i, "OperationalError")
    assert len(lines) == 1, lines


def test_context_is_cleared() -> None:
    bind(request_id="left-over")
    clear_context()
    with captured("INFO", "json") as lines:
        logging.getLogger("asesor.test.ctx").info("x")
    assert "request_id" not in json.loads(lines[0])


def test_cli_writes_json_lines_and_no_alembic_noise(tmp_path: Path) -> None:
    """`asesor --log-format json`: every stderr line is a JSON object; Alembic's INFO lines are not among them
    and alembic.ini does not replace the format."""
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    p = subprocess.run(
        [sys.executable, "-m", "cli", "--log-level", "INFO", "--log-format", "json", "db", "upgrade", "--url", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    for line in p.stderr.splitlines():
        record = json.loads(line)
        assert not record.get("logger", "").startswith("alembic"), record
    bad = subprocess.run(
        [sys.executable, "-m", "cli", "--log-format", "xml", "policy", "path"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and json.loads(bad.stderr)["error"]["field"] == "--log-format", bad.stderr
