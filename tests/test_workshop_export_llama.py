"""Export real LoRA adapters and load them with llama.cpp.

A tiny random Qwen2 model (2 layers, hidden size 64) with the default
model's tokenizer is built once into ``QIAO_TEST_MODELS_DIR`` (default
``~/.cache/qiao-test-models``) and converted to an F32 GGUF with llama.cpp's
convert_hf_to_gguf.py. A LoRA adapter with random B matrices is exported and
its llama.cpp output is compared with the same adapter in peft.

The first run downloads the llama-cpp-python 0.3.36 source release (76 MB)
with pip for the converters. It also converts the default model's tokenizer,
which takes about a minute. Later runs reuse both.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qiao.config import GeneratorSettings
from qiao.errors import ModelError, StorageError
from qiao.llm import ChatMessage, LlamaCppGenerator, create_generator, ensure_default_model
from qiao.llm.cpu_features import cpu_has_amx, without_extra_buffers
from qiao.llm.gguf_metadata import read_gguf_data_end, read_gguf_metadata
from qiao.workshop.converter import ensure_converter, run_converter
from qiao.workshop.deploy import deploy_model
from qiao.workshop.export import export_adapter
from qiao.workshop.merge import quantize_gguf

REQUIRED = ("torch", "transformers", "peft", "gguf", "llama_cpp", "safetensors")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.llm,
    pytest.mark.skipif(
        any(importlib.util.find_spec(module) is None for module in REQUIRED),
        reason="needs the workshop and llm extras (pip install 'qiao[workshop,llm]')",
    ),
]

MODELS_DIR = Path(
    os.environ.get("QIAO_TEST_MODELS_DIR") or Path.home() / ".cache" / "qiao-test-models"
)
TOOLS_DIR = MODELS_DIR / "tools"
TINY_MODEL = MODELS_DIR / "tiny-qwen2-h64-l2"
PROMPT = "你好，请介绍一下桥。"
NEW_TOKENS = 8


GGML_QUANT_SIZES = (
    importlib.import_module("gguf").GGML_QUANT_SIZES if importlib.util.find_spec("gguf") else {}
)


@pytest.fixture(scope="module")
def converter() -> Path:
    return ensure_converter(TOOLS_DIR)


@pytest.fixture(scope="module")
def tiny_model(converter: Path) -> tuple[Path, Path]:
    """Return the tiny model's Hugging Face folder and its F32 GGUF, building them once."""
    hf_folder, gguf = TINY_MODEL / "hf", TINY_MODEL / "model-f32.gguf"
    if gguf.is_file():
        return hf_folder, gguf
    if importlib.util.find_spec("sentencepiece") is None:
        pytest.skip("convert_hf_to_gguf.py needs sentencepiece (pip install 'qiao[workshop]')")
    torch = importlib.import_module("torch")
    transformers = importlib.import_module("transformers")

    default_model = ensure_default_model(MODELS_DIR)
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        default_model.parent, gguf_file=default_model.name
    )
    torch.manual_seed(0)
    config = transformers.Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        # Large random weights give peaked logits, so greedy decoding has no near-ties.
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = transformers.Qwen2ForCausalLM(config)
    model.save_pretrained(hf_folder)
    tokenizer.save_pretrained(hf_folder)
    partial = gguf.with_suffix(".partial")
    arguments = [str(hf_folder), "--outtype", "f32", "--outfile", str(partial)]
    run_converter(converter / "convert_hf_to_gguf.py", arguments)
    partial.rename(gguf)
    return hf_folder, gguf


