"""Helpers shared by the benchmark scripts: data location, hardware line, result files."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from qiao.knowledge.evaluate import QARow, read_qa

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def data_dir() -> Path:
    """Return ``QIAO_DATA_DIR`` or the ``shared/data`` folder beside the repository."""
    value = os.environ.get("QIAO_DATA_DIR")
    path = Path(value) if value else REPO.parent / "shared" / "data"
    if not path.is_dir():
        raise SystemExit(f"evaluation data not found at {path}; set QIAO_DATA_DIR")
    return path


def dev_questions(root: Path, name: str) -> list[QARow]:
    """Return the dev questions of set ``name``; for kdconv_travel only the standalone ones.

    Context-dependent travel questions ("那它的门票呢？") need query rewriting
    from the conversation; the standalone ones name the attraction.
    """
    path = root / name / "qa_dev.jsonl"
    rows = read_qa(path)
    if name != "kdconv_travel":
        return rows
    records = [json.loads(line) for line in path.open(encoding="utf-8")]
    standalone = {record["id"] for record in records if record.get("standalone")}
    return [row for row in rows if row.id in standalone]


def hardware() -> str:
    """Return a one-line description of the CPU, core count and Python version."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Write ``result`` with the date and hardware to ``benchmarks/results/NAME.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"date": time.strftime("%Y-%m-%d %H:%M"), "hardware": hardware(), **result}
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    """Print a Markdown table."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
