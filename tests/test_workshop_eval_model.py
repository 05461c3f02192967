"""Multiple-choice scoring, generation and evaluate_model on a tiny random Qwen2 model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from workshop_eval_fixtures import (  # noqa: E402
    CHOICE_ROWS,
    bias_towards,
    save_tiny_model,
    write_eval_data,
    write_rows,
)

from qiao.errors import InvalidInputError, NotFoundError  # noqa: E402
from qiao.workshop.evaluate import EvalSettings, evaluate_model, write_eval_result  # noqa: E402
from qiao.workshop.evaluate.generation import generate_answers  # noqa: E402
from qiao.workshop.evaluate.loading import load_model  # noqa: E402
from qiao.workshop.evaluate.mc import letter_token_ids, score_choices  # noqa: E402
from qiao.workshop.evaluate.prompts import ANSWER_PREFIX, choice_prompt  # noqa: E402
from qiao.workshop.evaluate.sets import LETTERS, read_choice_questions  # noqa: E402


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "base")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_eval_data(tmp_path_factory.mktemp("data"))


@pytest.fixture
def loaded(tiny_dir: Path) -> tuple:
    return load_model(tiny_dir)


def questions(data: Path) -> list:
    return read_choice_questions(data / "domain_eval" / "test.jsonl")


def test_choice_prompt_ends_before_letter(loaded: tuple, data: Path) -> None:
    _, tokenizer = loaded
    prompt = choice_prompt(tokenizer, questions(data)[0])
    assert prompt.startswith("<|im_start|>user\n以下是关于临床知识的单项选择题")
    assert "A. 120\nB. 140\nC. 160\nD. 180<|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n" + ANSWER_PREFIX)


def test_score_choices_is_deterministic(loaded: tuple, data: Path) -> None:
    model, tokenizer = loaded
    rows = questions(data)
    first = score_choices(model, tokenizer, rows, batch_size=3)
    again = score_choices(model, tokenizer, rows, batch_size=3)
    alone = score_choices(model, tokenizer, rows, batch_size=1)

    assert first.n == len(CHOICE_ROWS)
    assert len(first.predictions) == first.n
    assert set(first.predictions) <= set(LETTERS)
    assert first.predictions == again.predictions
    # Left padding and position ids make a batched prompt score like a prompt alone.
    assert first.predictions == alone.predictions
    assert 0 < first.letter_mass <= 1
    assert first.accuracy == sum(
        p == row[2] for p, row in zip(first.predictions, CHOICE_ROWS, strict=True)
    ) / len(CHOICE_ROWS)


def test_score_choices_letter_bias(loaded: tuple, data: Path) -> None:
    model, tokenizer = loaded
    letter_a, letter_b = letter_token_ids(tokenizer)[:2]
    bias_towards(model, letter_a)
    towards_a = score_choices(model, tokenizer, questions(data), batch_size=4)
    bias_towards(model, letter_b)
    towards_b = score_choices(model, tokenizer, questions(data), batch_size=4)

    assert towards_a.predictions == ["A"] * 8
    assert towards_a.accuracy == 3 / 8
    assert towards_b.predictions == ["B"] * 8
    assert towards_b.accuracy == 2 / 8
    assert towards_a.letter_mass == pytest.approx(1.0)
    assert towards_a.per_subject == {"clinical_knowledge": 3 / 8}


def test_generate_answers_bounded_and_stops(loaded: tuple) -> None:
    model, tokenizer = loaded
    asked = ["感冒发烧怎么办", "胃痛吃什么药好", "高血压患者能吃党参吗"]
    answers, lengths = generate_answers(model, tokenizer, asked, max_new_tokens=6, batch_size=2)
    again, _ = generate_answers(model, tokenizer, asked, max_new_tokens=6, batch_size=3)
    assert answers == again
    assert len(answers) == 3
    assert all(0 <= n <= 6 for n in lengths)

    bias_towards(model, tokenizer.convert_tokens_to_ids("<|im_end|>"))
    stopped, stopped_lengths = generate_answers(model, tokenizer, asked, max_new_tokens=6)
    assert stopped == ["", "", ""]
    assert stopped_lengths == [0, 0, 0]


def test_evaluate_model_scores_every_set_and_writes_json(
    tiny_dir: Path, data: Path, tmp_path: Path
) -> None:
    settings = EvalSettings(data_dir=data, mc_limit=5, generation_limit=2, max_new_tokens=4)
    seen: list[tuple[str, int, int]] = []
    result = evaluate_model(tiny_dir, None, settings, lambda *step: seen.append(step))

    assert result["n"] == {"domain_mc": 5, "general_mc": 5, "domain_generation": 2}
    for key in ("domain_mc_acc", "general_mc_acc", "domain_rouge_l", "domain_char_f1"):
        assert 0 <= result[key] <= 1
    assert set(result["seconds_per_item"]) == {"domain_mc", "general_mc", "domain_generation"}
    assert ("domain_mc", 5, 5) in seen
    assert ("domain_generation", 2, 2) in seen
    assert len(result["examples"]) == 2
    assert result["examples"][0]["reference"]
    assert result["model"] == {"base": str(tiny_dir), "adapter": None}

    path = write_eval_result(result, tmp_path / "eval" / "base.json")
    assert json.loads(path.read_text(encoding="utf-8"))["n"] == result["n"]


def test_evaluate_model_chosen_sets_few_shot(tiny_dir: Path, data: Path) -> None:
    settings = EvalSettings(data_dir=data, sets=("general_mc",), shots=2)
    result = evaluate_model(tiny_dir, None, settings)
    assert result["n"] == {"general_mc": 8}
    assert result["domain_mc_acc"] is None
    assert result["domain_rouge_l"] is None


def test_missing_data_fails_before_the_model_loads(tmp_path: Path) -> None:
    # The base folder does not exist either: the data check must come first.
    settings = EvalSettings(data_dir=tmp_path)
    with pytest.raises(NotFoundError, match="domain_eval"):
        evaluate_model(tmp_path / "no-model", None, settings)


def test_empty_set_and_missing_model_are_clear_errors(
    tiny_dir: Path, data: Path, tmp_path: Path
) -> None:
    root = write_eval_data(tmp_path / "data")
    write_rows(root / "general_eval" / "test.jsonl", [])
    with pytest.raises(InvalidInputError, match="no questions"):
        evaluate_model(tiny_dir, None, EvalSettings(data_dir=root))
    with pytest.raises(NotFoundError, match="no config.json"):
        evaluate_model(tmp_path / "no-model", None, EvalSettings(data_dir=data))
    with pytest.raises(NotFoundError, match="adapter_config.json"):
        evaluate_model(tiny_dir, tmp_path, EvalSettings(data_dir=data, sets=("domain_mc",)))


def test_choice_prompt_needs_a_chat_template(loaded: tuple, data: Path) -> None:
    from qiao.errors import ModelError

    _, tokenizer = loaded
    tokenizer.chat_template = None
    with pytest.raises(ModelError, match="no chat template"):
        choice_prompt(tokenizer, questions(data)[0])