@pytest.fixture(scope="module")
def adapter_dir(tiny_model: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Save a LoRA adapter on every projection of the tiny model, with random B matrices."""
    torch = importlib.import_module("torch")
    peft = importlib.import_module("peft")
    model = _hf_model(tiny_model[0])
    config = peft.LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=[
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ],
    )
    tuned = peft.get_peft_model(model, config)
    # peft starts B at zero, which leaves the model unchanged.
    torch.manual_seed(1)
    for name, parameter in tuned.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.5)
    folder = tmp_path_factory.mktemp("adapter")
    tuned.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def exported(
    tiny_model: tuple[Path, Path], adapter_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("export")
    hf_folder, gguf = tiny_model
    return export_adapter(
        gguf, adapter_dir, out, hf_base=hf_folder, outtype="f32", tools_dir=TOOLS_DIR
    )


@pytest.fixture(scope="module")
def prompt_ids(tiny_model: tuple[Path, Path]) -> list[int]:
    with _llama(tiny_model[1]) as llama:
        return llama.tokenize(PROMPT.encode("utf-8"), add_bos=False)


def test_adapter_gguf_metadata(exported):
    metadata = read_gguf_metadata(
        Path(exported["adapter_gguf"]),
        ["general.architecture", "general.type", "adapter.type", "adapter.lora.alpha"],
    )
    assert metadata["general.architecture"] == "qwen2"
    assert metadata["general.type"] == "adapter"
    assert metadata["adapter.type"] == "lora"
    assert metadata["adapter.lora.alpha"] == 8.0
    manifest = json.loads((Path(exported["adapter_gguf"]).parent / "export.json").read_text())
    assert manifest["adapter_gguf"] == exported["adapter_gguf"]
    assert manifest["converter"] == "llama.cpp from llama-cpp-python 0.3.36"


def test_adapter_changes_llama_output(tiny_model, exported, prompt_ids):
    with _llama(tiny_model[1]) as base:
        base_tokens = _llama_greedy(base, prompt_ids)
    with _llama(tiny_model[1], exported["adapter_gguf"]) as tuned:
        tuned_tokens = _llama_greedy(tuned, prompt_ids)
    assert len(tuned_tokens) == NEW_TOKENS
    assert tuned_tokens != base_tokens


def test_adapter_matches_peft_greedy(tiny_model, adapter_dir, exported, prompt_ids):
    peft = importlib.import_module("peft")
    reference = peft.PeftModel.from_pretrained(_hf_model(tiny_model[0]), adapter_dir)
    with _llama(tiny_model[1], exported["adapter_gguf"]) as tuned:
        assert _llama_greedy(tuned, prompt_ids) == _hf_greedy(reference, prompt_ids)
    with _llama(tiny_model[1]) as base:
        assert _llama_greedy(base, prompt_ids) == _hf_greedy(_hf_model(tiny_model[0]), prompt_ids)


def test_adapter_logits_match_peft(tiny_model, adapter_dir, exported, prompt_ids):
    numpy = importlib.import_module("numpy")
    peft = importlib.import_module("peft")
    reference = peft.PeftModel.from_pretrained(_hf_model(tiny_model[0]), adapter_dir)
    expected = _hf_last_logits(reference, prompt_ids)
    base_logits = _hf_last_logits(_hf_model(tiny_model[0]), prompt_ids)
    with _llama(tiny_model[1], exported["adapter_gguf"]) as tuned:
        tuned.eval(prompt_ids)
        actual = numpy.array(tuned.scores[len(prompt_ids) - 1])
    # On this model llama.cpp (F32) differed from peft by about 0.006, while the adapter
    # moved the logits by about 11.
    assert numpy.abs(actual - expected).max() < 0.05
    assert numpy.abs(expected - base_logits).max() > 1.0


@pytest.fixture(scope="module")
def merged_export(
    tiny_model: tuple[Path, Path], adapter_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    if importlib.util.find_spec("sentencepiece") is None:
        pytest.skip("convert_hf_to_gguf.py needs sentencepiece (pip install 'qiao[workshop]')")
    hf_folder, gguf = tiny_model
    out = tmp_path_factory.mktemp("merged")
    return export_adapter(
        gguf, adapter_dir, out, merge=True, hf_base=hf_folder, tools_dir=TOOLS_DIR
    )


def test_merged_gguf_matches_peft(tiny_model, adapter_dir, merged_export, prompt_ids):
    peft = importlib.import_module("peft")
    merged_gguf = Path(merged_export["merged_gguf"])
    assert merged_gguf.name == "merged-f16.gguf"
    assert (merged_gguf.parent / "merged-hf" / "config.json").is_file()
    reference = peft.PeftModel.from_pretrained(_hf_model(tiny_model[0]), adapter_dir)
    with _llama(merged_gguf) as merged:
        merged_tokens = _llama_greedy(merged, prompt_ids)
    # F16 rounding may flip a late token; the first ones must agree.
    assert merged_tokens[:4] == _hf_greedy(reference, prompt_ids)[:4]


def test_merged_quantized_q4_k_m(merged_export, prompt_ids, tmp_path):
    merged_gguf = Path(merged_export["merged_gguf"])
    quantized = tmp_path / "merged-q4_k_m.gguf"
    quantize_gguf(merged_gguf, quantized, "q4_k_m")
    # llama_ftype 15 is LLAMA_FTYPE_MOSTLY_Q4_K_M.
    assert read_gguf_metadata(quantized, ["general.file_type"]) == {"general.file_type": 15}
    assert quantized.stat().st_size < merged_gguf.stat().st_size
    assert [path.name for path in tmp_path.iterdir()] == [quantized.name]
    with _llama(quantized) as merged:
        assert len(_llama_greedy(merged, prompt_ids)) == NEW_TOKENS


def test_deployed_model_generates(tiny_model, exported, tmp_path):
    home = tmp_path / "home"
    export_dir = Path(exported["adapter_gguf"]).parent
    entry = deploy_model("tiny-clinic", export_dir, home)
    assert entry["lora"] == exported["adapter_gguf"]
    settings = GeneratorSettings(kind="llama", model_path="tiny-clinic", context_size=256)
    question = [ChatMessage("user", PROMPT)]
    tuned = create_generator(settings, home / "models")
    base = LlamaCppGenerator(tiny_model[1], context_size=256)
    try:
        assert tuned.lora_path == Path(exported["adapter_gguf"])
        tuned_answer = tuned.generate(question, max_tokens=NEW_TOKENS)
        base_answer = base.generate(question, max_tokens=NEW_TOKENS)
    finally:
        tuned.close()
        base.close()
    assert tuned_answer.completion_tokens > 0
    assert tuned_answer.text != base_answer.text


def test_adapter_on_other_model_rejected(exported):
    # llama.cpp itself loads this pair and then crashes while decoding.
    default_model = ensure_default_model(MODELS_DIR)
    with pytest.raises(ModelError, match="belongs to another model size"):
        LlamaCppGenerator(default_model, lora_path=Path(exported["adapter_gguf"]))


def test_cli_export_json(tiny_model, adapter_dir, tmp_path):
    hf_folder, gguf = tiny_model
    home = tmp_path / "home"
    # The converters are already extracted; the command finds them in QIAO_HOME/tools.
    (home / "tools").mkdir(parents=True)
    (home / "tools" / "llama.cpp-0.3.36").symlink_to(TOOLS_DIR / "llama.cpp-0.3.36")
    command = [
        sys.executable, "-c", "from qiao.cli.app import main; main()",
        "workshop", "export", "--adapter", adapter_dir, "--base", gguf, "--hf-base", hf_folder,
        "--out", tmp_path / "out", "--home", home, "--json",
    ]  # fmt: skip
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["adapter_gguf"] == str(tmp_path / "out" / "adapter.gguf")
    assert report["outtype"] == "f16"


@pytest.mark.parametrize(
    ("size", "key", "kept"),
    [
        # The 35 KB adapter does not fit, and the converter leaves a cut-off file.
        ("16k", "ex_truncated", []),
        # The adapter fits in the 9 pages, and writing export.json then fails.
        ("36k", "ex_disk_full", ["adapter.gguf"]),
    ],
)
def test_export_disk_full(tiny_model, adapter_dir, tmp_path, size, key, kept):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(small)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        hf_folder, gguf = tiny_model
        with pytest.raises(StorageError, match="disk is full|no space left") as caught:
            export_adapter(
                gguf, adapter_dir, small, hf_base=hf_folder, outtype="f32", tools_dir=TOOLS_DIR
            )
        assert caught.value.key == key
        assert sorted(path.name for path in small.iterdir()) == kept
        for name in kept:
            size_expected = read_gguf_data_end(small / name, GGML_QUANT_SIZES)
            assert (small / name).stat().st_size == size_expected
    finally:
        subprocess.run(["umount", str(small)], check=False)


@contextlib.contextmanager
def _llama(model: Path, lora: str | None = None) -> Iterator[Any]:
    """Load a GGUF with llama-cpp-python, avoiding the AMX code that crashes on some CPUs."""
    llama_cpp = importlib.import_module("llama_cpp")
    guard: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if cpu_has_amx():
        guard = without_extra_buffers(importlib.import_module("llama_cpp.llama_cpp"))
    with guard:
        llama = llama_cpp.Llama(
            model_path=str(model),
            lora_path=lora,
            n_ctx=128,
            n_threads=2,
            logits_all=True,
            verbose=False,
        )
    try:
        yield llama
    finally:
        llama.close()


def _llama_greedy(llama: Any, prompt_ids: list[int]) -> list[int]:
    llama.reset()
    tokens = []
    for token in llama.generate(prompt_ids, temp=0.0, top_k=1):
        tokens.append(token)
        if len(tokens) == NEW_TOKENS:
            break
    return tokens


def _hf_model(folder: Path) -> Any:
    transformers = importlib.import_module("transformers")
    model = transformers.Qwen2ForCausalLM.from_pretrained(folder)
    model.eval()
    return model


def _hf_greedy(model: Any, prompt_ids: list[int]) -> list[int]:
    torch = importlib.import_module("torch")
    ids = list(prompt_ids)
    with torch.no_grad():
        for _ in range(NEW_TOKENS):
            logits = model(torch.tensor([ids])).logits[0, -1]
            ids.append(int(logits.argmax()))
    return ids[len(prompt_ids) :]


def _hf_last_logits(model: Any, prompt_ids: list[int]) -> Any:
    torch = importlib.import_module("torch")
    with torch.no_grad():
        return model(torch.tensor([prompt_ids])).logits[0, -1].numpy()
