"""Token counting for the length filter: a real tokenizer when given, else an estimate.

``--tokenizer PATH`` accepts a GGUF model file (its vocabulary is read with
llama-cpp-python, the ``llm`` extra, without loading the weights) or a
Hugging Face ``tokenizer.json`` file or a folder containing one (read with
the ``tokenizers`` package, the ``workshop`` extra).

Without a tokenizer the count is an estimate. Every character other than an
ASCII letter, space or tab counts as one token: CJK characters, digits
(Qwen2.5 encodes each digit as its own token), punctuation and line breaks.
ASCII letters, spaces and tabs count one token per 3, rounded up. On 3,000 rows of
general_zh the estimate is 1.58 times the Qwen2.5 token count and lower than
it on 22 rows (``benchmarks/workshop_tokens.py``). It errs on the high side
on purpose, so that rows kept by the filter fit the context; for tokenizers
without a Chinese vocabulary (Llama 2 splits most ideographs into bytes) it
is too low.

Each message adds :data:`TEMPLATE_TOKENS_PER_MESSAGE` for the chat template's
role markers (``<|im_start|>user\\n`` ... ``<|im_end|>\\n`` is 5 tokens in Qwen2.5).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qiao.errors import InvalidInputError, ModelError
from qiao.optional import require

__all__ = ["TEMPLATE_TOKENS_PER_MESSAGE", "TokenCounter", "estimate_tokens", "load_token_counter"]

TEMPLATE_TOKENS_PER_MESSAGE = 5
# Characters counted as one token each: everything but ASCII letters, spaces and tabs.
_SINGLE_TOKEN = re.compile(r"[^A-Za-z \t]")
LETTERS_PER_TOKEN = 3


def estimate_tokens(text: str) -> int:
    """Return the estimated token count of ``text`` (see the module docstring)."""
    single = len(_SINGLE_TOKEN.findall(text))
    return single + math.ceil((len(text) - single) / LETTERS_PER_TOKEN)


@dataclass
class TokenCounter:
    """Token counter of conversations; ``name`` is the tokenizer file or the estimate formula."""

    name: str
    count_text: Callable[[str], int]

    def count(self, messages: list[dict]) -> int:
        content = sum(self.count_text(message["content"]) for message in messages)
        return content + TEMPLATE_TOKENS_PER_MESSAGE * len(messages)


def load_token_counter(path: Path | None) -> TokenCounter:
    """Return a counter for the tokenizer at ``path``, or the estimate when ``path`` is None."""
    if path is None:
        return TokenCounter(
            f"estimate (1 per CJK character, digit or symbol + 1 per {LETTERS_PER_TOKEN} letters)",
            estimate_tokens,
        )
    if not path.exists():
        raise InvalidInputError(
            f"tokenizer {path} not found; give a .gguf model file or a tokenizer.json"
            " (or a folder containing one), or leave --tokenizer out to estimate"
        )
    if path.is_file() and path.suffix.lower() == ".gguf":
        return _gguf_counter(path)
    tokenizer_file = path / "tokenizer.json" if path.is_dir() else path
    if not tokenizer_file.is_file():
        raise InvalidInputError(
            f"{path} contains no tokenizer.json; give a .gguf file or a tokenizer.json"
        )
    return _tokenizers_counter(tokenizer_file)


def _gguf_counter(path: Path) -> TokenCounter:
    llama_cpp = require("llama_cpp", "llm", "llama-cpp-python")
    try:
        model = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    except (ValueError, RuntimeError) as error:
        raise ModelError(f"failed to read the vocabulary of {path}: {error}") from error

    def count(text: str) -> int:
        return len(model.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    return TokenCounter(f"tokenizer {path.name}", count)


def _tokenizers_counter(path: Path) -> TokenCounter:
    # NOTE: this path is not covered by the tests, which run without the tokenizers package.
    tokenizers = require("tokenizers", "workshop")
    try:
        tokenizer = tokenizers.Tokenizer.from_file(str(path))
    except Exception as error:  # the Rust binding raises a plain Exception on bad files
        raise ModelError(f"failed to read the tokenizer {path}: {error}") from error

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return TokenCounter(f"tokenizer {path.parent.name}/{path.name}", count)
