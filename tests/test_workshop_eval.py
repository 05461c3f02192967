"""Evaluation sets, metrics and the base-versus-tuned comparison (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from workshop_eval_fixtures import CHOICE_ROWS, write_eval_data, write_rows

from qiao.errors import InvalidInputError, NotFoundError
from qiao.knowledge.metrics import char_f1, rouge_l
from qiao.workshop.evaluate import EvalSettings, compare_results, read_eval_result
from qiao.workshop.evaluate.loading import resolve_dtype
from qiao.workshop.evaluate.sets import read_choice_questions, read_open_questions, sample_rows


def test_rouge_l_character_subsequence() -> None:
    # LCS of 今天天气很好 and 今天天气不错 is 今天天气: P = R = 4/6.
    assert rouge_l("今天天气很好", "今天天气不错") == pytest.approx(2 / 3)
    # Same characters in another order: F1 over characters is 1, ROUGE-L is 3/4 (LCS abd).
    assert rouge_l("abcd", "acbd") == pytest.approx(0.75)
    assert char_f1("abcd", "acbd") == pytest.approx(1.0)
    assert rouge_l("", "答案") == 0.0
    assert rouge_l("苹果", "香蕉") == 0.0


def test_char_f1_counts_repeated_characters_once_each() -> None:
    # 天 twice in both; prediction 天天天 has 3 characters, 2 of them shared.
    assert char_f1("天天天", "天天") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert char_f1("多喝水。", "多 喝 水") == 1.0


def test_sample_rows_is_seeded_and_keeps_file_order() -> None:
    rows = list(range(100))
    first = sample_rows(rows, 10, seed=3)
    assert first == sample_rows(rows, 10, seed=3)
    assert first != sample_rows(rows, 10, seed=4)
    assert first == sorted(first)
    assert len(set(first)) == 10
    assert sample_rows(rows, 500, seed=0) == rows
    assert sample_rows(rows, None, seed=0) == rows
    with pytest.raises(InvalidInputError, match="at least 1"):
        sample_rows(rows, 0, seed=0)


def test_reads_choice_and_open_questions(tmp_path: Path) -> None:
    root = write_eval_data(tmp_path)
    questions = read_choice_questions(root / "domain_eval" / "test.jsonl")
    assert [q.answer for q in questions] == [row[2] for row in CHOICE_ROWS]
    assert questions[0].choices["A"] == "120"
    assert questions[0].subject_zh == "临床知识"
    assert len(read_open_questions(root / "med_dialogue_neike" / "qa_dev.jsonl")) == 3


def test_missing_file_names_the_path_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="QIAO_DATA_DIR") as error:
        read_choice_questions(tmp_path / "domain_eval" / "test.jsonl")
    assert "domain_eval" in str(error.value)


def test_empty_set_is_rejected(tmp_path: Path) -> None:
    empty = tmp_path / "test.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="no questions"):
        read_choice_questions(empty)
    with pytest.raises(InvalidInputError, match="no questions"):
        read_open_questions(empty)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"answer": "E"}, "answer 'E' is not one of A, B, C, D"),
        ({"choices": {"A": "1", "B": "2"}}, "exactly A, B, C and D"),
        ({"question": ""}, "'question' is missing or empty"),
    ],
)
def test_malformed_choice_row_names_its_line(tmp_path: Path, change: dict, message: str) -> None:
    good = {"id": "1", "question": "问", "choices": dict.fromkeys("ABCD", "x"), "answer": "A"}
    path = write_rows(tmp_path / "test.jsonl", [good, {**good, **change}])
    with pytest.raises(InvalidInputError, match="line 2") as error:
        read_choice_questions(path)
    assert message in str(error.value)


def test_invalid_json_line_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "test.jsonl"
    path.write_text('{"question": \n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match="line 1 is not valid JSON"):
        read_choice_questions(path)


def test_settings_reject_unknown_sets_shots_and_penalties() -> None:
    with pytest.raises(InvalidInputError, match="unknown or no evaluation sets"):
        EvalSettings(sets=("domain_mc", "medical")).check()
    with pytest.raises(InvalidInputError, match="between 0 and 5"):
        EvalSettings(shots=6).check()
    with pytest.raises(InvalidInputError, match=r"repetition_penalty 0.9 must be between 1.0"):
        EvalSettings(repetition_penalty=0.9).check()


def test_settings_need_a_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QIAO_DATA_DIR", raising=False)
    with pytest.raises(InvalidInputError, match="QIAO_DATA_DIR"):
        EvalSettings().resolved_data_dir()


def test_compare_results_deltas_and_gaps() -> None:
    base = {"domain_mc_acc": 0.4, "domain_rouge_l": 0.1, "general_mc_acc": 0.5}
    tuned = {"domain_mc_acc": 0.45, "domain_rouge_l": 0.2, "general_mc_acc": 0.48}
    rows = {row["metric"]: row for row in compare_results(base, tuned)}
    assert rows["domain_mc_acc"]["delta"] == pytest.approx(0.05)
    assert rows["general_mc_acc"]["delta"] == pytest.approx(-0.02)
    assert rows["domain_char_f1"] == {
        "metric": "domain_char_f1",
        "base": None,
        "tuned": None,
        "delta": None,
    }
    assert all(row["delta"] is None for row in compare_results(base, None))


def test_read_eval_result_rejects_other_json(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    path.write_text(json.dumps({"loss": 1.0}), encoding="utf-8")
    with pytest.raises(InvalidInputError, match="not an evaluation result"):
        read_eval_result(path)
    with pytest.raises(NotFoundError, match="qiao workshop eval"):
        read_eval_result(tmp_path / "tuned.json")


def test_auto_dtype_follows_the_cpu_flags(tmp_path: Path) -> None:
    with_bf16 = tmp_path / "zen4"
    with_bf16.write_text("flags\t\t: fpu avx2 avx512f avx512_bf16\n", encoding="ascii")
    without = tmp_path / "old"
    without.write_text("flags\t\t: fpu avx2\n", encoding="ascii")
    assert resolve_dtype("auto", with_bf16) == "bfloat16"
    assert resolve_dtype("auto", without) == "float32"
    assert resolve_dtype("auto", tmp_path / "missing") == "float32"
    assert resolve_dtype("float32", with_bf16) == "float32"
    with pytest.raises(InvalidInputError, match="unknown dtype 'half'"):
        resolve_dtype("half")
