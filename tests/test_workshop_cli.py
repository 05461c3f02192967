"""End-to-end tests of ``qiao workshop data`` through the ``qiao`` entry point."""

from __future__ import annotations

import json

import pytest
from cli_runner import run_qiao
from workshop_fixtures import HEALTH_PAIRS, VALID_ID, conversation, read_jsonl, write_jsonl

qiao = run_qiao


@pytest.fixture
def health_file(tmp_path):
    rows = [{"question": question, "answer": answer} for question, answer in HEALTH_PAIRS]
    rows.append({"question": f"身份证{VALID_ID}能查吗？", "answer": "请到派出所办理查询。"})
    rows.append(rows[0])
    return write_jsonl(tmp_path / "health.jsonl", rows)


def test_prepare_json_report(tmp_path, health_file):
    out = tmp_path / "out"
    result = qiao("workshop", "data", "prepare", health_file, "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows_in"] == 8
    assert report["rows_out"] == 7
    assert report["duplicates"]["exact"] == 1
    assert report["scrubbed"]["id_card"] == 1
    assert report["train"] + report["eval"] == 7
    assert report["eval"] == 1
    assert len(read_jsonl(out / "train.jsonl")) == report["train"]
    assert json.loads((out / "report.json").read_text(encoding="utf-8")) == report


def test_prepare_table_in_chinese(tmp_path, health_file):
    result = qiao(
        "workshop", "data", "prepare", health_file, "--out", tmp_path / "o", "--lang", "zh"
    )
    assert result.exit_code == 0, result.stderr
    text = result.squeezed()
    assert "输入行数" in text
    assert "完全重复" in text
    assert "已脱敏：id_card" in text
    assert "训练集6行，评测集1行" in text


def test_prepare_error_is_one_message(tmp_path):
    path = write_jsonl(tmp_path / "odd.jsonl", [{"foo": "x"}])
    result = qiao("workshop", "data", "prepare", path, "--out", tmp_path / "o", "--lang", "en")
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert "odd.jsonl#line=1" in result.squeezed()
    assert not (tmp_path / "o").exists()


def test_mix_json_and_text(tmp_path):
    general = write_jsonl(
        tmp_path / "g.jsonl", [conversation(f"通用{i}", f"回答{i}") for i in range(20)]
    )
    domain = write_jsonl(
        tmp_path / "d.jsonl", [conversation(f"医疗{i}", f"回答{i}") for i in range(2)]
    )
    out = tmp_path / "mix.jsonl"
    args = ("workshop", "data", "mix", "--general", general, "--domain", domain)
    result = qiao(*args, "--ratio", "70:30", "--rows", 10, "--out", out, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows"] == 10
    assert report["realised_ratio"] == {"general": 70.0, "domain": 30.0}
    assert report["sources"]["domain"]["repeated"] is True

    text = qiao(*args, "--ratio", "70:30", "--rows", 10, "--out", out, "--lang", "zh")
    assert text.exit_code == 0
    squeezed = text.squeezed()
    assert "领域数据只有2行，但需要3行" in squeezed
    assert "通用7行（70.00%），领域3行（30.00%）" in squeezed


@pytest.mark.parametrize(
    ("ratio", "lang", "expected"),
    [
        ("70:20", "en", "Invalid--ratio'70:20':thesharesaddupto90,not100;e.g.70:30."),
        ("-1:101", "zh", "--ratio的值'-1:101'含有负数"),
        ("abc", "zh", "--ratio的值'abc'无效"),
    ],
)
def test_mix_bad_ratio_message(tmp_path, ratio, lang, expected):
    data = write_jsonl(tmp_path / "g.jsonl", [conversation("问", "答")])
    result = qiao(
        "workshop", "data", "mix", "--general", data, "--domain", data,
        "--ratio", ratio, "--rows", 10, "--out", tmp_path / "m.jsonl", "--lang", lang,
    )  # fmt: skip
    assert result.exit_code == 1
    assert expected in result.squeezed()
    assert "Traceback" not in result.stderr


def test_med_dialogue_command(tmp_path):
    folder = tmp_path / "med_dialogue_neike"
    folder.mkdir()
    write_jsonl(
        folder / "corpus.jsonl",
        [
            {"doc_id": "MED-1", "title": "问一", "text": "问题：问一\n回答：答一"},
            {"doc_id": "MED-2", "title": "问二", "text": "问题：问二\n回答：答二"},
        ],
    )
    write_jsonl(folder / "qa_dev.jsonl", [{"id": "Q", "question": "?", "gold_doc_id": "MED-2"}])
    out = tmp_path / "pairs.jsonl"
    result = qiao("workshop", "data", "med-dialogue", "--data-dir", tmp_path, "--out", out)
    assert result.exit_code == 0, result.stderr
    rows = read_jsonl(out)
    assert [(row["question"], row["answer"]) for row in rows] == [("问一", "答一")]
