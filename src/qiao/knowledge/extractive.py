"""Extractive answers: the best-supported sentences of the top passages, no generator needed."""

from __future__ import annotations

from qiao.knowledge.retriever import Hit
from qiao.knowledge.sentences import bigram_set, content_chars, split_sentences, support

__all__ = ["extract_answer"]

# Passages read, and sentences returned.
PASSAGES = 3
MAX_SENTENCES = 2
# A later passage's sentence must beat the first passage's by this factor.
RANK_DECAY = 0.85


# Question words and the words an answer to them usually contains, so that
# "在哪里" finds "地址：…" and "多少钱" finds "门票：…".
ANSWER_CUES = {
    "哪里": "地址位于位置",
    "在哪": "地址位于位置",
    "地址": "地址位于",
    "多少钱": "门票价格售价收费元免费",
    "票价": "门票价格元免费",
    "收费": "门票收费元免费",
    "几点": "开放时间营业时间",
    "开门": "开放时间营业时间",
    "关门": "开放时间营业时间",
    "开放": "开放时间",
    "多长时间": "游玩时间小时",
    "多久": "游玩时间小时",
    "电话": "电话联系",
    "联系": "电话联系",
    "附近": "周边附近",
    "周边": "周边附近",
    "哪儿": "地址位于位置",
    "位置": "地址位于",
    "几个小时": "游玩时间小时",
    "什么时候": "开放时间营业时间",
    "好玩": "周边景点简介",
    "了解": "简介介绍位于",
    "介绍": "简介介绍位于",
    "知道": "简介介绍位于",
    "是什么": "简介是",
}


# Function characters: a bigram that contains one (such as "宫的") carries little meaning.
FUNCTION_CHARS = set("的了吗呢吧啊么是有在和与及也都就还又")


def expand_question(question: str) -> str:
    """Append the answer cues of the question words found in ``question``."""
    cues = [cue for word, cue in ANSWER_CUES.items() if word in question]
    return question + "".join(cues)


def extract_answer(question: str, hits: list[Hit]) -> str:
    """Return the sentences that share the most words with ``question``, in passage order.

    A sentence scores the share of the question's character bigrams (plus the
    answer cues of its question words) found in the sentence or in its
    passage's title and heading. It must match at least one bigram outside
    the title, so that "门票" selects the ticket line of the passage about the
    attraction the question names.
    """
    question_bigrams = {
        bigram
        for bigram in bigram_set(expand_question(question))
        if not FUNCTION_CHARS.intersection(bigram)
    }
    question_chars = set(content_chars(question))
    if not question_bigrams:
        return ""
    scored: list[tuple[float, int, int, str]] = []
    for rank, hit in enumerate(hits[:PASSAGES]):
        label_bigrams = bigram_set(hit.chunk.title + hit.chunk.heading)
        for sentence in split_sentences(hit.chunk.text):
            sentence_bigrams = bigram_set(sentence.text)
            # Bigrams of the title (the entity asked about) do not pick a sentence by
            # themselves: a sentence must also match the rest of the question.
            own = len(question_bigrams & (sentence_bigrams - label_bigrams))
            if own == 0:
                continue
            label = len(question_bigrams & label_bigrams)
            chars = len(question_chars & set(content_chars(sentence.text)))
            score = (own + label + 0.05 * chars) / len(question_bigrams)
            scored.append((score * RANK_DECAY**rank, rank, sentence.start, sentence.text))
    scored = [item for item in scored if item[0] > 0]
    if not scored:
        return ""
    best: list[tuple[float, int, int, str]] = []
    for item in sorted(scored, key=lambda item: item[0], reverse=True):
        if len(best) == MAX_SENTENCES:
            break
        # A further sentence must come from the same passage, be nearly as
        # relevant as the first and not repeat it.
        if best and item[0] < 0.8 * best[0][0]:
            break
        if best and item[1] != best[0][1]:
            continue
        if any(support(item[3], chosen[3]) >= 0.7 for chosen in best):
            continue
        best.append(item)
    best.sort(key=lambda item: (item[1], item[2]))
    return "".join(text if text[-1] in "。！？；!?…" else text + "。" for *_, text in best)
