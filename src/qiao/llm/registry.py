"""Named local models: ``QIAO_HOME/models/registry.json``.

Each entry names a base GGUF model and either a GGUF LoRA adapter that
llama.cpp applies on top of it, or a merged GGUF model that replaces it:

    {"NAME": {"base": "/abs/base.gguf", "lora": "/abs/adapter.gguf" | null,
              "merged": "/abs/merged.gguf" | null, "created": "2026-01-31T12:00:00+00:00"}}

``qiao workshop deploy`` writes entries; ``qiao ask --model NAME`` and
:func:`qiao.llm.create_generator` read them. The file is replaced atomically
under an exclusive file lock, so concurrent deploys keep each other's entries.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiao.errors import AlreadyExistsError, InvalidInputError, StorageError
from qiao.fileio import write_json_atomic

__all__ = [
    "REGISTRY_FILE",
    "RegisteredModel",
    "check_model_name",
    "find_registered_model",
    "load_registry",
    "register_model",
]

logger = logging.getLogger(__name__)

REGISTRY_FILE = "registry.json"
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class RegisteredModel:
    """A named local model: a base GGUF with an optional LoRA adapter, or a merged GGUF."""

    name: str
    base: Path
    lora: Path | None = None
    merged: Path | None = None
    created: str = ""

    @property
    def model_path(self) -> Path:
        """The GGUF file llama.cpp loads: the merged model when there is one, else the base."""
        return self.merged or self.base

    @property
    def lora_path(self) -> Path | None:
        """The adapter applied on top of :attr:`model_path` (None for a merged model)."""
        return None if self.merged else self.lora

    def to_json(self) -> dict[str, Any]:
        return {
            "base": str(self.base),
            "lora": str(self.lora) if self.lora else None,
            "merged": str(self.merged) if self.merged else None,
            "created": self.created,
        }


def check_model_name(name: str) -> str:
    """Return ``name`` if it can name a registered model, or raise InvalidInputError."""
    if not MODEL_NAME.match(name) or name.endswith(".gguf"):
        raise InvalidInputError(
            f"invalid model name {name!r}; use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit and not ending in .gguf",
            key="dp_bad_name",
            value=name,
        )
    return name


def load_registry(models_dir: Path) -> dict[str, RegisteredModel]:
    """Return the registered models by name ({} when nothing is registered)."""
    path = models_dir / REGISTRY_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as error:
        raise StorageError(
            f"{path} is not valid JSON ({error}); fix or delete it and deploy the models again",
            key="dp_bad_registry",
            value=str(path),
        ) from error
    if not isinstance(raw, dict):
        raise StorageError(
            f"{path} must contain a JSON object of models by name; fix or delete it",
            key="dp_bad_registry",
            value=str(path),
        )
    models = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict) or not entry.get("base"):
            logger.error("skipping registry entry %r in %s without a base model", name, path)
            continue
        models[name] = RegisteredModel(
            name=name,
            base=Path(entry["base"]),
            lora=Path(entry["lora"]) if entry.get("lora") else None,
            merged=Path(entry["merged"]) if entry.get("merged") else None,
            created=str(entry.get("created", "")),
        )
    return models


def find_registered_model(models_dir: Path, name: str) -> RegisteredModel | None:
    """Return the model registered as ``name``, or None."""
    if not MODEL_NAME.match(name):
        return None
    return load_registry(models_dir).get(name)


def register_model(models_dir: Path, model: RegisteredModel, replace: bool = False) -> None:
    """Add ``model`` to the registry; an existing name is replaced only when ``replace``."""
    check_model_name(model.name)
    with _registry_lock(models_dir):
        models = load_registry(models_dir)
        if model.name in models and not replace:
            raise AlreadyExistsError(
                f"a model named {model.name!r} is already registered; choose another name or "
                "pass --replace",
                key="dp_exists",
                value=model.name,
            )
        models[model.name] = model
        payload = {name: entry.to_json() for name, entry in sorted(models.items())}
        write_json_atomic(models_dir / REGISTRY_FILE, payload)
    logger.info("registered model %s in %s", model.name, models_dir / REGISTRY_FILE)


@contextlib.contextmanager
def _registry_lock(models_dir: Path) -> Iterator[None]:
    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / f".{REGISTRY_FILE}.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
