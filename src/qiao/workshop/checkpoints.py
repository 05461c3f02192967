"""Resumable training checkpoints: ``CHECKPOINTS/step-N/``.

A checkpoint holds the LoRA adapter (peft ``save_pretrained``), the optimizer
state and ``trainer_state.json`` (step, losses, and a fingerprint of the data
and settings). It is written into a temporary folder and renamed, so a
process killed while saving leaves the previous checkpoint intact and at most
a ``.step-N.tmp`` folder, which the next save removes. Only the newest
``keep`` checkpoints stay.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiao.errors import InvalidInputError, StorageError
from qiao.fileio import fsync_directory

__all__ = [
    "Checkpoint",
    "latest_checkpoint",
    "load_optimizer_state",
    "save_checkpoint",
    "storage_error",
]

logger = logging.getLogger(__name__)

STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.pt"


@dataclass
class Checkpoint:
    """A complete checkpoint folder and its trainer state."""

    folder: Path
    state: dict[str, Any]

    @property
    def step(self) -> int:
        return int(self.state["step"])


def latest_checkpoint(folder: Path, fingerprint: dict[str, Any]) -> Checkpoint | None:
    """Return the newest complete checkpoint in ``folder``, or None.

    Raises InvalidInputError when it was made from other data or settings,
    because resuming it would train on a different schedule.
    """
    if not folder.is_dir():
        return None
    candidates = []
    for path in folder.glob("step-*"):
        suffix = path.name.removeprefix("step-")
        if suffix.isdigit() and (path / STATE_FILE).is_file():
            candidates.append((int(suffix), path))
    if not candidates:
        return None
    _, newest = max(candidates)
    state = json.loads((newest / STATE_FILE).read_text(encoding="utf-8"))
    if state.get("fingerprint") != fingerprint:
        raise InvalidInputError(
            f"checkpoint {newest} was made from other training data or settings;"
            f" delete {folder} (or run with --restart) to train from the start",
            key="ws_checkpoint_mismatch",
            value=str(newest),
            folder=str(folder),
        )
    return Checkpoint(newest, state)


def save_checkpoint(
    folder: Path, model: Any, optimizer: Any, state: dict[str, Any], keep: int
) -> Path:
    """Write ``step-<state["step"]>`` atomically and remove all but the newest ``keep``."""
    torch = _torch()
    target = folder / f"step-{state['step']}"
    temporary = folder / f".step-{state['step']}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(".step-*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        model.save_pretrained(temporary)
        torch.save(optimizer.state_dict(), temporary / OPTIMIZER_FILE)
        (temporary / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(temporary, target)
        fsync_directory(folder)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        raise storage_error(error, folder) from error

    steps = sorted(
        int(path.name.removeprefix("step-"))
        for path in folder.glob("step-*")
        if path.name.removeprefix("step-").isdigit()
    )
    for step in steps[:-keep] if keep > 0 else []:
        shutil.rmtree(folder / f"step-{step}", ignore_errors=True)
    logger.info("saved checkpoint %s", target)
    return target


def load_optimizer_state(checkpoint: Checkpoint, optimizer: Any) -> None:
    """Restore the optimizer state saved with ``checkpoint``."""
    torch = _torch()
    state = torch.load(checkpoint.folder / OPTIMIZER_FILE, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(state)


def storage_error(error: OSError, folder: Path) -> StorageError:
    """Turn a failed write into an error that says what was kept and what to do."""
    if error.errno == errno.ENOSPC:
        return StorageError(
            f"the disk is full while writing to {folder}; completed checkpoints are kept."
            " Free some space and run the same command again to resume",
            key="ws_disk_full",
            folder=str(folder),
        )
    return StorageError(
        f"failed to write a checkpoint in {folder}: {error}; completed checkpoints are kept",
        key="ws_checkpoint_write_failed",
        folder=str(folder),
        reason=str(error),
    )


def _torch() -> Any:
    from qiao.optional import require

    return require("torch", "workshop")
