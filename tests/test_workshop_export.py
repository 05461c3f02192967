"""Input checks of the adapter export, the model registry and ``qiao workshop deploy``.

These tests write GGUF headers and adapter folders by hand, so they need
neither torch nor llama.cpp; test_workshop_export_llama.py converts and loads
real adapters.
"""

from __future__ import annotations

import json
import struct
import threading
from pathlib import Path

import pytest
from cli_runner import run_qiao

from qiao.config import GeneratorSettings
from qiao.errors import (
    AlreadyExistsError,
    InvalidInputError,
    ModelError,
    NotFoundError,
    StorageError,
)
from qiao.llm.factory import _registered, create_generator, generator_status
from qiao.llm.gguf_metadata import read_gguf_metadata
from qiao.llm.lora_check import check_lora_fits
from qiao.llm.registry import RegisteredModel, load_registry, register_model
from qiao.workshop.converter import ensure_converter
from qiao.workshop.deploy import deploy_model
from qiao.workshop.export import export_adapter
from qiao.workshop.export_checks import check_gguf_complete

HIDDEN = 64
LAYERS = 2
INTERMEDIATE = 128


def write_gguf_header(
    path: Path, metadata: dict[str, object], tensors: dict[str, tuple[int, ...]] | None = None
) -> Path:
    """Write a GGUF v3 header with ``metadata`` (strings, numbers, string arrays).

    ``tensors`` maps names to shapes in ggml order; their entries are written as
    F32 tensors at offset 0, without data, which is enough for header checks.
    """
    tensors = tensors or {}
    parts = [b"GGUF", struct.pack("<IQQ", 3, len(tensors), len(metadata))]
    for key, value in metadata.items():
        parts.append(_gguf_string(key))
        if isinstance(value, str):
            parts += [struct.pack("<I", 8), _gguf_string(value)]
        elif isinstance(value, float):
            parts.append(struct.pack("<If", 6, value))
        elif isinstance(value, int):
            parts.append(struct.pack("<II", 4, value))
        else:
            items = list(value)
            parts.append(struct.pack("<IIQ", 9, 8, len(items)))
            parts += [_gguf_string(item) for item in items]
    for name, shape in tensors.items():
        parts += [_gguf_string(name), struct.pack(f"<I{len(shape)}QIQ", len(shape), *shape, 0, 0)]
    path.write_bytes(b"".join(parts))
    return path


def _gguf_string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def base_gguf(path: Path, architecture: str = "qwen2", hidden: int = HIDDEN) -> Path:
    return write_gguf_header(
        path,
        {
            "general.architecture": architecture,
            "general.type": "model",
            "tokenizer.ggml.tokens": ["a", "b", "c"],
            f"{architecture}.block_count": LAYERS,
            f"{architecture}.embedding_length": hidden,
        },
        {f"blk.{layer}.attn_q.weight": (hidden, hidden) for layer in range(LAYERS)},
    )


def lora_gguf(path: Path, hidden: int = HIDDEN, layers: int = LAYERS) -> Path:
    tensors = {}
    for layer in range(layers):
        tensors[f"blk.{layer}.attn_q.weight.lora_a"] = (hidden, 4)
        tensors[f"blk.{layer}.attn_q.weight.lora_b"] = (4, hidden)
    metadata = {"general.architecture": "qwen2", "general.type": "adapter", "adapter.type": "lora"}
    return write_gguf_header(path, metadata, tensors)


