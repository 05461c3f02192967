"""API keys of the gateway, stored hashed in ``QIAO_HOME/gateway/keys.json``.

A key reads ``qiao-<id>-<secret>``: the id selects the record, and the record
keeps only a per-key salt and SHA-256(salt + key), so the file does not reveal
keys. A plain salted hash is enough because the secret is 32 random bytes, far
beyond guessing. A key may be limited to some knowledge bases and models.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qiao.errors import InvalidInputError, NotFoundError, StorageError
from qiao.fileio import write_json_atomic

__all__ = ["ApiKey", "KeyStore"]

logger = logging.getLogger(__name__)

KEY_PREFIX = "qiao-"


@dataclass
class ApiKey:
    """A stored key: its id, name, limits and hash."""

    id: str
    name: str
    salt: str
    sha256: str
    created: str
    # Empty lists mean no limit; otherwise the key may use only these.
    kbs: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    revoked: str = ""

    @property
    def restricted(self) -> bool:
        return bool(self.kbs or self.models)

    def allows(self, model: str) -> bool:
        """Return whether this key may use ``model`` (``kb:NAME`` for a knowledge base)."""
        if not self.restricted:
            return True
        if model.startswith("kb:"):
            return model[len("kb:") :] in self.kbs
        return model in self.models

    def public_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "created": self.created,
            "kbs": self.kbs,
            "models": self.models,
            "revoked": self.revoked,
        }


class KeyStore:
    """The key file of one Qiao home; reread when another process changes it."""

    def __init__(self, home: Path) -> None:
        self.path = home / "gateway" / "keys.json"
        self._lock = threading.Lock()
        self._keys: dict[str, ApiKey] = {}
        self._stamp: tuple[int, int] | None = None

    def create(self, name: str, kbs: list[str], models: list[str]) -> tuple[ApiKey, str]:
        """Store a new key and return it with its secret, which is never stored."""
        name = name.strip()
        if not name:
            raise InvalidInputError("the key name is empty; give a name such as 'web-app'")
        key_id = secrets.token_hex(4)
        secret = f"{KEY_PREFIX}{key_id}-{secrets.token_urlsafe(32)}"
        salt = secrets.token_hex(16)
        record = ApiKey(
            id=key_id,
            name=name,
            salt=salt,
            sha256=_hash(salt, secret),
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            kbs=sorted(set(kbs)),
            models=sorted(set(models)),
        )
        with self._lock:
            keys = self._read()
            keys[key_id] = record
            self._write(keys)
        logger.info("created API key %s (%s)", key_id, name)
        return record, secret

    def list_keys(self) -> list[ApiKey]:
        with self._lock:
            return sorted(self._read().values(), key=lambda key: key.created)

    def revoke(self, key_id: str) -> ApiKey:
        with self._lock:
            keys = self._read()
            record = keys.get(key_id)
            if record is None:
                known = ", ".join(sorted(keys)) or "none"
                raise NotFoundError(
                    f"API key {key_id!r} not found (existing: {known}); list keys with "
                    "'qiao keys list'"
                )
            if not record.revoked:
                record.revoked = time.strftime("%Y-%m-%dT%H:%M:%S%z")
                self._write(keys)
                logger.info("revoked API key %s", key_id)
            return record

    def verify(self, secret: str) -> tuple[ApiKey | None, str]:
        """Return the key for ``secret``, or None with the reason it is not accepted."""
        if not secret.startswith(KEY_PREFIX):
            return None, "the API key is not a Qiao key; create one with 'qiao keys create NAME'"
        key_id = secret[len(KEY_PREFIX) :].partition("-")[0]
        with self._lock:
            record = self._current().get(key_id)
        if record is None or not hmac.compare_digest(record.sha256, _hash(record.salt, secret)):
            return None, "invalid API key; check the key or create one with 'qiao keys create NAME'"
        if record.revoked:
            return None, f"API key {record.id} was revoked on {record.revoked}"
        return record, ""

    def _current(self) -> dict[str, ApiKey]:
        """Return the keys, rereading the file when its size or modification time changed."""
        try:
            status = self.path.stat()
        except FileNotFoundError:
            self._keys, self._stamp = {}, None
            return self._keys
        stamp = (status.st_mtime_ns, status.st_size)
        if stamp != self._stamp:
            self._keys = self._read()
            self._stamp = stamp
        return self._keys

    def _read(self) -> dict[str, ApiKey]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {item["id"]: ApiKey(**item) for item in data["keys"]}
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise StorageError(
                f"cannot read {self.path}: {error}; restore the file, or delete it and create "
                "the keys again"
            ) from error

    def _write(self, keys: dict[str, ApiKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {"keys": [asdict(key) for key in keys.values()]})
        self.path.chmod(0o600)


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256((salt + secret).encode("utf-8")).hexdigest()
