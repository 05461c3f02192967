"""The audit log: one JSON line per request, rotated by size.

Each line records the time, the API key id, the model, the question (as its
SHA-256, as text, or not at all, per ``gateway.audit_question``), the status,
the latency and whether the semantic cache answered.
"""

from __future__ import annotations

import hashlib
import json
import logging
import logging.handlers
import time
from pathlib import Path
from typing import Any

__all__ = ["AuditLog"]

logger = logging.getLogger(__name__)


class AuditLog:
    """Appends request records to ``path``; keeps ``backups`` rotated files of ``max_bytes``."""

    def __init__(self, path: Path, question_mode: str, max_bytes: int, backups: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.question_mode = question_mode
        # A logger of its own, so that audit records never reach the console log.
        self._logger = logging.getLogger(f"qiao.audit.{id(self)}")
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        self._handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._logger.addHandler(self._handler)
        logger.info("writing the audit log to %s", path)

    def record(
        self,
        *,
        key_id: str | None,
        model: str,
        question: str,
        status: int,
        latency_ms: float,
        cache: str,
        stream: bool,
        **extra: Any,
    ) -> None:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "key_id": key_id,
            "model": model,
        }
        if self.question_mode == "hash":
            entry["question_sha256"] = hashlib.sha256(question.encode("utf-8")).hexdigest()
        elif self.question_mode == "text":
            entry["question"] = question
        entry.update(
            status=status, latency_ms=round(latency_ms, 1), cache=cache, stream=stream, **extra
        )
        self._logger.info(json.dumps(entry, ensure_ascii=False))

    def close(self) -> None:
        self._logger.removeHandler(self._handler)
        self._handler.close()
