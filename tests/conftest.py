"""Shared fixtures: an isolated Qiao home and the evaluation data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Return ``QIAO_DATA_DIR`` or the ``shared/data`` folder beside the repository."""
    value = os.environ.get("QIAO_DATA_DIR")
    return Path(value) if value else REPO.parent / "shared" / "data"


@pytest.fixture
def qiao_data() -> Path:
    path = data_dir()
    if not path.is_dir():
        pytest.skip(f"evaluation data not found at {path}; set QIAO_DATA_DIR")
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Qiao home; the environment cannot leak settings into it."""
    for variable in list(os.environ):
        if variable.startswith("QIAO_") and variable != "QIAO_DATA_DIR":
            monkeypatch.delenv(variable)
    path = tmp_path / "home"
    monkeypatch.setenv("QIAO_HOME", str(path))
    return path


@pytest.fixture
def example_dir() -> Path:
    return REPO / "examples" / "beijing-travel"
