"""Pseudonymous user keys and encryption of personal data at rest.

- `pseudonymize(telegram_id, key)`: HMAC-SHA256(key, "tg:<id>") as 64 hex chars (`pseudonymize_session`:
  "web:<session id>" for a web chat applicant). Stable for one key, so the
  same person keeps one key across sessions; without the key it cannot be reversed or recomputed from a
  list of Telegram ids. Key: ASESOR_PSEUDONYM_KEY.
- `Cipher`: Fernet (AES-128-CBC + HMAC-SHA256, with timestamps) over name, phone and contact details.
  ASESOR_FERNET_KEY may hold several comma-separated keys: the first encrypts, all decrypt (key rotation
  with MultiFernet; `Cipher.rotate` re-encrypts a token under the first key).

Missing key (documented in docs/storage.md):
- development (the database is SQLite, i.e. no DATABASE_URL or a sqlite one): a key is generated once into
  `<data_dir>/secrets/fernet.key` (mode 0600) and a warning is logged; data stays readable across restarts.
- production (any other database): `MissingKeyError` on first use — the process refuses to store personal
  data in a form it could not later decrypt, or with a key nobody configured.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger(__name__)


class MissingKeyError(RuntimeError):
    """A secret needed to protect personal data is not configured (production)."""


class DecryptionError(RuntimeError):
    """A token could not be decrypted with any configured key."""


def pseudonymize(telegram_id: int | str, key: str | bytes) -> str:
    if isinstance(key, str):
        key = key.encode()
    return hmac.new(key, f"tg:{int(telegram_id)}".encode(), hashlib.sha256).hexdigest()


def pseudonymize_session(session_id: str, key: str | bytes, surface: str = "web") -> str:
    """The key of a web chat (or terminal) applicant: HMAC-SHA256(key, "<surface>:<session id>")."""
    if isinstance(key, str):
        key = key.encode()
    return hmac.new(key, f"{surface}:{session_id}".encode(), hashlib.sha256).hexdigest()


class Cipher:
    """Encrypts/decrypts small strings and JSON with (Multi)Fernet."""

    def __init__(self, keys: list[bytes]):
        if not keys:
            raise MissingKeyError("no Fernet key")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except (ValueError, TypeError) as exc:  # a malformed key must fail loudly at start, not per row
            raise MissingKeyError(f"ASESOR_FERNET_KEY is not a valid Fernet key: {exc}") from None

    @classmethod
    def from_key_string(cls, keys: str) -> Cipher:
        return cls([k.strip().encode() for k in keys.split(",") if k.strip()])

    @classmethod
    def for_environment(cls, fernet_keys: str | None, *, production: bool, data_dir: Path) -> Cipher:
        if fernet_keys:
            return cls.from_key_string(fernet_keys)
        if production:
            raise MissingKeyError(
                "ASESOR_FERNET_KEY is not set: refusing to store personal data with PostgreSQL "
                "(generate one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            )
        return cls([_dev_key(data_dir)])

    def encrypt(self, value: str | None) -> bytes | None:
        if value is None:
            return None
        return self._fernet.encrypt(value.encode("utf-8"))

    def decrypt(self, token: bytes | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(bytes(token)).decode("utf-8")
        except InvalidToken:
            raise DecryptionError("token not decryptable with the configured keys") from None

    def encrypt_json(self, value: Any) -> bytes | None:
        if value is None:
            return None
        return self.encrypt(json.dumps(value, ensure_ascii=False, sort_keys=True))

    def decrypt_json(self, token: bytes | None) -> Any:
        text = self.decrypt(token)
        return None if text is None else json.loads(text)

    def rotate(self, token: bytes) -> bytes:
        return self._fernet.rotate(bytes(token))


def _dev_key(data_dir: Path) -> bytes:
    path = Path(data_dir) / "secrets" / "fernet.key"
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # write a private temp file, then hard-link it into place: link() fails if another process won the
    # race, and the file is never seen half-written
    tmp = path.with_name(f".fernet.key.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return path.read_bytes().strip()
    finally:
        tmp.unlink(missing_ok=True)
    log.warning("ASESOR_FERNET_KEY not set: generated a development key at %s (never use in production)", path)
    return key
