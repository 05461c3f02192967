"""Checks that reject a semantic-cache hit whose question means something else.

Embeddings place "高血压能吃党参吗" and "高血压不能吃党参吗", or "吃一片" and
"吃三片", very close together. A cached answer is reused only when neither
question negates what the other asserts, and the two agree on numbers, named
entities and topic nouns.

Agreement depends on length. A long question often tells a story around a
short one ("我今年35岁，在北京上班，最近…高血压能吃党参吗"), so the shorter
question's numbers, entities and nouns must appear in the longer one, as must
some of its wording. When neither is more than twice as long as the other,
the reverse must hold too.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from functools import lru_cache

from qiao.knowledge.sentences import support

__all__ = [
    "GUARD_REASONS",
    "guard_conflict",
    "intents",
    "named_entities",
    "negated_phrases",
    "numbers",
    "topic_nouns",
]

GUARD_REASONS = ("overlap", "negation", "number", "entity", "topic", "intent")

# Words that start with a negation character but do not negate: adverbs and
# conjunctions, hedges such as "不知道", and symptom names.
_NOT_NEGATING = re.compile(
    "非常|无论|不过|不仅|不但|不管|不久|不少|不断|不停|不如|别人|别的|别处|未来|无锡"
    "|不知道|不知|不清楚|不明白|不太懂|不懂|不确定|不了解|不好意思"
    "|不舒服|不适|不良|不安|不孕|不育|不全|不齐|不振|不足|不佳|不调|不畅|不稳|不规则|无力|乏力"
)
# "能不能", "是不是", "有没有" ask a question; they negate nothing.
_A_NOT_A = re.compile(r"(.)[不没]\1|可不可以")
_NEGATION = re.compile(r"[不没无别非未勿莫甭否]")
# A verb that a negation often precedes; the negated content follows it ("没有发烧").
_AUXILIARIES = "有是要用会能太很想该够再可"
_CONTENT = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff0-9a-zA-Z]")
# Questions within this length ratio must agree both ways.
SIMILAR_LENGTH_RATIO = 2.0
# Share of the shorter question's character bigrams that must occur in the
# longer one. At 0.3 the paraphrase benchmark (benchmarks/semantic_cache.py)
# lost no correct hit above cosine 0.97 and a quarter of the false ones at 0.95.
MIN_BIGRAM_OVERLAP = 0.3

_ARABIC = re.compile(r"\d+(?:\.\d+)?")
_CHINESE_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_CHINESE_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
# Chinese numerals count when they contain a unit (十, 百, 千, 万) or come before a
# measure word, so that "一般" and "一直" are no numbers but "一天" and "三片" are.
_CHINESE_NUMBER = re.compile(
    r"[零〇一二两三四五六七八九十百千万]+(?=[个次天日周月年岁片粒袋支瓶杯克斤度号层楼米元块分秒点倍"
    r"小毫公升种项位名人回趟遍顿])|[零〇一二两三四五六七八九]*[十百千万][零〇一二两三四五六七八九十百千万]*"
)
# Nouns that name no topic; a question may add or drop them.
_GENERIC_NOUNS = frozenset(
    "问题 情况 时候 方法 办法 原因 患者 病人 医生 大夫 朋友 家人 东西 事情 地方 时间 现在 今天 "
    "平时 最近 之前 以后 结果 效果 作用 谢谢 你好 请问".split()
)
# What a question asks for, by its question words. "怎么治" and "要治疗吗" or
# "如何治" and "治多久" embed close together but need different answers.
_INTENTS = {
    "duration": re.compile(r"多久|多长时间|多少天|几天|几年|几个月"),
    "cost": re.compile(r"多少钱|价格|费用|贵不贵|收费"),
    "place": re.compile(r"哪里|哪儿|在哪|哪家|什么地方|什么医院|哪个医院"),
    "time": re.compile(r"什么时候|几点|何时"),
    "cause": re.compile(r"为什么|为啥|原因|怎么回事|怎么引起|如何引起|怎么形成|怎样形成|怎样构成"),
    "method": re.compile(r"怎么|怎样|如何|咋"),
    "what": re.compile(r"什么|啥|哪些"),
    "whether": re.compile(r"吗|嘛|(?<![什怎这那多要])么|不[?？]|(.)[不没]\1|可不可以|是否"),
}
# jieba part-of-speech tags of proper nouns: person, place, organisation, other name.
_PROPER_TAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz"})


def _mask_not_negating(text: str) -> str:
    """Return ``text`` with A-not-A questions and non-negating words blanked, same length."""
    for pattern in (_A_NOT_A, _NOT_NEGATING):
        text = pattern.sub(lambda match: " " * len(match.group()), text)
    return text


def negated_phrases(text: str) -> list[str]:
    """Return the two content characters each negation in ``text`` applies to.

    "不能吃党参" gives "吃党" and "没有发烧" gives "发烧": an auxiliary verb
    right after the negation is skipped.
    """
    masked = _mask_not_negating(text)
    phrases = []
    for match in _NEGATION.finditer(masked):
        following = "".join(_CONTENT.findall(text[match.end() : match.end() + 6]))
        if following[:1] and following[0] in _AUXILIARIES:
            following = following[1:]
        if len(following) >= 2:
            phrases.append(following[:2])
    return phrases


def _asserts(text: str, phrase: str) -> bool:
    """Return whether ``phrase`` occurs in ``text`` without a negation just before it."""
    masked = _mask_not_negating(text)
    start = text.find(phrase)
    while start >= 0:
        if not _NEGATION.search(masked, max(0, start - 3), start):
            return True
        start = text.find(phrase, start + 1)
    return False


def _negation_conflict(first: str, second: str) -> bool:
    return any(_asserts(second, phrase) for phrase in negated_phrases(first)) or any(
        _asserts(first, phrase) for phrase in negated_phrases(second)
    )


def numbers(text: str) -> list[float]:
    """Return the numbers written in ``text`` in Arabic or Chinese numerals, sorted."""
    values = [float(match) for match in _ARABIC.findall(text)]
    values.extend(_chinese_value(match) for match in _CHINESE_NUMBER.findall(text))
    return sorted(values)


def _chinese_value(numeral: str) -> float:
    total = section = digit = 0
    for char in numeral:
        if char in _CHINESE_DIGITS:
            digit = _CHINESE_DIGITS[char]
        elif char == "万":
            total += (section + digit) * 10000
            section = digit = 0
        else:
            section += (digit or 1) * _CHINESE_UNITS[char]
            digit = 0
    return float(total + section + digit)


@lru_cache(maxsize=4096)
def _tagged_words(text: str) -> tuple[tuple[str, str], ...]:
    import jieba.posseg

    return tuple((pair.word.lower(), pair.flag) for pair in jieba.posseg.cut(text))


def _proper_nouns(text: str) -> frozenset[str]:
    return frozenset(word for word, flag in _tagged_words(text) if flag in _PROPER_TAGS)


def topic_nouns(text: str) -> frozenset[str]:
    """Return the nouns of two or more characters in ``text``, other than generic ones."""
    return frozenset(
        word
        for word, flag in _tagged_words(text)
        if flag.startswith("n") and len(word) >= 2 and word not in _GENERIC_NOUNS
    )


def named_entities(text: str, known: Collection[str] = ()) -> frozenset[str]:
    """Return the proper nouns jieba tags in ``text`` plus the ``known`` names it contains."""
    lowered = text.lower()
    return _proper_nouns(text) | {name.lower() for name in known if name.lower() in lowered}


def intents(text: str) -> frozenset[str]:
    """Return the kinds of question ``text`` asks: "method", "whether", "duration" and so on."""
    # Question words inside a cause or duration phrase do not count twice.
    found = {name for name, pattern in _INTENTS.items() if pattern.search(text)}
    if "cause" in found or "place" in found or "time" in found:
        found.discard("what")
        found.discard("method")
    return frozenset(found)


def guard_conflict(question: str, cached: str, known_entities: Collection[str] = ()) -> str | None:
    """Return why ``cached`` must not answer ``question``, or None when it may.

    The reasons: "overlap" (the questions share too few character bigrams
    for a paraphrase), "negation" (one question negates a phrase the other
    asserts), "number", "entity" (proper nouns, or ``known_entities`` such as
    knowledge-base titles, which must match both ways at any length), "topic"
    (nouns) and "intent" (question words such as 多久 or 怎么).
    """
    shorter, longer = sorted((question, cached), key=len)
    if support(shorter, longer) < MIN_BIGRAM_OVERLAP:
        return "overlap"
    if _negation_conflict(question, cached):
        return "negation"
    both_ways = len(longer) <= SIMILAR_LENGTH_RATIO * len(shorter)
    if _disagree(numbers(shorter), numbers(longer), both_ways):
        return "number"
    lowered = longer.lower()
    known = {name.lower() for name in known_entities}
    if {name for name in known if name in shorter.lower()} != {
        name for name in known if name in lowered
    }:
        return "entity"
    if _disagree(named_entities(shorter), named_entities(longer), both_ways):
        return "entity"
    texts = (shorter.lower(), lowered)
    if _disagree(topic_nouns(shorter), topic_nouns(longer), both_ways, texts):
        return "topic"
    if _disagree(intents(shorter), intents(longer), both_ways):
        return "intent"
    return None


def _disagree(
    short: Iterable[object],
    long: Iterable[object],
    both_ways: bool,
    texts: tuple[str, str] | None = None,
) -> bool:
    """Return whether items of the shorter question are missing from the longer one.

    With the two ``texts`` (shorter, longer) given, an item also counts as
    present when it occurs anywhere in the other text, as jieba may split a
    word differently in another sentence.
    """
    short_items, long_items = list(short), list(long)
    if texts is not None:
        shorter, longer = texts
        if any(str(item) not in longer for item in short_items):
            return True
        return both_ways and any(str(item) not in shorter for item in long_items)
    if any(item not in long_items for item in short_items):
        return True
    return both_ways and any(item not in short_items for item in long_items)
