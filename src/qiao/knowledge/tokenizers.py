"""Tokenizers for BM25 over Chinese text.

``bigram`` (the default) emits every CJK character and every pair of adjacent
CJK characters, plus lower-cased Latin words and numbers. It scored higher
than jieba words on the bundled retrieval benchmarks (see
``benchmarks/bm25_tokenizers.py``) and needs no dictionary. ``jieba`` uses
jieba's search-engine mode, which also emits the sub-words of long words.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from qiao.errors import InvalidInputError

__all__ = ["Tokenizer", "bigram_tokens", "get_tokenizer", "jieba_tokens"]

logger = logging.getLogger(__name__)

Tokenizer = Callable[[str], list[str]]

# CJK runs, or runs of Latin letters and digits.
_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[0-9a-zA-Z\u00c0-\u024f]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def bigram_tokens(text: str) -> list[str]:
    """Return CJK character unigrams and bigrams plus Latin words and numbers."""
    tokens: list[str] = []
    for match in _RUN.finditer(text):
        run = match.group()
        if not _CJK.match(run):
            tokens.append(run.lower())
            continue
        tokens.extend(run)
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    return tokens


def jieba_tokens(text: str) -> list[str]:
    """Return jieba search-mode words, without punctuation and whitespace."""
    import jieba

    return [word.lower() for word in jieba.lcut_for_search(text) if _RUN.search(word)]


_TOKENIZERS: dict[str, Tokenizer] = {"bigram": bigram_tokens, "jieba": jieba_tokens}


def get_tokenizer(name: str) -> Tokenizer:
    """Return the tokenizer called ``name`` (``bigram`` or ``jieba``)."""
    try:
        return _TOKENIZERS[name]
    except KeyError:
        raise InvalidInputError(
            f"unknown tokenizer {name!r}; choose one of {', '.join(_TOKENIZERS)}"
        ) from None
