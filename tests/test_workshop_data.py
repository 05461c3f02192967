"""Tests of ``qiao.workshop.data``: formats, normalization, PII, duplicates, split, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from workshop_fixtures import (
    HEALTH_PAIRS,
    VALID_CARD_16,
    VALID_ID,
    id_check_char,
    luhn_check_digit,
    read_jsonl,
    write_jsonl,
    write_xlsx,
)

from qiao.errors import InvalidInputError, NotFoundError
from qiao.workshop.data import FieldOptions, PrepareOptions, prepare_data
from qiao.workshop.data.dedup import NearDuplicateIndex, lsh_bands
from qiao.workshop.data.normalize import normalize_message_text
from qiao.workshop.data.pii import PiiScrubber, id_card_valid, luhn_valid
from qiao.workshop.data.shared_sets import med_dialogue_pairs
from qiao.workshop.data.tokens import estimate_tokens, load_token_counter


def prepare(tmp_path: Path, inputs: list[Path], **settings) -> tuple[dict, list[dict]]:
    """Run prepare without an eval split and return the report and all output rows."""
    settings.setdefault("eval_fraction", 0.0)
    out = tmp_path / "out"
    report = prepare_data(inputs, out, PrepareOptions(**settings))
    return report, read_jsonl(out / "train.jsonl") + read_jsonl(out / "eval.jsonl")


def contents(row: dict) -> list[tuple[str, str]]:
    return [(message["role"], message["content"]) for message in row["messages"]]


def test_alpaca_rows_become_messages(tmp_path):
    path = write_jsonl(
        tmp_path / "alpaca.jsonl",
        [
            {
                "instruction": "把下面的句子翻译成英文",
                "input": "你好，世界",
                "output": "Hello, world",
            },
            {
                "instruction": "介绍一下长城",
                "input": "",
                "output": "长城是中国古代的军事防御工程。",
            },
            {
                "instruction": "那它有多长？",
                "input": "",
                "output": "明长城全长约8851.8千米。",
                "system": "你是导游。",
                "history": [["介绍一下长城", "长城是中国古代的军事防御工程。"]],
            },
        ],
    )
    report, rows = prepare(tmp_path, [path])
    assert report["inputs"][0]["format"] == "alpaca"
    assert contents(rows[0]) == [
        ("user", "把下面的句子翻译成英文\n\n你好，世界"),
        ("assistant", "Hello, world"),
    ]
    assert contents(rows[1])[0] == ("user", "介绍一下长城")
    assert [role for role, _ in contents(rows[2])] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert rows[2]["source"].endswith("alpaca.jsonl#line=3")


def test_sharegpt_and_messages_rows(tmp_path):
    sharegpt = write_jsonl(
        tmp_path / "sharegpt.jsonl",
        [
            {
                "conversations": [
                    {"from": "system", "value": "你是医生。"},
                    {"from": "human", "value": "头疼怎么办？"},
                    {"from": "gpt", "value": "先休息，持续头疼请就医。"},
                ]
            }
        ],
    )
    messages = write_jsonl(
        tmp_path / "openai.jsonl",
        [
            {
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "咳嗽吃什么药？"}]},
                    {"role": "assistant", "content": "请先明确咳嗽原因，再遵医嘱用药。"},
                ]
            }
        ],
    )
    report, rows = prepare(tmp_path, [sharegpt, messages])
    assert [counts["format"] for counts in report["inputs"]] == ["sharegpt", "messages"]
    assert contents(rows[0]) == [
        ("system", "你是医生。"),
        ("user", "头疼怎么办？"),
        ("assistant", "先休息，持续头疼请就医。"),
    ]
    assert contents(rows[1])[0] == ("user", "咳嗽吃什么药？")


def test_csv_json_and_xlsx_question_answer_tables(tmp_path):
    (tmp_path / "faq.csv").write_bytes(
        "问题,答案\n退货要几天？,七天内可以无理由退货。\n".encode("gb18030")
    )
    (tmp_path / "faq.json").write_text(
        json.dumps([{"q": "运费谁出？", "a": "质量问题由商家承担运费。"}], ensure_ascii=False),
        encoding="utf-8",
    )
    write_xlsx(
        tmp_path / "faq.xlsx",
        [["编号", "客户问题", "客服回答"], [1, "发票怎么开？", "在订单详情页申请电子发票。"]],
    )
    report, rows = prepare(tmp_path, [tmp_path / "faq.csv", tmp_path / "faq.json"])
    assert [counts["format"] for counts in report["inputs"]] == ["qa", "qa"]
    assert contents(rows[0]) == [("user", "退货要几天？"), ("assistant", "七天内可以无理由退货。")]
    assert rows[0]["source"].endswith("faq.csv#row=2")
    assert rows[1]["source"].endswith("faq.json#item=1")

    _, xlsx_rows = prepare(
        tmp_path,
        [tmp_path / "faq.xlsx"],
        fields=FieldOptions(question_field="客户问题", answer_field="客服回答"),
    )
    assert contents(xlsx_rows[0]) == [
        ("user", "发票怎么开？"),
        ("assistant", "在订单详情页申请电子发票。"),
    ]


def test_unknown_columns_name_file_and_fix(tmp_path):
    path = write_jsonl(tmp_path / "odd.jsonl", [{"foo": "x", "bar": "y"}])
    with pytest.raises(InvalidInputError) as caught:
        prepare(tmp_path, [path])
    message = str(caught.value)
    assert "odd.jsonl#line=1" in message
    assert "'foo'" in message
    assert "--question-field" in message


def test_broken_json_line_names_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"instruction": "a", "output": "bbbb"}\n{"instruction": \n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"broken.jsonl line 2 is not valid JSON"):
        prepare(tmp_path, [path])


def test_missing_and_empty_inputs(tmp_path):
    with pytest.raises(NotFoundError, match="missing.jsonl"):
        prepare(tmp_path, [tmp_path / "missing.jsonl"])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="empty.jsonl is empty"):
        prepare(tmp_path, [empty])


def test_invalid_rows_counted_with_source(tmp_path):
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            {"instruction": "说一个水果", "input": "", "output": "苹果是一种常见的水果。"},
            {"instruction": "空回答", "input": "", "output": "   "},
            {"instruction": "列表回答", "input": "", "output": ["不是文本"]},
        ],
    )
    report, rows = prepare(tmp_path, [path])
    assert len(rows) == 1
    assert report["invalid"] == 2
    assert report["invalid_examples"][0]["source"].endswith("mixed.jsonl#line=2")
    assert "empty" in report["invalid_examples"][0]["reason"]


def test_normalization_keeps_chinese_punctuation():
    text = "\ufeff  ＡＢＣ１２３，你好：⼤家\u3000好！\x07\r\n\n\n\n    return 1  "
    assert normalize_message_text(text) == "ABC123，你好：大家 好！\n\n    return 1"


def test_pii_valid_numbers_are_scrubbed():
    card_19 = "622202100112345678" + luhn_check_digit("622202100112345678")
    scrubber = PiiScrubber()
    text = (
        f"身份证{VALID_ID}，卡号{VALID_CARD_16}和{card_19}，分组写法 4111 1111 1111 1111，"
        "电话13812345678或+86 139-1234-5678，邮箱 zhang.san@example.com.cn。"
    )
    assert scrubber.scrub(text) == (
        "身份证[ID_CARD]，卡号[BANK_CARD]和[BANK_CARD]，分组写法 [BANK_CARD]，"
        "电话[PHONE]或[PHONE]，邮箱 [EMAIL]。"
    )
    assert scrubber.counts == {"id_card": 1, "bank_card": 3, "phone": 2, "email": 1}


def test_pii_invalid_checksums_are_kept():
    wrong_id_check = VALID_ID[:17] + ("1" if VALID_ID[17] != "1" else "2")
    month_13 = "11010519491331002"
    bad_date = month_13 + id_check_char(month_13)
    texts = [
        f"编号{bad_date}",  # checksum right, birth date 1949-13-31 impossible
        "卡号4111111111111112",  # Luhn fails
        "订单1381234567812345678999",  # 25 digits: no phone or card inside a longer number
        "电话12812345678",  # 12x is not a mobile prefix
        "概率0.9381531715393066",  # a decimal fraction that passes Luhn
    ]
    assert not id_card_valid(wrong_id_check)
    assert not id_card_valid(bad_date)
    assert not luhn_valid("4111111111111112")
    scrubber = PiiScrubber()
    for text in texts:
        assert scrubber.scrub(text) == text
    # An 18-digit number with a wrong ID checksum may still pass Luhn; then it is a card.
    assert "[ID_CARD]" not in scrubber.scrub(f"编号{wrong_id_check}")
    assert scrubber.counts["id_card"] == 0


def test_addresses_scrubbed_only_on_request():
    text = "我住在北京市朝阳区建国路88号3号楼2单元501室，家在上海市浦东新区世纪公园小区5栋1201室。"
    assert PiiScrubber().scrub(text) == text
    scrubber = PiiScrubber(addresses=True)
    assert scrubber.scrub(text) == "我住在[ADDRESS]，家在[ADDRESS]。"
    assert scrubber.counts["address"] == 2
    # Without a house number or a compound the heuristic leaves the text alone.
    assert scrubber.scrub("北京市海淀区的天气") == "北京市海淀区的天气"


def test_scrub_counts_in_report(tmp_path):
    path = write_jsonl(
        tmp_path / "pii.jsonl",
        [
            {"question": f"我的电话是13812345678，身份证{VALID_ID}", "answer": "已为您登记。"},
            {"question": "地址是广州市天河区体育西路103号", "answer": "邮件发到 kefu@shop.cn"},
        ],
    )
    report, rows = prepare(tmp_path, [path], scrub_addresses=True)
    assert report["scrubbed"] == {
        "email": 1,
        "id_card": 1,
        "bank_card": 0,
        "phone": 1,
        "address": 1,
    }
    assert "13812345678" not in json.dumps(rows, ensure_ascii=False)


def test_exact_and_near_duplicates_removed(tmp_path):
    question, answer = HEALTH_PAIRS[0]
    rows = [{"question": q, "answer": a} for q, a in HEALTH_PAIRS]
    rows.append({"question": question, "answer": answer})  # exact copy
    rows.append({"question": "  " + question, "answer": answer + "\n"})  # same after normalization
    rows.append({"question": question, "answer": answer[:-1] + "！"})  # near copy
    path = write_jsonl(tmp_path / "dups.jsonl", rows)
    report, kept = prepare(tmp_path, [path])
    assert report["duplicates"] == {"exact": 2, "near": 1}
    assert len(kept) == len(HEALTH_PAIRS)


def test_near_duplicate_threshold_and_bands():
    bands, rows = lsh_bands(0.8)
    assert bands * rows <= 128
    index = NearDuplicateIndex(0.8)
    base = "".join(question + answer for question, answer in HEALTH_PAIRS)
    assert index.add(base) is None
    assert index.add(base[:-3] + "有变化") == 0
    assert index.add("完全不同的一段文字，讲的是北京的旅游景点和交通路线。") is None
    with pytest.raises(ValueError):
        NearDuplicateIndex(0.0)


def test_length_filters(tmp_path):
    path = write_jsonl(
        tmp_path / "lengths.jsonl",
        [
            {"question": "嗯", "answer": "好"},
            {"question": "请介绍高血压", "answer": "高" * 300},
            {"question": "请介绍糖尿病", "answer": "糖尿病是一种代谢性疾病。"},
        ],
    )
    report, rows = prepare(tmp_path, [path], max_tokens=100)
    assert report["dropped"] == {"short": 1, "long": 1}
    assert len(rows) == 1
    assert report["token_counter"].startswith("estimate")


def test_token_estimate_counts_cjk_and_other():
    assert estimate_tokens("高血压") == 3
    assert estimate_tokens("abcdef") == 2
    assert estimate_tokens("高血压abc") == 4
    assert estimate_tokens("2024年，") == 6
    assert estimate_tokens("hello world") == 4
    counter = load_token_counter(None)
    messages = [{"role": "user", "content": "高血压"}, {"role": "assistant", "content": "abc"}]
    assert counter.count(messages) == 3 + 1 + 2 * 5


def test_missing_tokenizer_path(tmp_path):
    with pytest.raises(InvalidInputError, match="tokenizer .* not found"):
        load_token_counter(tmp_path / "nope.gguf")


def test_split_is_deterministic_and_order_free(tmp_path):
    rows = [
        {"question": f"问题{index}：{q}", "answer": a}
        for index, (q, a) in enumerate(HEALTH_PAIRS * 4)
    ]
    forward = write_jsonl(tmp_path / "forward.jsonl", rows)
    backward = write_jsonl(tmp_path / "backward.jsonl", rows[::-1])
    options = {"eval_fraction": 0.25, "seed": 7, "near_duplicate_threshold": 1.0}

    first = prepare_data([forward], tmp_path / "a", PrepareOptions(**options))
    prepare_data([forward], tmp_path / "b", PrepareOptions(**options))
    reversed_input = prepare_data([backward], tmp_path / "c", PrepareOptions(**options))
    other_seed = prepare_data([forward], tmp_path / "d", PrepareOptions(**{**options, "seed": 8}))

    def eval_ids(folder: str) -> set[str]:
        return {row["id"] for row in read_jsonl(tmp_path / folder / "eval.jsonl")}

    assert first["eval"] == round(24 * 0.25)
    assert first["train"] + first["eval"] == 24
    assert eval_ids("a") == eval_ids("b")
    assert eval_ids("a") == eval_ids("c")
    assert eval_ids("a") != eval_ids("d")
    assert other_seed["eval"] == first["eval"]
    assert reversed_input["eval"] == first["eval"]


def test_outputs_replace_previous_run(tmp_path):
    path = write_jsonl(
        tmp_path / "a.jsonl", [{"question": q, "answer": a} for q, a in HEALTH_PAIRS]
    )
    out = tmp_path / "out"
    prepare_data([path], out, PrepareOptions(eval_fraction=0.0))
    smaller = write_jsonl(
        tmp_path / "b.jsonl", [{"question": "新问题在这里", "answer": "新回答。"}]
    )
    report = prepare_data([smaller], out, PrepareOptions(eval_fraction=0.0))
    assert len(read_jsonl(out / "train.jsonl")) == 1
    assert json.loads((out / "report.json").read_text(encoding="utf-8")) == report
    assert sorted(item.name for item in out.iterdir()) == [
        "eval.jsonl",
        "report.json",
        "train.jsonl",
    ]


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"eval_fraction": 1.0}, "--eval-fraction 1.0"),
        ({"max_tokens": 0}, "--max-tokens 0"),
        ({"format": "csv"}, "unknown format 'csv'"),
        ({"near_duplicate_threshold": 1.5}, "--near-duplicate-threshold 1.5"),
    ],
)
def test_invalid_options_rejected(tmp_path, settings, fragment):
    path = write_jsonl(tmp_path / "a.jsonl", [{"question": "问题一二三", "answer": "回答四五六"}])
    with pytest.raises(InvalidInputError) as caught:
        prepare(tmp_path, [path], **settings)
    assert fragment in str(caught.value)


def test_med_dialogue_pairs_leave_out_dev_entries(tmp_path):
    folder = tmp_path / "med_dialogue_neike"
    folder.mkdir()
    entries = [
        {
            "doc_id": f"MED-{index:05d}",
            "department": "内科",
            "title": q,
            "text": f"问题：{q}\n回答：{a}",
        }
        for index, (q, a) in enumerate(HEALTH_PAIRS)
    ]
    write_jsonl(folder / "corpus.jsonl", entries)
    write_jsonl(
        folder / "qa_dev.jsonl",
        [{"id": "MEDQ-00001", "question": "…", "answer": "…", "gold_doc_id": "MED-00001"}],
    )
    pairs = list(med_dialogue_pairs(tmp_path))
    assert [pair["doc_id"] for pair in pairs] == [
        "MED-00000",
        *[f"MED-{i:05d}" for i in range(2, 6)],
    ]
    assert pairs[0]["question"] == HEALTH_PAIRS[0][0]
    assert pairs[0]["answer"] == HEALTH_PAIRS[0][1]


def test_med_dialogue_shared_set(qiao_data):
    dev_ids = {
        json.loads(line)["gold_doc_id"]
        for line in (qiao_data / "med_dialogue_neike" / "qa_dev.jsonl").read_text().splitlines()
    }
    pairs = list(med_dialogue_pairs(qiao_data))
    assert len(pairs) == 7258 - len(dev_ids)
    assert not dev_ids & {pair["doc_id"] for pair in pairs}
    assert all(pair["question"] and pair["answer"] for pair in pairs)
