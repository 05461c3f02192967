"""Multi-turn query rewriting: a follow-up question becomes a standalone search query.

"那它的门票呢？" retrieves nothing useful on its own. The rewriter finds the
entity the conversation is about among the knowledge base's titles, ranks the
titles named in earlier turns (see :mod:`qiao.gateway.rewrite_entities`) and
puts the best one in place of the pronoun, or in front of a question that
omits its subject: "那故宫的门票呢？". This is deterministic and takes less
than a millisecond. When no earlier turn names a known title, an optional generator
rewrites the question, and without one the last two turns are prepended to it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from qiao.errors import InvalidInputError, ModelError
from qiao.gateway.rewrite_entities import EntityMatcher, in_location_phrase, rank_entities
from qiao.knowledge.base import KnowledgeBase
from qiao.knowledge.sentences import content_chars
from qiao.llm.base import ChatMessage, Generator

__all__ = ["QueryRewriter", "RewrittenQuery"]

logger = logging.getLogger(__name__)

# Earlier turns read when ranking entities; older mentions weigh less than 1%.
MAX_HISTORY_TURNS = 12
# A question without a pronoun is taken to omit its subject ("门票多少钱？") when its
# last clause has at most this many content characters. A longer one is standalone.
MAX_ELLIPTICAL_CHARS = 20
# Pronouns and demonstratives that refer back to an entity. "其他", "他们",
# "应该" and "其中" are excluded.
_ANAPHOR = re.compile(
    r"(?:这|那)(?:个|座|家|处|所|种)?(?:景点|景区|地方|地儿|博物馆|公园|产品|东西|药|病)"
    r"|这里|那里|这儿|那儿|此处|此地|(?<!应)该(?:景点|景区|地方|产品|药)?"
    r"|它们|它|(?<!其)他(?![们人])|她(?!们)|其(?![他它中实次余])|这个|那个"
)
REWRITE_INSTRUCTION = (
    "把对话中用户的最后一个问题改写成一个不看对话也能理解的完整问题："
    "用对话里提到的具体名称替换代词，补上省略的主语。只输出改写后的问题。"
)
# Replies longer than this are not a question; the rewriter falls back to concatenation.
MAX_MODEL_QUERY_CHARS = 200


@dataclass
class RewrittenQuery:
    """A search query and how it was made.

    ``method`` is ``standalone`` (the question was used as is), ``entity``
    (an entity from the conversation was filled in), ``model`` (a generator
    rewrote it) or ``concat`` (the last two turns were prepended).
    """

    query: str
    method: str
    seconds: float
    entity: str | None = None


class QueryRewriter:
    """Rewrites the last user question of a chat into a query for one knowledge base."""

    def __init__(self, kb: KnowledgeBase, generator: Generator | None = None) -> None:
        began = time.perf_counter()
        titles: list[str] = []
        texts: dict[str, str] = {}
        for chunk in kb.store.scan():
            titles.append(chunk.title)
            texts[chunk.title] = texts.get(chunk.title, "") + chunk.text
        self.matcher = EntityMatcher(titles, texts)
        self.generator = generator
        logger.info(
            "loaded %d entity titles of %s for query rewriting in %.2f s",
            len(self.matcher),
            kb.name,
            time.perf_counter() - began,
        )

    @classmethod
    def from_entities(
        cls,
        titles: Iterable[str],
        texts: dict[str, str] | None = None,
        generator: Generator | None = None,
    ) -> QueryRewriter:
        """Return a rewriter over the entity ``titles``, each with its text in ``texts``."""
        rewriter = cls.__new__(cls)
        rewriter.matcher = EntityMatcher(titles, texts)
        rewriter.generator = generator
        return rewriter

    def rewrite(self, messages: list[ChatMessage]) -> RewrittenQuery:
        """Return a standalone query for the last user message of ``messages``."""
        began = time.perf_counter()
        question, turns = _split_question(messages)
        query, method, entity = self._rewrite(question, turns)
        return RewrittenQuery(query, method, time.perf_counter() - began, entity)

    def _rewrite(self, question: str, turns: list[str]) -> tuple[str, str, str | None]:
        if not turns:
            return question, "standalone", None
        # A question that names an entity is about it, unless a pronoun comes
        # first ("这个景点周边有什刹海吗？") or the name only gives a location.
        named = [
            mention
            for mention in self.matcher.find(question)
            if not in_location_phrase(question, mention.start)
        ]
        anaphor = _ANAPHOR.search(question)
        if named and (anaphor is None or named[0].start < anaphor.start()):
            return question, "standalone", None
        # Chat turns often answer first and ask after: "地址在…，电话你知道吗？".
        if anaphor is None and len(content_chars(_last_clause(question))) > MAX_ELLIPTICAL_CHARS:
            return question, "standalone", None

        excluded = {mention.title for mention in named}
        ranked = [title for title, _ in rank_entities(self.matcher, turns) if title not in excluded]
        if ranked:
            entity = ranked[0]
            if anaphor is not None:
                query = question[: anaphor.start()] + entity + question[anaphor.end() :]
            else:
                query = f"{entity}：{question}"
            return query, "entity", entity

        if self.generator is not None:
            query = self._rewrite_with_model(question, turns)
            if query is not None:
                return query, "model", None
        return " ".join([*turns[-2:], question]), "concat", None

    def _rewrite_with_model(self, question: str, turns: list[str]) -> str | None:
        assert self.generator is not None
        dialogue = "\n".join(turns[-4:])
        prompt = f"对话：\n{dialogue}\n最后一个问题：{question}\n改写后的问题："
        messages = [ChatMessage("system", REWRITE_INSTRUCTION), ChatMessage("user", prompt)]
        try:
            completion = self.generator.generate(
                messages, max_tokens=64, temperature=0.0, stop=["\n"]
            )
        except ModelError as error:
            logger.error("query rewrite by %s failed: %s", self.generator.name, error)
            return None
        query = completion.text.strip().strip("\"'“”「」")
        if not content_chars(query) or len(query) > MAX_MODEL_QUERY_CHARS:
            logger.info("ignored rewrite %r by %s", query[:80], self.generator.name)
            return None
        return query


_CLAUSE_END = re.compile(r"[，,。！？!?；;]")


def _last_clause(question: str) -> str:
    """Return the last clause of ``question`` that has content characters."""
    clauses = [clause for clause in _CLAUSE_END.split(question) if content_chars(clause)]
    return clauses[-1] if clauses else question


def _split_question(messages: list[ChatMessage]) -> tuple[str, list[str]]:
    """Return the last user message and the non-system turns before it, oldest first."""
    for position in range(len(messages) - 1, -1, -1):
        if messages[position].role == "user" and messages[position].content.strip():
            earlier = messages[max(0, position - MAX_HISTORY_TURNS) : position]
            turns = [message.content for message in earlier if message.role != "system"]
            return messages[position].content.strip(), turns
    raise InvalidInputError("the chat has no user message to answer; add one with role 'user'")
