"""``run_recipe`` on a tiny model: every stage, the report, and resume of finished stages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from workshop_tiny_model import build_tiny_model, write_conversations  # noqa: E402

from qiao.errors import InvalidInputError  # noqa: E402
from qiao.workshop.recipe import load_recipe  # noqa: E402
from qiao.workshop.run import STAGES, run_recipe  # noqa: E402

RECIPE = """
name: tiny
base_model: {base}
data:
  domain: [domain.jsonl]
  general: [general.jsonl]
  ratio: "70:30"
  rows: 20
train:
  max_length: 64
  checkpoint_every: 2
  threads: 1
  dtype: float32
eval:
  mc_limit: 2
  generation_limit: 1
  max_new_tokens: 4
deploy:
  name: qiao-tiny
"""


@pytest.fixture
def recipe_path(tmp_path: Path) -> Path:
    base = build_tiny_model(tmp_path / "base")
    domain = [(f"头疼{index}怎么办", f"多休息{index}天。") for index in range(12)]
    general = [(f"写一句话{index}", f"今天天气很好{index}。") for index in range(30)]
    write_conversations(tmp_path / "domain.jsonl", domain)
    write_conversations(tmp_path / "general.jsonl", general)
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE.format(base=base), encoding="utf-8")
    return path


def test_run_recipe_all_stages_then_resume(
    recipe_path: Path, tmp_path: Path, qiao_data: Path
) -> None:
    home = tmp_path / "home"
    seen: list[tuple[str, float, float | None]] = []
    report = run_recipe(load_recipe(recipe_path), home, qiao_data, lambda *args: seen.append(args))

    assert list(report["stages"]) == [name for name, _ in STAGES]
    assert report["mix"] == {"general": 14, "domain": 6}
    for model in ("base", "tuned"):
        scores = report["eval"][model]
        for metric in ("domain_mc_acc", "domain_rouge_l", "general_mc_acc"):
            assert 0.0 <= scores[metric] <= 1.0, (model, metric)
    assert report["eval"]["base"]["n"]["domain_mc"] == 2
    assert "Hugging Face folder" in report["export"]["skipped"]
    assert report["deploy"] == {"skipped": "nothing was exported"}

    run_dir = home / "workshop" / "tiny"
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()
    assert json.loads((run_dir / "report.json").read_text(encoding="utf-8")) == report
    assert "| domain_mc_acc |" in (run_dir / "report.md").read_text(encoding="utf-8")
    assert ("train", 1, 1) in seen

    # A second run finds every stage finished and reports the recorded times.
    again = run_recipe(load_recipe(recipe_path), home, qiao_data)
    assert again["stages"] == report["stages"]

    recipe_path.write_text(recipe_path.read_text(encoding="utf-8") + "# changed\n", "utf-8")
    with pytest.raises(InvalidInputError, match="recipe changed.*--restart"):
        run_recipe(load_recipe(recipe_path), home, qiao_data)


def test_cli_run_json_prints_report_last(
    recipe_path: Path, tmp_path: Path, qiao_data: Path
) -> None:
    from test_workshop_cli import qiao

    home = tmp_path / "home"
    result = qiao("workshop", "run", recipe_path, "--json", "--home", home, "--data-dir", qiao_data)
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report["stages"]) == {name for name, _ in STAGES}
    assert report["mix"] == {"general": 14, "domain": 6}
    assert set(report["eval"]) == {"base", "tuned"}


def test_cli_run_bad_ratio_message(recipe_path: Path, tmp_path: Path, qiao_data: Path) -> None:
    from test_workshop_cli import qiao

    recipe_path.write_text(
        recipe_path.read_text(encoding="utf-8").replace('"70:30"', '"70:20"'), "utf-8"
    )
    result = qiao("workshop", "run", recipe_path, "--lang", "en", "--data-dir", qiao_data)
    assert result.exit_code == 1
    assert "70:20" in result.squeezed()
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("  max_new_tokens: many", "eval.max_new_tokens must be an integer, got 'many'"),
        ("  repetition_penalty: high", "eval.repetition_penalty must be a number, got 'high'"),
    ],
)
def test_recipe_eval_value_wrong_type(recipe_path: Path, line: str, message: str) -> None:
    text = recipe_path.read_text(encoding="utf-8").replace("  max_new_tokens: 4", line)
    recipe_path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInputError, match=message):
        load_recipe(recipe_path)
