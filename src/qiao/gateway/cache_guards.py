"""Checks that reject a semantic-cache hit whose question means something else.

Embeddings place "高血压能吃党参吗" and "高血压不能吃党参吗", or "吃一片" and
"吃三片", very close together. A cached answer is reused only when both
questions have the same negation, the same numbers and the same named
entities.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

__all__ = [
    "GUARD_REASONS",
    "guard_conflict",
    "named_entities",
    "negation_count",
    "numbers",
    "topic_nouns",
]

GUARD_REASONS = ("negation", "number", "entity", "topic")

# Words that start with a negation character but do not negate: adverbs and
# conjunctions, hedges such as "不知道", and symptom names.
_NOT_NEGATING = (
    "非常|无论|不过|不仅|不但|不管|不久|不少|不断|不停|不如|别人|别的|别处|未来|无锡"
    "|不知道|不知|不清楚|不明白|不太懂|不懂|不确定|不了解|不好意思"
    "|不舒服|不适|不良|不安|不孕|不育|不全|不齐|不振|不足|不佳|不调|不畅|不稳|不规则|无力|乏力"
)
# "能不能", "是不是", "有没有" ask a question; they negate nothing.
_A_NOT_A = re.compile(r"(.)[不没]\1|可不可以")
_NEGATION = re.compile(r"不|没|无|别|非|未|勿|莫|甭|否")
_NOT_NEGATING_WORD = re.compile(_NOT_NEGATING)

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
# jieba part-of-speech tags of proper nouns: person, place, organisation, other name.
_PROPER_TAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz"})


def negation_count(text: str) -> int:
    """Return how many negation words ``text`` contains."""
    stripped = _NOT_NEGATING_WORD.sub(" ", _A_NOT_A.sub(" ", text))
    return len(_NEGATION.findall(stripped))


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


def guard_conflict(question: str, cached: str, known_entities: Collection[str] = ()) -> str | None:
    """Return why ``cached`` must not answer ``question``, or None when it may.

    The reasons: "negation" (the parity of negation words differs, so "不能不吃"
    matches "能吃"), "number", "entity" (proper nouns or ``known_entities``
    in one only) and "topic" (a noun of the shorter question is missing from
    the longer one, as "高血压" from "糖尿病能吃党参吗").
    """
    if negation_count(question) % 2 != negation_count(cached) % 2:
        return "negation"
    if numbers(question) != numbers(cached):
        return "number"
    if named_entities(question, known_entities) != named_entities(cached, known_entities):
        return "entity"
    shorter, longer = sorted((question.lower(), cached.lower()), key=len)
    if any(noun not in longer for noun in topic_nouns(shorter)):
        return "topic"
    return None