def hf_base(folder: Path, model_type: str = "qwen2") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": model_type,
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": 4,
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def adapter(folder: Path, base: Path | None, layers: int = LAYERS, **config: object) -> Path:
    """Write a peft-style LoRA adapter folder with zero weights for q_proj in each layer."""
    numpy = pytest.importorskip("numpy")
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    folder.mkdir(parents=True, exist_ok=True)
    settings = {
        "peft_type": "LORA",
        "r": 4,
        "lora_alpha": 8,
        "target_modules": ["q_proj"],
        "base_model_name_or_path": str(base) if base else "Qwen/Qwen2.5-0.5B",
        "auto_mapping": {"base_model_class": "Qwen2ForCausalLM"},
        **config,
    }
    (folder / "adapter_config.json").write_text(json.dumps(settings), encoding="utf-8")
    tensors = {}
    for layer in range(layers):
        prefix = f"base_model.model.model.layers.{layer}.self_attn.q_proj"
        tensors[f"{prefix}.lora_A.weight"] = numpy.zeros((4, HIDDEN), numpy.float32)
        tensors[f"{prefix}.lora_B.weight"] = numpy.zeros((HIDDEN, 4), numpy.float32)
    safetensors_numpy.save_file(tensors, str(folder / "adapter_model.safetensors"))
    return folder


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    base = hf_base(tmp_path / "base")
    return base_gguf(tmp_path / "base.gguf"), adapter(tmp_path / "adapter", base), base


def export(base: Path, adapter_dir: Path, out: Path, **options: object) -> dict:
    # An sdist path that does not exist makes any run that gets past the checks fail loudly.
    options.setdefault("llama_cpp_sdist", out.parent / "no-such-sdist.tar.gz")
    return export_adapter(base, adapter_dir, out, tools_dir=out.parent / "tools", **options)


def test_metadata_reads_scalars(tmp_path):
    path = base_gguf(tmp_path / "base.gguf")
    values = read_gguf_metadata(
        path, ["general.architecture", "qwen2.embedding_length", "tokenizer.ggml.tokens", "x"]
    )
    assert values == {
        "general.architecture": "qwen2",
        "qwen2.embedding_length": HIDDEN,
        "tokenizer.ggml.tokens": None,
    }


def test_metadata_rejects_other_file(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04 not a gguf file")
    with pytest.raises(ModelError, match="is not a GGUF file"):
        read_gguf_metadata(path, ["general.architecture"])


def test_metadata_rejects_truncated_header(tmp_path):
    path = base_gguf(tmp_path / "base.gguf")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ModelError, match="damaged or truncated"):
        read_gguf_metadata(path, ["qwen2.block_count"])


def write_gguf_with_tensor(path: Path) -> Path:
    """Write a GGUF v3 file with one F32 tensor of 4 values, its data aligned to 32 bytes."""
    header = b"".join(
        [
            b"GGUF",
            struct.pack("<IQQ", 3, 1, 1),
            _gguf_string("general.type"),
            struct.pack("<I", 8),
            _gguf_string("adapter"),
            _gguf_string("weight"),
            struct.pack("<IQIQ", 1, 4, 0, 0),
        ]
    )
    padding = b"\0" * (-len(header) % 32)
    path.write_bytes(header + padding + struct.pack("<4f", 1, 2, 3, 4))
    return path


def test_complete_gguf_passes(tmp_path):
    pytest.importorskip("gguf")
    path = write_gguf_with_tensor(tmp_path / "adapter.gguf")
    check_gguf_complete(path)


def test_cut_off_gguf_rejected(tmp_path):
    pytest.importorskip("gguf")
    path = write_gguf_with_tensor(tmp_path / "adapter.gguf")
    full_size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(StorageError, match=f"cut off at {full_size - 4} of {full_size} bytes"):
        check_gguf_complete(path)


def test_export_missing_base(tmp_path, inputs):
    _, adapter_dir, _ = inputs
    with pytest.raises(NotFoundError, match="missing.gguf not found"):
        export(tmp_path / "missing.gguf", adapter_dir, tmp_path / "out")


