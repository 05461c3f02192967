"""The retrieval-augmented prompt given to a generator."""

from __future__ import annotations

from qiao.knowledge.chunker import chunk_label
from qiao.knowledge.retriever import Hit

__all__ = ["NO_ANSWER", "REFUSAL_PATTERNS", "build_messages", "is_refusal"]

NO_ANSWER = "知识库中没有找到相关内容。"

SYSTEM_PROMPT = (
    "你是一个严谨的知识库问答助手。请阅读用户提供的资料，从中找出与问题相关的内容来回答，"
    "不要使用资料以外的知识，不要编造。回答要简洁、直接，使用中文，"
    "在每句话的句号前用[编号]标出它依据的资料。"
    f"只有当所有资料都与问题无关时，才回答：{NO_ANSWER}"
)

# Phrases with which a generator says that the context lacks the answer.
REFUSAL_PATTERNS = (
    "没有找到相关内容",
    "没有找到相关信息",
    "资料中没有",
    "资料中未",
    "资料没有",
    "没有提及",
    "没有提到",
    "未提及",
    "未提到",
    "无法回答",
    "无法根据",
    "不包含",
    "没有相关",
    "无相关",
)


def build_messages(question: str, hits: list[Hit]) -> list[dict[str, str]]:
    """Return chat messages that number each passage as ``[n]`` and ask the question."""
    blocks = []
    for number, hit in enumerate(hits, start=1):
        label = chunk_label(hit.chunk)
        header = f"[{number}] {label}" if label else f"[{number}]"
        blocks.append(f"{header}\n{hit.chunk.text.strip()}")
    user = "资料：\n" + "\n\n".join(blocks) + f"\n\n问题：{question}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def is_refusal(text: str) -> bool:
    """Return whether the generated text says that the context has no answer."""
    head = text.strip()[:60]
    return any(pattern in head for pattern in REFUSAL_PATTERNS)
