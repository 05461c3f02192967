from qiao.knowledge.fusion import reciprocal_rank_fusion
from qiao.knowledge.metrics import char_f1, exact_match, rouge_l
from qiao.knowledge.sentences import split_sentences, support
from qiao.knowledge.tokenizers import bigram_tokens, get_tokenizer, jieba_tokens


def test_bigram_tokens_mixed_text():
    tokens = bigram_tokens("故宫门票 60元 Ticket")
    assert tokens[:4] == ["故", "宫", "门", "票"]
    assert "故宫" in tokens
    assert "宫门" in tokens
    assert "60" in tokens
    assert "ticket" in tokens
    assert "元" in tokens


def test_jieba_tokens_drop_punctuation():
    tokens = jieba_tokens("高血压患者日常饮食要注意什么？")
    assert "高血压" in tokens
    assert "？" not in tokens


def test_get_tokenizer_unknown_name():
    import pytest

    from qiao.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="unknown tokenizer 'spaces'"):
        get_tokenizer("spaces")


def test_rrf_orders_by_fused_score():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "a", "d"]], k=60)
    keys = [key for key, _ in fused]
    assert set(keys[:2]) == {"a", "b"}
    assert keys[2:] == ["c", "d"]
    assert abs(fused[0][1] - (1 / 61 + 1 / 62)) < 1e-12


def test_rrf_weights_change_order():
    fused = reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0, 2.0])
    assert [key for key, _ in fused] == ["b", "a"]


def test_split_sentences_offsets():
    text = "门票：旺季60元。\n开放时间：8:30！“好的。”结尾"
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "门票：旺季60元。",
        "开放时间：8:30！",
        "“好的。”",
        "结尾",
    ]
    for sentence in sentences:
        assert text[sentence.start : sentence.end] == sentence.text


def test_support_share_of_bigrams():
    assert support("故宫门票", "故宫门票60元") == 1.0
    assert support("颐和园", "故宫门票60元") == 0.0
    assert 0 < support("故宫开放", "故宫门票") < 1


def test_answer_metrics():
    assert char_f1("60元", "60元") == 1.0
    assert exact_match("旺季60元。[1]", "旺季60元") == 1.0
    assert 0 < char_f1("旺季60元", "60元") < 1
    assert char_f1("完全不同", "60元") == 0.0
    assert rouge_l("abcd", "abdc") == 0.75


def test_label_search_auto_by_label_length():
    from qiao.knowledge.retriever import _label_search_enabled

    faq = ["高血压患者能吃党参吗？", "经常感冒咳嗽反反复复要如何治疗？", "糖尿病还会遗传吗"]
    names = ["故宫", "颐和园", "八达岭长城"]
    assert _label_search_enabled("auto", faq)
    assert not _label_search_enabled("auto", names)
    assert not _label_search_enabled("auto", [])
    assert _label_search_enabled("on", names)
    assert not _label_search_enabled("off", faq)


def test_bm25_cache_round_trip(tmp_path):
    from qiao.knowledge.bm25 import BM25Index

    texts = ["故宫门票旺季60元", "颐和园在海淀区", "天坛公园开放时间"]
    built = BM25Index.cached(tmp_path / "bm25", ["a", "b", "c"], lambda: texts, bigram_tokens)
    assert (tmp_path / "bm25" / "keys.json").is_file()

    def fail() -> list[str]:
        raise AssertionError("the saved index should have been loaded")

    loaded = BM25Index.cached(tmp_path / "bm25", ["a", "b", "c"], fail, bigram_tokens)
    assert loaded.search("颐和园", 2) == built.search("颐和园", 2)
    assert loaded.search("颐和园", 2)[0][0] == "b"

    # Other keys in the same folder are not trusted: the index is rebuilt.
    rebuilt = BM25Index.cached(tmp_path / "bm25", ["x", "y", "z"], lambda: texts, bigram_tokens)
    assert rebuilt.search("颐和园", 1)[0][0] == "y"