def test_export_unreadable_base(tmp_path, inputs):
    _, adapter_dir, _ = inputs
    text_file = tmp_path / "notes.gguf"
    text_file.write_text("not a model", encoding="utf-8")
    with pytest.raises(ModelError, match="notes.gguf is not a GGUF file"):
        export(text_file, adapter_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_adapter_gguf_as_base(tmp_path, inputs):
    _, adapter_dir, _ = inputs
    lora = write_gguf_header(
        tmp_path / "lora.gguf", {"general.architecture": "qwen2", "general.type": "adapter"}
    )
    with pytest.raises(InvalidInputError, match="is a LoRA adapter GGUF, not a model"):
        export(lora, adapter_dir, tmp_path / "out")


def test_export_missing_adapter_config(tmp_path, inputs):
    base, _, _ = inputs
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NotFoundError, match="adapter_config.json not found"):
        export(base, empty, tmp_path / "out")


def test_export_missing_adapter_weights(tmp_path, inputs):
    base, adapter_dir, _ = inputs
    (adapter_dir / "adapter_model.safetensors").unlink()
    with pytest.raises(NotFoundError, match="has no adapter_model.safetensors"):
        export(base, adapter_dir, tmp_path / "out")


def test_export_rejects_other_peft_type(tmp_path, inputs):
    base, _, hf = inputs
    prefix_tuning = adapter(tmp_path / "prefix", hf, peft_type="PREFIX_TUNING")
    with pytest.raises(InvalidInputError, match="'PREFIX_TUNING' adapter; only LoRA"):
        export(base, prefix_tuning, tmp_path / "out")


def test_export_unknown_hf_base(tmp_path, inputs):
    base, _, _ = inputs
    hub_named = adapter(tmp_path / "hub", None)
    with pytest.raises(NotFoundError, match="Qwen/Qwen2.5-0.5B.*--hf-base") as caught:
        export(base, hub_named, tmp_path / "out")
    assert caught.value.key == "ex_hf_base_unknown"


def test_export_architecture_mismatch(tmp_path, inputs):
    _, adapter_dir, _ = inputs
    llama = base_gguf(tmp_path / "llama.gguf", architecture="llama")
    with pytest.raises(InvalidInputError, match="is a 'qwen2' model but .*llama.gguf is 'llama'"):
        export(llama, adapter_dir, tmp_path / "out")


def test_export_size_mismatch(tmp_path, inputs):
    _, adapter_dir, _ = inputs
    wider = base_gguf(tmp_path / "wider.gguf", hidden=896)
    with pytest.raises(InvalidInputError, match="hidden_size is 64 .* but 896"):
        export(wider, adapter_dir, tmp_path / "out")


def test_export_adapter_of_other_class(tmp_path, inputs):
    base, _, hf = inputs
    llama_adapter = adapter(
        tmp_path / "llama", hf, auto_mapping={"base_model_class": "LlamaForCausalLM"}
    )
    with pytest.raises(InvalidInputError, match="trained on a LlamaForCausalLM model"):
        export(base, llama_adapter, tmp_path / "out")


def test_export_adapter_of_deeper_model(tmp_path, inputs):
    base, _, hf = inputs
    deeper = adapter(tmp_path / "deeper", hf, layers=LAYERS + 2)
    with pytest.raises(InvalidInputError, match="is for layer 2, but the base has 2 layers"):
        export(base, deeper, tmp_path / "out")


@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        ({"use_dora": True}, "DoRA"),
        ({"use_rslora": True}, "use_rslora"),
        ({"rank_pattern": {"q_proj": 8}}, "per-module ranks"),
        ({"modules_to_save": ["lm_head"]}, "lm_head"),
    ],
)
def test_export_unsupported_adapter_needs_merge(tmp_path, inputs, setting, reason):
    base, _, hf = inputs
    special = adapter(tmp_path / "special", hf, **setting)
    with pytest.raises(InvalidInputError, match=f"{reason}.*--merge"):
        export(base, special, tmp_path / "out")


def test_export_quantize_needs_merge(tmp_path, inputs):
    base, adapter_dir, _ = inputs
    with pytest.raises(InvalidInputError, match="merged model only; add --merge"):
        export(base, adapter_dir, tmp_path / "out", quantize="q4_k_m")


