"""Answer a question from a knowledge base with cited passages, or report that it has no answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from qiao.knowledge.citations import Citation, attribute, strip_markers
from qiao.knowledge.extractive import extract_answer
from qiao.knowledge.prompt import NO_ANSWER, build_messages, is_refusal
from qiao.knowledge.retriever import Hit, HybridRetriever, check_query, title_in_question
from qiao.knowledge.sentences import bigram_set, split_sentences, support
from qiao.llm import ChatMessage, Generator

__all__ = ["Answer", "Answerer", "DEFAULT_MIN_DENSE_SCORE"]

logger = logging.getLogger(__name__)

# Cosine similarity of the best dense hit below which a question counts as
# outside the knowledge base; the setting retrieval.min_dense_score overrides it.
DEFAULT_MIN_DENSE_SCORE = 0.87
# Generated answers in which fewer sentences than this share are supported by
# any passage are treated as answered from outside the knowledge base.
MIN_SUPPORTED_SHARE = 0.2
# An answer whose character bigrams are at least this share taken from the
# question adds nothing to it.
ECHO_SHARE = 0.8


@dataclass
class Answer:
    """The result of :meth:`Answerer.ask`."""

    question: str
    answer: str
    citations: list[Citation]
    refused: bool
    # "generated", "extractive" or "none" (refused before generation).
    mode: str
    generator: str
    hits: list[Hit] = field(default_factory=list)
    notice: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "citations": [citation.to_json() for citation in self.citations],
            "refused": self.refused,
            "mode": self.mode,
            "generator": self.generator,
            "notice": self.notice,
            "timings_ms": {key: round(value, 1) for key, value in self.timings_ms.items()},
        }


class Answerer:
    """Retrieves passages, generates (or extracts) an answer and attributes citations."""

    def __init__(
        self,
        retriever: HybridRetriever,
        generator: Generator | None,
        top_k: int = 5,
        min_dense_score: float = DEFAULT_MIN_DENSE_SCORE,
        max_tokens: int = 512,
        temperature: float = 0.0,
        notice: str = "",
    ) -> None:
        self.retriever = retriever
        self.generator = generator
        self.top_k = top_k
        self.min_dense_score = min_dense_score
        self.max_tokens = max_tokens
        self.temperature = temperature
        # Shown with extractive answers, e.g. how to turn generation on.
        self.notice = notice

    @property
    def generator_name(self) -> str:
        return self.generator.name if self.generator is not None else "extractive"

    def ask(self, question: str) -> Answer:
        """Answer ``question``; see :meth:`stream` for incremental output."""
        answer = None
        for event in self.stream(question):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def stream(self, question: str) -> Iterator[str | Answer]:
        """Yield answer text sentence by sentence with markers, then the final :class:`Answer`."""
        question = check_query(question)
        timings: dict[str, float] = {}
        began = time.perf_counter()
        hits = self.retriever.search(question, self.top_k)
        timings["retrieval"] = (time.perf_counter() - began) * 1000

        if not self._relevant(hits):
            logger.info(
                "no relevant passage for question (best dense score below %s)", self.min_dense_score
            )
            yield NO_ANSWER
            yield self._refusal(question, hits, timings, mode="none")
            return

        hits = focus_on_named_title(question, hits)
        if self.generator is None:
            yield from self._extractive(question, hits, timings, self.notice)
            return

        # Generate, and release each sentence with its citations as soon as it ends.
        began = time.perf_counter()
        messages = [ChatMessage(**message) for message in build_messages(question, hits)]
        raw = ""
        # Characters of ``raw`` released so far, and of the cited text yielded for them.
        released = 0
        emitted = 0
        refused = False
        for delta in self.generator.stream(
            messages, max_tokens=self.max_tokens, temperature=self.temperature
        ):
            raw += delta
            if not released and is_refusal(raw):
                refused = True
                break
            complete = _complete_prefix(raw)
            # A reply that so far only restates the question is held back: it
            # may turn out to be an echo, which is replaced by an extractive answer.
            if len(complete) > released and not echoes_question(
                strip_markers(complete)[0], question
            ):
                cited_prefix = attribute(complete, hits).text
                yield cited_prefix[emitted:]
                released = len(complete)
                emitted = len(cited_prefix)
        timings["generation"] = (time.perf_counter() - began) * 1000

        if refused or is_refusal(raw):
            if not released:
                yield NO_ANSWER
            yield self._refusal(question, hits, timings, mode="generated")
            return
        cited = attribute(raw, hits)
        if (
            not cited.text
            or cited.supported_share < MIN_SUPPORTED_SHARE
            or echoes_question(strip_markers(raw)[0], question)
        ):
            # The model wrote nothing usable, nothing the passages support, or
            # only the question again.
            logger.info(
                "generated answer unsupported (share %.2f); answering extractively",
                cited.supported_share,
            )
            yield from self._extractive(question, hits, timings, "")
            return
        tail = cited.text[emitted:]
        if tail:
            yield tail
        yield Answer(
            question=question,
            answer=cited.text,
            citations=cited.citations,
            refused=False,
            mode="generated",
            generator=self.generator_name,
            hits=hits,
            timings_ms=timings,
        )

    def _relevant(self, hits: list[Hit]) -> bool:
        # NOTE: only the fused top-k hits are checked; the calibration used the best
        # dense chunk overall, which is nearly always among them but not guaranteed.
        dense = [hit.dense_score for hit in hits if hit.dense_score is not None]
        return bool(dense) and max(dense) >= self.min_dense_score

    def _extractive(
        self, question: str, hits: list[Hit], timings: dict[str, float], notice: str
    ) -> Iterator[str | Answer]:
        text = extract_answer(question, hits)
        if not text:
            yield NO_ANSWER
            yield self._refusal(question, hits, timings, mode="extractive")
            return
        cited = attribute(text, hits)
        yield cited.text
        yield Answer(
            question=question,
            answer=cited.text,
            citations=cited.citations,
            refused=False,
            mode="extractive",
            generator="extractive",
            hits=hits,
            notice=notice,
            timings_ms=timings,
        )

    def _refusal(
        self, question: str, hits: list[Hit], timings: dict[str, float], mode: str
    ) -> Answer:
        return Answer(
            question=question,
            answer=NO_ANSWER,
            citations=[],
            refused=True,
            mode=mode,
            generator=self.generator_name,
            hits=hits,
            timings_ms=timings,
        )


def _complete_prefix(text: str) -> str:
    """Return the part of ``text`` that ends with a finished sentence."""
    sentences = split_sentences(text)
    if len(sentences) < 2:
        return ""
    return text[: sentences[-2].end]


def focus_on_named_title(question: str, hits: list[Hit]) -> list[Hit]:
    """Keep only the passages titled with the name the question contains, if any.

    "故宫几点开门？" is about 故宫: passages about 天坛 that mention 故宫 as a
    nearby sight only tempt a small model to copy their opening hours.
    """
    named = [hit.chunk.title for hit in hits if title_in_question(hit.chunk.title, question)]
    if not named:
        return hits
    title = max(named, key=len)
    return [hit for hit in hits if hit.chunk.title == title]


def echoes_question(answer: str, question: str) -> bool:
    """Return whether the answer only repeats the question (a failure of small models)."""
    answer_bigrams = bigram_set(answer)
    if not answer_bigrams:
        return True
    return support(answer, bigram_set(question)) >= ECHO_SHARE
