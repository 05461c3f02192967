"""TransformersGenerator, LoRA adapters and ``qiao workshop eval`` on a tiny random model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from test_workshop_cli import qiao  # noqa: E402
from workshop_eval_fixtures import save_tiny_model, write_eval_data, write_rows  # noqa: E402

from qiao.errors import InvalidInputError, ModelError  # noqa: E402
from qiao.llm.base import ChatMessage  # noqa: E402
from qiao.workshop.evaluate.loading import load_model  # noqa: E402
from qiao.workshop.hf_generator import TransformersGenerator  # noqa: E402

ASK = [ChatMessage("user", "感冒发烧怎么办")]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "base")


@pytest.fixture(scope="module")
def adapter_dir(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter with random (non-zero) weights, saved as training saves one."""
    import peft
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    config = peft.LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    folder = tmp_path_factory.mktemp("run") / "adapter"
    peft.get_peft_model(model, config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def generator(tiny_dir: Path) -> TransformersGenerator:
    return TransformersGenerator(tiny_dir, threads=1)


def test_stream_yields_the_same_text_as_generate(generator: TransformersGenerator) -> None:
    whole = generator.generate(ASK, max_tokens=12)
    streamed = "".join(generator.stream(ASK, max_tokens=12))
    assert streamed == whole.text
    assert whole.prompt_tokens > 10
    assert 0 < whole.completion_tokens <= 12
    assert generator.name == "transformers:base"


def test_stop_string_ends_generate_and_stream(generator: TransformersGenerator) -> None:
    text = generator.generate(ASK, max_tokens=12).text
    assert len(text) >= 4, text
    stop = text[2:4]
    expected = text[: text.find(stop)]
    stopped = generator.generate(ASK, max_tokens=12, stop=[stop])
    assert stopped.text == expected
    assert stopped.finish_reason == "stop"
    assert "".join(generator.stream(ASK, max_tokens=12, stop=[stop])) == expected


def test_bad_requests_are_rejected(generator: TransformersGenerator, tiny_dir: Path) -> None:
    with pytest.raises(InvalidInputError, match="max_tokens"):
        generator.generate(ASK, max_tokens=0)
    with pytest.raises(InvalidInputError, match="role"):
        generator.generate([ChatMessage("robot", "hi")])
    closed = TransformersGenerator(tiny_dir, threads=1)
    closed.close()
    with pytest.raises(ModelError, match="closed"):
        closed.generate(ASK)


def test_adapter_is_merged_into_the_weights(tiny_dir: Path, adapter_dir: Path) -> None:
    base, _ = load_model(tiny_dir)
    tuned, _ = load_model(tiny_dir, adapter_dir)
    layer = "model.layers.0.self_attn.q_proj.weight"
    base_weight, tuned_weight = base.state_dict()[layer], tuned.state_dict()[layer]
    assert base_weight.shape == tuned_weight.shape
    assert not base_weight.equal(tuned_weight)
    assert base.state_dict()["model.layers.0.mlp.up_proj.weight"].equal(
        tuned.state_dict()["model.layers.0.mlp.up_proj.weight"]
    )
    named = TransformersGenerator(tiny_dir, adapter_dir, threads=1)
    assert named.name == "transformers:base+adapter"


def test_cli_base_and_tuned_side_by_side(tiny_dir: Path, adapter_dir: Path, tmp_path: Path) -> None:
    data = write_eval_data(tmp_path / "data")
    run = adapter_dir.parent
    shutil.copytree(tiny_dir, run / "base", dirs_exist_ok=True)
    options = ["--data-dir", data, "--mc-limit", 4, "--generation-limit", 2, "--max-new-tokens", 3]

    result = qiao("workshop", "eval", "--run", run, *options, "--lang", "en")
    assert result.exit_code == 0, result.stderr
    text = result.squeezed()
    assert "Medicalmultiple-choiceaccuracy" in text
    assert "Change" in text
    base = json.loads((run / "eval" / "base.json").read_text(encoding="utf-8"))
    tuned = json.loads((run / "eval" / "tuned.json").read_text(encoding="utf-8"))
    assert base["model"]["adapter"] is None
    assert tuned["model"]["adapter"] == str(run / "adapter")
    assert tuned["n"] == base["n"] == {"domain_mc": 4, "general_mc": 4, "domain_generation": 2}

    # Evaluating only the tuned model again compares it with the stored base result.
    again = qiao("workshop", "eval", "--run", run, "--models", "tuned", *options, "--json")
    assert again.exit_code == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["base"] == base
    row = next(r for r in report["comparison"] if r["metric"] == "domain_mc_acc")
    assert row["delta"] == pytest.approx(row["tuned"] - row["base"])


def test_cli_explains_a_missing_adapter(tiny_dir: Path, tmp_path: Path) -> None:
    data = write_eval_data(tmp_path / "data")
    result = qiao(
        "workshop",
        "eval",
        "--base",
        tiny_dir,
        "--data-dir",
        data,
        "--models",
        "tuned",
        "--lang",
        "zh",
    )
    assert result.exit_code != 0
    assert "--adapter" in result.squeezed()
    assert "Traceback" not in result.stderr
    bad = qiao("workshop", "eval", "--base", tiny_dir, "--models", "best", "--lang", "en")
    assert bad.exit_code != 0
    assert "base,tuned" in bad.squeezed()


def test_kb_answers_on_sampled_base(
    generator: TransformersGenerator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qiao.workshop.evaluate.kb_answers import evaluate_kb_answers

    # An empty benchmark home: the full benchmark base must not be found.
    monkeypatch.setenv("QIAO_BENCH_HOME", str(tmp_path / "bench"))
    data = write_eval_data(tmp_path / "data")
    corpus = [
        {
            "doc_id": f"doc{i}",
            "title": f"问题{i}",
            "text": f"问题：问题{i}\n回答：多喝水，注意休息{i}。",
        }
        for i in range(6)
    ]
    write_rows(data / "med_dialogue_neike" / "corpus.jsonl", corpus)
    kb_home = tmp_path / "kb-home"

    first = evaluate_kb_answers(generator, data, kb_home, limit=2, distractors=2, max_tokens=4)
    assert first["n"] == 2
    assert first["generator"] == "transformers:base"
    # The 2 gold passages and 2 distractors.
    assert first["documents"] == 4
    assert 0 <= first["char_f1"] <= 1
    assert 0 <= first["refusal_rate"] <= 1
    again = evaluate_kb_answers(generator, data, kb_home, limit=2, distractors=2, max_tokens=4)
    assert again["knowledge_base"] == first["knowledge_base"]
    assert not list(kb_home.glob(".*.jsonl")), "the sampled corpus file is left behind"
