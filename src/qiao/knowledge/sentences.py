"""Sentence splitting and character-bigram overlap for Chinese text."""

from __future__ import annotations

import re

__all__ = ["Sentence", "bigram_set", "split_sentences", "support"]

# A sentence ends after 。！？；!? or … (with closing quotes) or at a line break.
_SENTENCE = re.compile(r"[^。！？；!?…\n]*(?:[。！？；!?…]+[”’」』）)]*|\n|$)")
# Characters that carry meaning: CJK, Latin letters and digits.
_CONTENT = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff0-9a-zA-Z]")


class Sentence(tuple[str, int, int]):
    """A sentence and its ``[start, end)`` character offsets in the source text."""

    @property
    def text(self) -> str:
        return self[0]

    @property
    def start(self) -> int:
        return self[1]

    @property
    def end(self) -> int:
        return self[2]


def split_sentences(text: str) -> list[Sentence]:
    """Split ``text`` into sentences that contain at least one content character."""
    sentences = []
    for match in _SENTENCE.finditer(text):
        piece = match.group()
        if not _CONTENT.search(piece):
            continue
        stripped = piece.strip()
        start = match.start() + piece.index(stripped[0])
        sentences.append(Sentence((stripped, start, start + len(stripped))))
    return sentences


def content_chars(text: str) -> str:
    return "".join(_CONTENT.findall(text)).lower()


def bigram_set(text: str) -> set[str]:
    """Return the set of adjacent content-character pairs (single characters for short text)."""
    chars = content_chars(text)
    if len(chars) < 2:
        return set(chars)
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


def support(claim: str, evidence: str | set[str]) -> float:
    """Return the share of the claim's bigrams that also occur in the evidence (0 to 1)."""
    claim_bigrams = bigram_set(claim)
    if not claim_bigrams:
        return 0.0
    evidence_bigrams = evidence if isinstance(evidence, set) else bigram_set(evidence)
    return len(claim_bigrams & evidence_bigrams) / len(claim_bigrams)
