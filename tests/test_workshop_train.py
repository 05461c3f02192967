"""LoRA training on a tiny random Qwen2 model: chat format, training, SIGKILL and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from workshop_tiny_model import build_tiny_model, write_conversations  # noqa: E402

from qiao.workshop.chat_format import (  # noqa: E402
    IGNORE_INDEX,
    encode_conversation,
    render_chat,
)
from qiao.workshop.train import TrainSettings, train_lora  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PAIRS = [
    (f"问题{index}：头疼{index % 7}", f"回答{index}：多喝水，休息{index % 5}天。")
    for index in range(48)
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tiny")
    base = build_tiny_model(folder / "base")
    train_file = write_conversations(folder / "train.jsonl", PAIRS)
    return base, train_file


def _tokenizer(base: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(base)


def test_chat_labels_cover_assistant_only(tiny: tuple[Path, Path]) -> None:
    tokenizer = _tokenizer(tiny[0])
    messages = [
        {"role": "user", "content": "头疼"},
        {"role": "assistant", "content": "多喝水。"},
        {"role": "user", "content": "还有"},
        {"role": "assistant", "content": "休息。"},
    ]
    encoded = encode_conversation(tokenizer, messages, max_length=256)
    labelled = [
        token
        for token, label in zip(encoded.input_ids, encoded.labels, strict=True)
        if label != IGNORE_INDEX
    ]

    assert tokenizer.decode(labelled) == "多喝水。<|im_end|>休息。<|im_end|>"
    whole = render_chat(tokenizer, messages, add_generation_prompt=False)
    assert encoded.input_ids == tokenizer(whole, add_special_tokens=False)["input_ids"]
    assert not encoded.truncated


def test_chat_reply_ends_with_eos(tiny: tuple[Path, Path]) -> None:
    tokenizer = _tokenizer(tiny[0])
    messages = [{"role": "user", "content": "头疼"}, {"role": "assistant", "content": "休息。"}]
    encoded = encode_conversation(tokenizer, messages, max_length=256)
    labels = [label for label in encoded.labels if label != IGNORE_INDEX]

    assert labels[-1] == tokenizer.eos_token_id
    prompt = render_chat(tokenizer, messages[:1], add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")


def test_chat_truncation_marks_row(tiny: tuple[Path, Path]) -> None:
    tokenizer = _tokenizer(tiny[0])
    messages = [{"role": "user", "content": "头疼" * 20}, {"role": "assistant", "content": "休息"}]
    encoded = encode_conversation(tokenizer, messages, max_length=16)

    assert encoded.truncated
    assert len(encoded.input_ids) == 16
    assert encoded.trained_tokens == 0


def test_train_lowers_loss_and_saves_adapter(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    base, train_file = tiny
    settings = TrainSettings(
        epochs=4, learning_rate=5e-3, checkpoint_every=5, warmup_steps=1, threads=1
    )
    calls = []
    summary = train_lora(
        base, train_file, tmp_path / "adapter", settings, lambda *args: calls.append(args)
    )

    assert summary["steps"] == 4 * 6
    assert summary["trained_rows"] == len(PAIRS)
    assert summary["loss_last"] < summary["loss_first"]
    assert calls[-1][:2] == (24, 24)
    adapter = tmp_path / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    assert config["r"] == 8
    assert sorted(config["target_modules"]) == ["k_proj", "o_proj", "q_proj", "v_proj"]
    assert config["base_model_name_or_path"] == str(base)
    assert (adapter / "adapter_model.safetensors").is_file()
    assert sorted(path.name for path in (tmp_path / "checkpoints").iterdir()) == [
        "step-15",
        "step-20",
    ]


# float32 keeps the losses of two runs equal to the last digit; bf16 on the CPU does not.
RESUME_SETTINGS = (
    "epochs=3, checkpoint_every=3, learning_rate=5e-3, warmup_steps=1, threads=1, dtype='float32'"
)
TRAIN_SCRIPT = f"""
import sys
from pathlib import Path
from qiao.workshop.train import TrainSettings, train_lora

settings = TrainSettings({RESUME_SETTINGS})
def progress(step, total, loss):
    print(step, flush=True)
summary = train_lora(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), settings, progress)
print("done", summary["resumed_from_step"], flush=True)
"""


def _train_process(base: Path, train_file: Path, out: Path) -> subprocess.Popen:
    environment = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen(
        [sys.executable, "-c", TRAIN_SCRIPT, str(base), str(train_file), str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
    )


@pytest.mark.slow
def test_train_resumes_after_sigkill(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    base, train_file = tiny
    reference = tmp_path / "reference" / "adapter"
    train_lora(base, train_file, reference, eval(f"TrainSettings({RESUME_SETTINGS})"))

    interrupted = tmp_path / "interrupted" / "adapter"
    process = _train_process(base, train_file, interrupted)
    # Kill the trainer once it has passed the checkpoint at step 6.
    for line in process.stdout:
        if line.strip().isdigit() and int(line) >= 7:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not interrupted.exists()
    checkpoints = sorted(path.name for path in (interrupted.parent / "checkpoints").iterdir())
    assert "step-6" in checkpoints

    process = _train_process(base, train_file, interrupted)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    resumed_from = int(output.strip().splitlines()[-1].split()[1])
    assert resumed_from >= 6

    expected = json.loads((reference / "trainer_state.json").read_text(encoding="utf-8"))
    actual = json.loads((interrupted / "trainer_state.json").read_text(encoding="utf-8"))
    assert len(actual["losses"]) == len(expected["losses"]) == 18
    # Steps after the resume see the same rows, dropout and optimizer state.
    assert actual["losses"] == pytest.approx(expected["losses"], rel=1e-4)


def test_train_rejects_checkpoint_of_other_settings(
    tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    from qiao.errors import InvalidInputError

    base, train_file = tiny
    first = TrainSettings(max_steps=3, checkpoint_every=1, threads=1)
    train_lora(base, train_file, tmp_path / "adapter", first)
    # The run stopped at max_steps, so its checkpoints remain; a new batch size cannot resume them.
    with pytest.raises(InvalidInputError, match="other training data or settings"):
        train_lora(base, train_file, tmp_path / "adapter", TrainSettings(batch_size=2, threads=1))
