"""Workshop recipes: one YAML file that names every stage's inputs and settings.

A recipe has ``name`` (the run folder's name), ``base_model`` (``default``, a
Hugging Face folder or a GGUF file) and the sections ``data``, ``train``,
``eval``, ``export`` and ``deploy``. ``data.domain`` and ``data.general`` are
a list of files (paths relative to the recipe file, or absolute) or one
built-in source: ``med_dialogue_neike`` (title/answer pairs without the
entries behind its dev questions) and ``general_zh`` (Alpaca in Chinese),
both read from the data folder (QIAO_DATA_DIR). Unknown keys, a ratio that
does not add up to 100 and missing files are rejected before any stage runs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qiao.errors import InvalidInputError, NotFoundError
from qiao.workshop.data import parse_ratio
from qiao.workshop.train_setup import TrainSettings

__all__ = ["BUILTIN_SOURCES", "DataSection", "Recipe", "load_recipe"]

BUILTIN_SOURCES = ("med_dialogue_neike", "general_zh")
TOP_KEYS = {"name", "base_model", "data", "train", "eval", "export", "deploy"}
DATA_KEYS = {"domain", "general", "ratio", "rows", "seed", "max_tokens", "eval_fraction"}
EVAL_KEYS = {
    "mc_limit",
    "generation_limit",
    "max_new_tokens",
    "repetition_penalty",
    "shots",
    "batch_size",
    "seed",
}
EXPORT_KEYS = {"enabled", "merge", "quantize"}
DEPLOY_KEYS = {"enabled", "name"}


@dataclass
class DataSection:
    """Where training data comes from and how it is mixed."""

    domain: list[Path] | str
    general: list[Path] | str
    ratio: str = "70:30"
    rows: int = 500
    seed: int = 0
    max_tokens: int = 2048
    eval_fraction: float = 0.05


@dataclass
class Recipe:
    """A validated recipe; ``path`` is the YAML file it came from."""

    name: str
    path: Path
    base_model: str
    data: DataSection
    train: TrainSettings
    eval: dict[str, Any] = field(default_factory=dict)
    export: dict[str, Any] = field(default_factory=dict)
    deploy: dict[str, Any] = field(default_factory=dict)


def load_recipe(path: str | Path, data_dir: Path | None = None) -> Recipe:
    """Read and validate the recipe at ``path``.

    ``data_dir`` is only needed to check built-in sources; when it is None
    they are checked when the data stage runs.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(
            f"recipe {path} not found; give the path of a recipe YAML file such as"
            " recipes/health.yaml",
            key="ws_recipe_missing",
            value=str(path),
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InvalidInputError(
            f"recipe {path} is not valid YAML: {error}", key="ws_recipe_yaml", value=str(path)
        ) from error
    if not isinstance(raw, dict):
        raise InvalidInputError(f"recipe {path} must be a mapping of sections")
    _check_keys(raw, TOP_KEYS, "", path)
    for section in ("data", "train", "eval", "export", "deploy"):
        if not isinstance(raw.get(section) or {}, dict):
            raise InvalidInputError(f"recipe {path}: section {section!r} must be a mapping")

    name = str(raw.get("name") or path.stem)
    if not name.replace("-", "").replace("_", "").isalnum():
        raise InvalidInputError(
            f"recipe {path}: name {name!r} may contain only letters, digits, '-' and '_'"
        )
    data = _data_section(raw.get("data") or {}, path, data_dir)
    train = _train_settings(raw.get("train") or {}, path)
    eval_section = raw.get("eval") or {}
    _check_keys(eval_section, EVAL_KEYS, "eval.", path)
    _check_eval_types(eval_section, path)
    export = raw.get("export") or {}
    _check_keys(export, EXPORT_KEYS, "export.", path)
    deploy = raw.get("deploy") or {}
    _check_keys(deploy, DEPLOY_KEYS, "deploy.", path)
    base_model = str(raw.get("base_model") or "default")
    if base_model != "default":
        base_model = str(_resolve(base_model, path))
    return Recipe(name, path, base_model, data, train, eval_section, export, deploy)


def _check_eval_types(section: dict, path: Path) -> None:
    for key, value in section.items():
        number = key == "repetition_penalty"
        expected = (int, float) if number else (int,)
        if isinstance(value, bool) or not isinstance(value, expected):
            kind = "a number" if number else "an integer"
            raise InvalidInputError(f"recipe {path}: eval.{key} must be {kind}, got {value!r}")


def _check_keys(section: dict, allowed: set[str], prefix: str, path: Path) -> None:
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise InvalidInputError(
            f"recipe {path}: unknown key {prefix}{unknown[0]}; allowed keys are"
            f" {', '.join(prefix + key for key in sorted(allowed))}",
            key="ws_recipe_unknown_key",
            value=f"{prefix}{unknown[0]}",
            path=str(path),
            allowed=", ".join(prefix + key for key in sorted(allowed)),
        )


def _data_section(raw: dict, path: Path, data_dir: Path | None) -> DataSection:
    _check_keys(raw, DATA_KEYS, "data.", path)
    for key in ("domain", "general"):
        if key not in raw:
            raise InvalidInputError(
                f"recipe {path}: data.{key} is missing; give a list of files or one of"
                f" {', '.join(BUILTIN_SOURCES)}"
            )
    ratio = str(raw.get("ratio", "70:30"))
    try:
        parse_ratio(ratio)
    except InvalidInputError as error:
        raise InvalidInputError(
            f"recipe {path}: data.ratio: {error}", key=error.key, **error.params
        ) from error
    section = DataSection(
        domain=_source(raw["domain"], "domain", path, data_dir),
        general=_source(raw["general"], "general", path, data_dir),
        ratio=ratio,
    )
    for key in ("rows", "seed", "max_tokens", "eval_fraction"):
        if key in raw:
            setattr(section, key, raw[key])
    if not isinstance(section.rows, int) or section.rows < 1:
        raise InvalidInputError(f"recipe {path}: data.rows {section.rows!r} must be at least 1")
    return section


def _source(value: Any, key: str, path: Path, data_dir: Path | None) -> list[Path] | str:
    if isinstance(value, str) and value in BUILTIN_SOURCES:
        if data_dir is not None and not (data_dir / value).is_dir():
            raise NotFoundError(
                f"recipe {path}: data.{key} {value} needs {data_dir / value}, which is missing;"
                " set QIAO_DATA_DIR to the evaluation data folder",
                key="ws_recipe_source_missing",
                value=str(data_dir / value),
            )
        return value
    files = [value] if isinstance(value, str) else value
    if not isinstance(files, list) or not files:
        raise InvalidInputError(
            f"recipe {path}: data.{key} must be a file, a list of files or one of"
            f" {', '.join(BUILTIN_SOURCES)}"
        )
    resolved = [_resolve(str(item), path) for item in files]
    for file in resolved:
        if not file.is_file():
            raise NotFoundError(
                f"recipe {path}: data.{key} file {file} not found; fix the path (relative paths"
                " start at the recipe's folder)",
                key="ws_recipe_file_missing",
                value=str(file),
            )
    return resolved


def _train_settings(raw: dict, path: Path) -> TrainSettings:
    allowed = {item.name for item in dataclasses.fields(TrainSettings)}
    _check_keys(raw, allowed, "train.", path)
    values = dict(raw)
    if "target_modules" in values:
        values["target_modules"] = tuple(values["target_modules"])
    settings = TrainSettings(**values)
    settings.check()
    return settings


def _resolve(value: str, recipe_path: Path) -> Path:
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else (recipe_path.parent / candidate).resolve()
