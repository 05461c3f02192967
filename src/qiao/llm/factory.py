"""Choose and build the generator that the settings select."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from qiao.config import GENERATOR_KINDS, GeneratorSettings
from qiao.errors import ConfigError, ModelError
from qiao.llm.base import Generator
from qiao.llm.checksum import ProgressCallback
from qiao.llm.llamacpp import LlamaCppGenerator
from qiao.llm.model_files import DEFAULT_MODEL, default_model_available, ensure_default_model
from qiao.llm.openai_compat import OpenAICompatibleGenerator
from qiao.llm.registry import REGISTRY_FILE, RegisteredModel, find_registered_model

__all__ = ["create_generator", "generator_status", "llama_cpp_installed"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL_LABEL = "Qwen2.5-Coder-0.5B-Instruct Q4_K_M"
INSTALL_HINT = (
    "install llama.cpp and the default model with: pip install 'qiao[llm]', or set "
    "QIAO_GENERATOR=openai with QIAO_LLM_BASE_URL and QIAO_LLM_MODEL"
)


def llama_cpp_installed() -> bool:
    """Return whether llama-cpp-python is installed, without importing it."""
    return importlib.util.find_spec("llama_cpp") is not None


def create_generator(
    settings: GeneratorSettings, models_dir: Path, progress: ProgressCallback | None = None
) -> Generator | None:
    """Build the generator that ``settings.kind`` selects, or return None for extractive answers.

    Kind "auto" selects llama.cpp when llama-cpp-python is installed and a model
    is available (``model_path`` or the default model), and None otherwise.
    ``progress`` receives (bytes done, bytes total) while the default model is
    assembled or verified.
    """
    kind = settings.kind
    if kind not in GENERATOR_KINDS:
        raise ConfigError(f"unknown generator {kind!r}; choose one of {', '.join(GENERATOR_KINDS)}")
    if kind == "extractive":
        logger.info("generator disabled; answers are extractive")
        return None
    if kind == "openai":
        return _create_openai(settings)
    if kind == "auto" and not _llama_usable(settings, models_dir):
        logger.info("no local generator available; answers are extractive")
        return None
    return _create_llama(settings, models_dir, progress)


def generator_status(settings: GeneratorSettings, models_dir: Path) -> str:
    """Describe the generator that the settings select and, if there is none, how to enable one.

    Loads nothing, so it is cheap enough for status output.
    """
    kind = settings.kind
    if kind == "extractive":
        return (
            "no generator (QIAO_GENERATOR=extractive): answers quote the retrieved passages; "
            f"to generate answers, set QIAO_GENERATOR=auto and {INSTALL_HINT}"
        )
    if kind == "openai":
        if not settings.base_url or not settings.model:
            return (
                "the OpenAI-compatible generator is selected but not configured; set "
                "QIAO_LLM_BASE_URL and QIAO_LLM_MODEL"
            )
        url = f"{settings.base_url.rstrip('/')}/chat/completions"
        return f"OpenAI-compatible endpoint {url}, model {settings.model}"
    if not llama_cpp_installed():
        prefix = "llama.cpp is selected but" if kind == "llama" else "no generator:"
        return (
            f"{prefix} llama-cpp-python is not installed, so answers are extractive; {INSTALL_HINT}"
        )
    if settings.model_path:
        registered = _registered(settings.model_path, models_dir)
        if registered is not None:
            adapter = (
                f" with the LoRA adapter {registered.lora_path}" if registered.lora_path else ""
            )
            return (
                f"llama.cpp with the registered model {registered.name}: "
                f"{registered.model_path}{adapter}"
            )
        path = Path(settings.model_path).expanduser()
        missing = "" if path.is_file() else " (file not found; fix QIAO_MODEL_PATH)"
        return f"llama.cpp with {path}{missing}"
    target = models_dir / DEFAULT_MODEL.filename
    if target.is_file():
        return f"llama.cpp with the default model {DEFAULT_MODEL_LABEL} ({target})"
    if default_model_available(models_dir):
        return (
            f"llama.cpp with the default model {DEFAULT_MODEL_LABEL}, assembled into {target} "
            "on first use"
        )
    prefix = "llama.cpp is selected but" if kind == "llama" else "no generator:"
    return (
        f"{prefix} the default model packages are not installed, so answers are extractive; "
        f"{INSTALL_HINT}, or set QIAO_MODEL_PATH to a GGUF file"
    )


def _llama_usable(settings: GeneratorSettings, models_dir: Path) -> bool:
    if not llama_cpp_installed():
        return False
    return bool(settings.model_path) or default_model_available(models_dir)


def _create_llama(
    settings: GeneratorSettings, models_dir: Path, progress: ProgressCallback | None
) -> Generator:
    lora_path = None
    if settings.model_path:
        registered = _registered(settings.model_path, models_dir)
        path = registered.model_path if registered else Path(settings.model_path).expanduser()
        lora_path = registered.lora_path if registered else None
        if registered is None and not path.exists() and path.suffix != ".gguf":
            raise ModelError(
                f"{settings.model_path!r} is neither a GGUF file nor a model registered in "
                f"{models_dir / REGISTRY_FILE}; list the registered models with qiao models "
                "list, or give the path of a .gguf file",
                key="model_unknown",
                value=settings.model_path,
            )
    else:
        path = ensure_default_model(models_dir, progress)
    return LlamaCppGenerator(
        path, threads=settings.threads, context_size=settings.context_size, lora_path=lora_path
    )


def _registered(model: str, models_dir: Path) -> RegisteredModel | None:
    """Return the registered model named ``model``, unless ``model`` is an existing file."""
    if Path(model).expanduser().is_file():
        return None
    return find_registered_model(models_dir, model)


def _create_openai(settings: GeneratorSettings) -> Generator:
    missing = [
        variable
        for variable, value in (
            ("QIAO_LLM_BASE_URL", settings.base_url),
            ("QIAO_LLM_MODEL", settings.model),
        )
        if not value
    ]
    if missing:
        raise ConfigError(
            f"the OpenAI-compatible generator needs {' and '.join(missing)}; set them, or choose "
            "another generator with QIAO_GENERATOR"
        )
    return OpenAICompatibleGenerator(
        settings.base_url, settings.api_key, settings.model, timeout_s=settings.timeout_s
    )
