"""The one redactor: what must never reach a log line, a CLI error or any text we ship.

    redact("POST /solicitud/eyJhc.MTIz.abc… failed for +52 55 1234 5678")
    -> "POST /solicitud/<token> failed for <phone>"

Tokens become `<token>`, secrets known by value `<VARIABLE_NAME>`, the rest `<phone>`, `<bot-token>`,
`<argon2-hash>` or `<redacted>`.

It removes, by shape: handoff and result-page tokens from paths (`/solicitud/<token>`, `/resultado/<token>`) and
any other itsdangerous-signed value, Bearer credentials and JWTs, Telegram bot tokens (also inside
`api.telegram.org/bot<token>/…` URLs), argon2 hashes, passwords in URLs (`postgresql://user:<secret>@…`),
cookie values (`Cookie:` / `Set-Cookie:` headers and our cookies by name) and phone numbers; and, by value,
every secret registered with `register_secrets` (the settings' keys and tokens, see `secrets_of`).

Shapes catch what no setting names (a token minted by the API, a user's phone); values catch a secret whatever
its shape. Both run on every handler of the logging set-up (core.logging) and on the CLI's JSON errors.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

# shortest registered secret replaced by value: shorter ones would match ordinary words
MIN_SECRET_LENGTH = 8

_B64 = r"[A-Za-z0-9_\-]"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # the applicant's form and result pages: the path segment is the credential (a route template's `{token}`
    # is left as it is)
    (re.compile(r"(/(?:solicitud|resultado)/)(?!\{)[^/\s?#\"'<>]+"), r"\1<token>"),
    # Telegram bot token `123456789:AA…` (35 characters after the colon), also in /bot<token>/getMe
    (re.compile(r"(?<![\d:])\d{5,15}:[A-Za-z0-9_\-]{30,}"), "<bot-token>"),
    # an Authorization header or any "Bearer x" in a message
    (re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=\-]+"), r"\1\2<redacted>"),
    # JWTs (three base64url parts, the header starts with `{"` -> eyJ)
    (re.compile(rf"\beyJ{_B64}*\.{_B64}+\.{_B64}*"), "<token>"),
    # itsdangerous-signed values (handoff links, web chat cookies): payload[.timestamp].signature
    # (a compressed payload starts with a dot)
    (re.compile(rf"(?<![\w.\-])\.?{_B64}{{6,}}(?:\.{_B64}{{4,8}})?\.{_B64}{{20,}}(?![\w\-])"), "<token>"),
    # password hashes
    (re.compile(r"\$argon2(?:id|i|d)\$[^\s'\")\]}]+"), "<argon2-hash>"),
    # credentials in URLs: scheme://user:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/\s@]*:)[^@\s/]+@"), r"\1<redacted>@"),
    # cookie headers and our cookies by name
    (re.compile(r"(?i)\b((?:set-)?cookie[\"']?\s*[:=]\s*[\"']?)[^\"'\n]+"), r"\1<redacted>"),
    (re.compile(r"\b(asesor_(?:session|chat|csrf)=)[^;\s\"',]+"), r"\1<redacted>"),
    # PostgreSQL's error detail quotes the row or key values ("Key (username)=(ana) already exists")
    (re.compile(r"\bDETAIL:[^\n]*"), "DETAIL: <redacted>"),
    # phone numbers: 10 digits (Mexico) with optional +52 and separators; also any run of 10 to 15 digits
    (
        re.compile(
            r"(?<![\w.\-+])(?:\+?52[ .\-]?)?"
            r"(?:\(?\d{2}\)?[ .\-]?\d{4}|\(?\d{3}\)?[ .\-]?\d{3})[ .\-]?\d{4}(?![\w\-]|\.\d)"
        ),
        "<phone>",
    ),
    (re.compile(r"(?<![\w.\-])\+?\d{10,15}(?![\w\-]|\.\d)"), "<phone>"),
]


class Redactor:
    """Shape patterns plus the registered secret values; thread-safe, cheap to call on every line."""

    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}
        self._lock = threading.Lock()
        self._by_value: re.Pattern[str] | None = None

    def register_secrets(self, secrets: Iterable[tuple[str, str]]) -> None:
        """(name, value) pairs; values shorter than MIN_SECRET_LENGTH are ignored."""
        with self._lock:
            for name, value in secrets:
                value = (value or "").strip()
                if len(value) >= MIN_SECRET_LENGTH:
                    self._secrets[value] = name
            if self._secrets:
                # longest first: a secret that contains another is replaced whole
                values = sorted(self._secrets, key=len, reverse=True)
                self._by_value = re.compile("|".join(re.escape(v) for v in values))

    def __call__(self, text: str) -> str:
        if not text:
            return text
        by_value = self._by_value
        if by_value is not None:
            text = by_value.sub(lambda m: f"<{self._secrets.get(m.group(0), 'secret')}>", text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def value(self, value: Any) -> Any:
        """Redact the strings inside a log event's values (dicts, lists, tuples), leaving other types."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(v) for v in value)
        return value


REDACTOR = Redactor()


def redact(text: str) -> str:
    """The process's redactor (core.logging registers the settings' secrets with it)."""
    return REDACTOR(text)


def register_secrets(secrets: Iterable[tuple[str, str]]) -> None:
    REDACTOR.register_secrets(secrets)


def secrets_of(settings: Any) -> list[tuple[str, str]]:
    """Every secret value of a settings object: its SecretStr fields (keys, the bot token, the Fernet keys one by
    one) and the passwords inside DATABASE_URL / REDIS_URL, each named by its environment variable."""
    from pydantic import SecretStr

    out: list[tuple[str, str]] = []
    for name, info in type(settings).model_fields.items():
        value = getattr(settings, name, None)
        label = info.alias or name.upper()
        if isinstance(value, SecretStr):
            raw = value.get_secret_value()
            out.append((label, raw))
            out.extend((label, part) for part in raw.split(",") if part.strip() != raw.strip())
        elif isinstance(value, str) and "://" in value:
            password = _url_password(value)
            if password:
                out.append((label, password))
    return out


def _url_password(url: str) -> str | None:
    match = re.match(r"^[a-z][a-z0-9+.\-]*://[^:/\s@]*:([^@\s/]+)@", url)
    return match.group(1) if match else None
