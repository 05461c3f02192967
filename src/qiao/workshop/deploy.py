"""Register an exported model under a name that ``qiao ask --model NAME`` can use."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qiao.errors import InvalidInputError, NotFoundError
from qiao.llm.gguf_metadata import read_gguf_metadata
from qiao.llm.lora_check import check_lora_fits
from qiao.llm.registry import RegisteredModel, check_model_name, register_model
from qiao.workshop.export import MANIFEST_FILE

__all__ = ["deploy_model"]

logger = logging.getLogger(__name__)


def deploy_model(name: str, export_dir: Path, home: Path, replace: bool = False) -> dict[str, Any]:
    """Register the export in ``export_dir`` as ``name`` in ``home/models/registry.json``.

    A merged GGUF, when the export has one, is what generation loads; otherwise
    the base GGUF with the LoRA adapter. The files stay where the export wrote
    them, so the export folder and the base GGUF must be kept. Returns the
    registry entry with its name.
    """
    check_model_name(name)
    export_dir = Path(export_dir).resolve()
    manifest = _read_manifest(export_dir)
    base = Path(manifest["base_gguf"])
    lora = Path(manifest["adapter_gguf"]) if manifest.get("adapter_gguf") else None
    merged = Path(manifest["merged_gguf"]) if manifest.get("merged_gguf") else None
    if lora is None and merged is None:
        raise InvalidInputError(
            f"{export_dir / MANIFEST_FILE} lists neither an adapter nor a merged model; run "
            "qiao workshop export again",
            key="dp_nothing_exported",
            value=str(export_dir),
        )

    needed = [base, lora] if merged is None else [merged]
    for path in needed:
        if path is None or not path.is_file():
            raise NotFoundError(
                f"{path} from {export_dir / MANIFEST_FILE} not found; keep the export folder and "
                "the base model in place, or run qiao workshop export again",
                key="dp_file_missing",
                value=str(path),
            )
        # Reads the header, so a damaged file fails here rather than at the first question.
        read_gguf_metadata(path, ["general.architecture"])
    if merged is None and lora is not None:
        check_lora_fits(base, lora)

    model = RegisteredModel(
        name=name,
        base=base,
        lora=lora,
        merged=merged,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    register_model(Path(home) / "models", model, replace=replace)
    logger.info("deployed %s from %s", name, export_dir)
    return {"name": name, **model.to_json()}


def _read_manifest(export_dir: Path) -> dict[str, Any]:
    path = export_dir / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise NotFoundError(
            f"{path} not found; give the folder that qiao workshop export wrote (e.g. RUN/export)",
            key="dp_no_export",
            value=str(path),
        ) from error
    except ValueError as error:
        raise InvalidInputError(
            f"{path} is not valid JSON ({error}); run qiao workshop export again",
            key="dp_bad_export",
            value=str(path),
        ) from error
    if not isinstance(manifest, dict) or not manifest.get("base_gguf"):
        raise InvalidInputError(
            f"{path} does not name a base_gguf; run qiao workshop export again",
            key="dp_bad_export",
            value=str(path),
        )
    return manifest
