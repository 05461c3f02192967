"""Shared fixtures: an isolated Qiao home, the evaluation data folder, a vector database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Any]:
    """An open vector database Engine in a temporary folder, with database "db"."""
    from qiao.vectordb import Engine

    with Engine(tmp_path / "db") as opened:
        opened.create_database("db")
        yield opened