def test_export_invalid_option_values(tmp_path, inputs):
    base, adapter_dir, _ = inputs
    with pytest.raises(InvalidInputError, match="invalid quantisation type 'q3'"):
        export(base, adapter_dir, tmp_path / "out", merge=True, quantize="q3")
    with pytest.raises(InvalidInputError, match="invalid adapter tensor type 'int4'"):
        export(base, adapter_dir, tmp_path / "out", outtype="int4")


def test_export_missing_sdist(tmp_path, inputs):
    base, adapter_dir, _ = inputs
    with pytest.raises(NotFoundError, match="no-such-sdist.tar.gz not found; download it"):
        export(base, adapter_dir, tmp_path / "out")


def test_converter_rejects_wrong_sdist(tmp_path):
    fake = tmp_path / "llama_cpp_python-0.3.36.tar.gz"
    fake.write_bytes(b"not the release")
    with pytest.raises(ModelError, match="not the 832db069.* download the file again"):
        ensure_converter(tmp_path / "tools", fake)
    assert not (tmp_path / "tools" / "llama.cpp-0.3.36").exists()


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    """An export folder as qiao workshop export writes it, with header-only GGUF files."""
    folder = tmp_path / "export"
    folder.mkdir()
    base = base_gguf(tmp_path / "base.gguf")
    lora = lora_gguf(folder / "adapter.gguf")
    manifest = {"base_gguf": str(base), "adapter_gguf": str(lora), "merged_gguf": None}
    (folder / "export.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_deploy_registers_lora(tmp_path, export_dir):
    home = tmp_path / "home"
    entry = deploy_model("clinic", export_dir, home)
    assert entry["lora"] == str(export_dir / "adapter.gguf")
    assert entry["merged"] is None
    model = load_registry(home / "models")["clinic"]
    assert model.model_path == tmp_path / "base.gguf"
    assert model.lora_path == export_dir / "adapter.gguf"


def test_deploy_prefers_merged_model(tmp_path, export_dir):
    merged = base_gguf(export_dir / "merged-q4_k_m.gguf")
    manifest = json.loads((export_dir / "export.json").read_text(encoding="utf-8"))
    manifest["merged_gguf"] = str(merged)
    (export_dir / "export.json").write_text(json.dumps(manifest), encoding="utf-8")
    deploy_model("clinic", export_dir, tmp_path / "home")
    model = load_registry(tmp_path / "home" / "models")["clinic"]
    assert model.model_path == merged
    assert model.lora_path is None


def test_deploy_existing_name(tmp_path, export_dir):
    home = tmp_path / "home"
    deploy_model("clinic", export_dir, home)
    with pytest.raises(AlreadyExistsError, match="'clinic' is already registered"):
        deploy_model("clinic", export_dir, home)
    deploy_model("clinic", export_dir, home, replace=True)
    assert list(load_registry(home / "models")) == ["clinic"]


@pytest.mark.parametrize("name", ["", "../x", "a b", "model.gguf", "x" * 65, "-dash"])
def test_deploy_invalid_name(tmp_path, export_dir, name):
    with pytest.raises(InvalidInputError, match="invalid model name"):
        deploy_model(name, export_dir, tmp_path / "home")
    assert not (tmp_path / "home" / "models" / "registry.json").exists()


def test_deploy_missing_adapter_file(tmp_path, export_dir):
    (export_dir / "adapter.gguf").unlink()
    with pytest.raises(NotFoundError, match="adapter.gguf from .*export.json not found"):
        deploy_model("clinic", export_dir, tmp_path / "home")


def test_deploy_adapter_of_other_size(tmp_path, export_dir):
    lora_gguf(export_dir / "adapter.gguf", hidden=HIDDEN * 2)
    with pytest.raises(ModelError, match="attn_q.weight.lora_a of shape \\[128, 4\\]"):
        deploy_model("clinic", export_dir, tmp_path / "home")
    assert load_registry(tmp_path / "home" / "models") == {}


@pytest.mark.parametrize(
    ("make_lora", "message"),
    [
        (lambda path: lora_gguf(path, layers=LAYERS + 1), "modifies blk.2.attn_q.weight"),
        (lambda path: lora_gguf(path, hidden=32), "has size 64 there"),
        (lambda path: base_gguf(path), "is not a GGUF LoRA adapter"),
    ],
)
def test_lora_fits_rejects_mismatch(tmp_path, make_lora, message):
    base = base_gguf(tmp_path / "base.gguf")
    lora = make_lora(tmp_path / "lora.gguf")
    with pytest.raises(ModelError, match=message):
        check_lora_fits(base, lora)


def test_lora_fits_accepts_own_adapter(tmp_path):
    check_lora_fits(base_gguf(tmp_path / "base.gguf"), lora_gguf(tmp_path / "lora.gguf"))


def test_deploy_without_export(tmp_path):
    with pytest.raises(NotFoundError, match="export.json not found"):
        deploy_model("clinic", tmp_path, tmp_path / "home")


def test_registry_damaged_file(tmp_path, export_dir):
    models = tmp_path / "home" / "models"
    models.mkdir(parents=True)
    (models / "registry.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(StorageError, match="registry.json is not valid JSON"):
        deploy_model("clinic", export_dir, tmp_path / "home")
    assert (models / "registry.json").read_text(encoding="utf-8") == "{not json"


def test_registry_concurrent_deploys(tmp_path):
    models = tmp_path / "models"
    names = [f"model-{index}" for index in range(16)]

    def register(name: str) -> None:
        register_model(models, RegisteredModel(name, tmp_path / f"{name}.gguf"))

    threads = [threading.Thread(target=register, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(load_registry(models)) == sorted(names)


def test_factory_resolves_registered_name(tmp_path, export_dir):
    deploy_model("clinic", export_dir, tmp_path / "home")
    models = tmp_path / "home" / "models"
    registered = _registered("clinic", models)
    assert registered is not None
    assert registered.lora_path == export_dir / "adapter.gguf"
    assert _registered("unknown", models) is None
    # An existing file wins over a registered name.
    assert _registered(str(tmp_path / "base.gguf"), models) is None


def test_factory_unknown_model_name(tmp_path):
    settings = GeneratorSettings(kind="llama", model_path="nosuch")
    with pytest.raises(ModelError, match="'nosuch' is neither a GGUF file nor a model") as caught:
        create_generator(settings, tmp_path / "models")
    assert caught.value.key == "model_unknown"


def test_status_names_registered_model(tmp_path, export_dir):
    pytest.importorskip("llama_cpp")
    deploy_model("clinic", export_dir, tmp_path / "home")
    settings = GeneratorSettings(kind="llama", model_path="clinic")
    status = generator_status(settings, tmp_path / "home" / "models")
    assert "registered model clinic" in status
    assert "adapter.gguf" in status


qiao = run_qiao


def test_cli_deploy_and_list(tmp_path, export_dir):
    home = tmp_path / "home"
    result = qiao("workshop", "deploy", "clinic", "--export", export_dir, "--home", home)
    assert result.exit_code == 0, result.stderr
    assert "--modelclinic" in result.squeezed()
    listed = qiao("models", "list", "--home", home, "--json")
    assert listed.exit_code == 0, listed.stderr
    assert json.loads(listed.stdout)["clinic"]["lora"] == str(export_dir / "adapter.gguf")


def test_cli_deploy_errors_in_chinese(tmp_path, export_dir):
    home = tmp_path / "home"
    qiao("workshop", "deploy", "clinic", "--run", export_dir.parent, "--home", home)
    result = qiao("workshop", "deploy", "clinic", "--run", tmp_path, "--home", home, "--lang", "zh")
    assert result.exit_code == 1
    assert "已有名为'clinic'的模型" in result.squeezed()
    assert "Traceback" not in result.stderr


def test_cli_export_needs_adapter(tmp_path):
    result = qiao("workshop", "export", "--base", tmp_path / "x.gguf", "--home", tmp_path)
    assert result.exit_code == 1
    assert "--adapter,or--run" in result.squeezed()
