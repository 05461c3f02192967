"""Entities of a knowledge base named in chat turns, ranked by how likely a follow-up means them.

The entities are the chunk titles of the base (an attraction, a product, a
policy). Matching is case-insensitive substring matching, as in
:func:`qiao.knowledge.retriever.title_in_question`, sped up by an index on
each title's first two characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qiao.knowledge.sentences import content_chars

__all__ = ["EntityMatcher", "Mention", "in_location_phrase", "rank_entities"]

# Titles shorter than this many content characters are never matched.
MIN_TITLE_CHARS = 2
# Characters of an entity's own text kept to tell whether another entity is part of it.
MAX_TEXT_CHARS = 4000

# Ranking weights, chosen on multi-turn travel dialogues (benchmarks/rewrite_recall.py).
# A mention's weight is multiplied by DECAY for every turn further back, by
# LOCATION_WEIGHT when it sits in an address or location phrase ("位于颐和园",
# "北京市东城区故宫博物院内"), and by PART_WEIGHT when the entity appears in the
# text of an entity the conversation named earlier (a hall inside a palace).
DECAY = 0.7
LOCATION_WEIGHT = 0.2
PART_WEIGHT = 0.5
# Words before a mention, in the same sentence, that make it a location phrase.
_LOCATION_CUE = re.compile(r"位于|地址|坐落|属于|在|近|[省市县区路街号]")
_SENTENCE_END = "。！？!?\n"


@dataclass(frozen=True)
class Mention:
    """A title found in a text, starting at character ``start``."""

    title: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.title)


class EntityMatcher:
    """Finds known titles in text; nested matches give way to the longest one."""

    def __init__(self, titles: Iterable[str], texts: dict[str, str] | None = None) -> None:
        self._by_prefix: dict[str, list[str]] = {}
        self._lower: dict[str, str] = {}
        for title in dict.fromkeys(titles):
            if len(content_chars(title)) < MIN_TITLE_CHARS or len(title) < 2:
                continue
            lowered = title.lower()
            self._lower[title] = lowered
            self._by_prefix.setdefault(lowered[:2], []).append(title)
        for group in self._by_prefix.values():
            group.sort(key=len, reverse=True)
        self._texts = {
            title: text[:MAX_TEXT_CHARS].lower() for title, text in (texts or {}).items()
        }

    def __len__(self) -> int:
        return len(self._lower)

    def find(self, text: str) -> list[Mention]:
        """Return the titles that occur in ``text``, in order, without matches nested in others."""
        lowered = text.lower()
        found: list[Mention] = []
        position = 0
        while position < len(lowered) - 1:
            match = self._longest_at(lowered, position)
            if match is None:
                position += 1
                continue
            found.append(Mention(match, position))
            position += len(match)
        return found

    def _longest_at(self, lowered: str, position: int) -> str | None:
        for title in self._by_prefix.get(lowered[position : position + 2], ()):
            if lowered.startswith(self._lower[title], position):
                return title
        return None

    def is_part_of(self, title: str, other: str) -> bool:
        """Return whether ``title`` occurs in the text of ``other`` but is not in its name."""
        lowered = self._lower.get(title, title.lower())
        if lowered in other.lower():
            return False
        return lowered in self._texts.get(other, "")


def rank_entities(matcher: EntityMatcher, turns: Sequence[str]) -> list[tuple[str, float]]:
    """Return the titles named in ``turns`` (oldest first), most likely topic first, with scores."""
    scores: dict[str, float] = {}
    first_turn: dict[str, int] = {}
    last = len(turns) - 1
    for index, turn in enumerate(turns):
        # A title named twice in one turn counts once, as a topic if either mention is one.
        weights: dict[str, float] = {}
        for mention in matcher.find(turn):
            weight = LOCATION_WEIGHT if in_location_phrase(turn, mention.start) else 1.0
            weights[mention.title] = max(weight, weights.get(mention.title, 0.0))
        for title, weight in weights.items():
            scores[title] = scores.get(title, 0.0) + weight * DECAY ** (last - index)
            first_turn.setdefault(title, index)

    # An entity first named after another one whose text contains it is likely
    # a part or a feature of that one, not a new topic.
    for title in scores:
        if any(
            first_turn[other] < first_turn[title] and matcher.is_part_of(title, other)
            for other in scores
            if other != title
        ):
            scores[title] *= PART_WEIGHT
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)


def in_location_phrase(text: str, start: int) -> bool:
    """Return whether a location cue precedes position ``start`` in the same sentence."""
    sentence_start = max(text.rfind(mark, 0, start) for mark in _SENTENCE_END) + 1
    return _LOCATION_CUE.search(text, sentence_start, start) is not None
