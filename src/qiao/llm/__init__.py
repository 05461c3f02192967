"""Text generators behind one interface: llama.cpp locally or an OpenAI-compatible API."""

from qiao.llm.base import (
    ROLES,
    ChatMessage,
    Completion,
    Generator,
    check_messages,
    estimate_tokens,
)
from qiao.llm.factory import create_generator, generator_status, llama_cpp_installed
from qiao.llm.llamacpp import LlamaCppGenerator
from qiao.llm.model_files import (
    DEFAULT_MODEL,
    PartedModel,
    default_model_available,
    ensure_default_model,
    find_part_files,
    verify_model_file,
)
from qiao.llm.openai_compat import OpenAICompatibleGenerator

__all__ = [
    "DEFAULT_MODEL",
    "ROLES",
    "ChatMessage",
    "Completion",
    "Generator",
    "LlamaCppGenerator",
    "OpenAICompatibleGenerator",
    "PartedModel",
    "check_messages",
    "create_generator",
    "default_model_available",
    "ensure_default_model",
    "estimate_tokens",
    "find_part_files",
    "generator_status",
    "llama_cpp_installed",
    "verify_model_file",
]
