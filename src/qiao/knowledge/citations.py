"""Citations computed by Qiao: each answer sentence is matched to the passages that support it.

A generator's own markers (``[2]``, ``[资料2]``, ``【2】``) are only hints. They
are removed, and markers are written again from the overlap between each
sentence and each passage, so that a marker never points to a passage that
does not support the sentence, or to no passage at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from qiao.knowledge.retriever import Hit
from qiao.knowledge.sentences import bigram_set, split_sentences, support

__all__ = ["Citation", "CitedAnswer", "attribute", "strip_markers"]

# A sentence is supported by a passage that contains this share of its bigrams.
MIN_SUPPORT = 0.5
# A marker the model wrote is kept at this lower share.
MIN_HINTED_SUPPORT = 0.3
# At most this many passages are cited per sentence; a second one must score
# nearly as high as the best.
MAX_CITATIONS_PER_SENTENCE = 2
SECOND_CITATION_RATIO = 0.85
SNIPPET_CHARS = 120

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_MARKER = re.compile(
    r"\s?[\[【](?:资料|来源|文档|参考|passage|source)?\s*(\d+(?:\s*[,，、]\s*\d+)*)\s*[\]】]",
    re.IGNORECASE,
)


@dataclass
class Citation:
    """A passage cited by the answer, numbered in order of first use."""

    index: int
    doc_id: str
    source: str
    heading: str
    snippet: str
    score: float
    chunk_id: str
    title: str

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "doc_id": self.doc_id,
            "source": self.source,
            "heading": self.heading,
            "snippet": self.snippet,
            "score": round(self.score, 6),
            "chunk_id": self.chunk_id,
            "title": self.title,
        }


@dataclass
class CitedAnswer:
    """Answer text with ``[n]`` markers, its citations and its overall support."""

    text: str
    citations: list[Citation]
    # Share of answer sentences supported by at least one passage.
    supported_share: float


def strip_markers(text: str) -> tuple[str, list[list[int]]]:
    """Remove citation markers; return the clean text and the numbers found per marker."""
    found: list[list[int]] = []

    def remove(match: re.Match[str]) -> str:
        found.append([int(n) for n in re.findall(r"\d+", match.group(1))])
        return ""

    return _MARKER.sub(remove, text), found


def attribute(answer: str, hits: list[Hit]) -> CitedAnswer:
    """Write citation markers into ``answer`` for the ``hits`` that support each sentence."""
    evidence = [bigram_set(hit.chunk.text + hit.chunk.title) for hit in hits]
    evidence_numbers = [set(_NUMBER.findall(hit.chunk.text + hit.chunk.title)) for hit in hits]
    numbers: dict[int, int] = {}  # position in hits -> citation number
    best_sentence: dict[int, tuple[float, str]] = {}
    pieces: list[str] = []
    supported = 0
    sentences = _sentences_with_hints(answer)

    for sentence, hints in sentences:
        sentence_numbers = set(_NUMBER.findall(sentence))
        scores = [
            support(sentence, bigrams) * _number_share(sentence_numbers, evidence_numbers[i])
            for i, bigrams in enumerate(evidence)
        ]
        ranked = sorted(range(len(hits)), key=lambda i: scores[i], reverse=True)
        cited = [
            i
            for i in ranked
            if scores[i] >= MIN_SUPPORT or (i + 1 in hints and scores[i] >= MIN_HINTED_SUPPORT)
        ][:MAX_CITATIONS_PER_SENTENCE]
        cited = [i for i in cited if scores[i] >= SECOND_CITATION_RATIO * scores[ranked[0]]]
        if cited:
            supported += 1
        markers = ""
        for i in cited:
            numbers.setdefault(i, len(numbers) + 1)
            markers += f"[{numbers[i]}]"
            if scores[i] > best_sentence.get(i, (-1.0, ""))[0]:
                best_sentence[i] = (scores[i], sentence)
        pieces.append(_insert_markers(sentence, markers))

    citations = [
        _citation(number, hits[i], best_sentence[i][1])
        for i, number in sorted(numbers.items(), key=lambda item: item[1])
    ]
    share = supported / len(sentences) if sentences else 0.0
    return CitedAnswer(text="".join(pieces).strip(), citations=citations, supported_share=share)


def _number_share(numbers: set[str], evidence_numbers: set[str]) -> float:
    """Return the share of the sentence's numbers that the passage contains (1 without numbers).

    Bigram overlap alone would let "门票30元" cite a passage that says "门票60元".
    """
    if not numbers:
        return 1.0
    return len(numbers & evidence_numbers) / len(numbers)


def _sentences_with_hints(answer: str) -> list[tuple[str, set[int]]]:
    """Split the answer into sentences, each with the marker numbers the model gave it."""
    result: list[tuple[str, set[int]]] = []
    for sentence in split_sentences(answer):
        clean, found = strip_markers(sentence.text)
        if clean.strip():
            result.append((clean.strip(), {n for group in found for n in group}))
        elif result:
            # A marker standing alone after a sentence belongs to that sentence.
            result[-1][1].update(n for group in found for n in group)
    return result


def _insert_markers(sentence: str, markers: str) -> str:
    """Place markers before the sentence's closing punctuation."""
    match = re.search(r"[。！？；!?…”’」』）)]+$", sentence)
    if not markers:
        return sentence
    if match is None:
        return sentence + markers
    return sentence[: match.start()] + markers + sentence[match.start() :]


def _citation(number: int, hit: Hit, cited_sentence: str) -> Citation:
    chunk = hit.chunk
    return Citation(
        index=number,
        doc_id=chunk.doc_id,
        source=chunk.source,
        heading=chunk.heading or chunk.title,
        snippet=best_snippet(chunk.text, cited_sentence),
        score=hit.score,
        chunk_id=chunk.id,
        title=chunk.title,
    )


def best_snippet(passage: str, claim: str) -> str:
    """Return the passage sentence that best supports ``claim``, cut to a readable length."""
    claim_bigrams = bigram_set(claim)
    sentences = split_sentences(passage) or []
    if not sentences:
        return passage[:SNIPPET_CHARS]
    best = max(sentences, key=lambda s: len(bigram_set(s.text) & claim_bigrams))
    text = best.text
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"
