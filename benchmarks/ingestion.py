"""Ingestion speed: documents per second and the share of time spent embedding.

Ingests a folder (default: the bundled ``examples/beijing-travel``) into a
new knowledge base in a temporary home and prints one table row. Results go
to ``benchmarks/results/ingestion.json``. Run it on an otherwise idle
machine: the embedder uses every core.

    python benchmarks/ingestion.py [FOLDER]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, hardware, print_table, write_result  # noqa: E402
from qiao.config import load_settings  # noqa: E402
from qiao.knowledge import KnowledgeBaseRegistry, ingest_paths  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "folder",
        nargs="?",
        type=Path,
        default=REPO / "examples" / "beijing-travel",
        help="folder of documents to ingest (default: the Beijing travel example)",
    )
    folder = parser.parse_args().folder
    with tempfile.TemporaryDirectory() as home:
        registry = KnowledgeBaseRegistry(load_settings(home))
        registry.create("bench")
        with registry.open("bench") as kb:
            report = ingest_paths(kb, [folder])
    row = {
        "folder": folder.name,
        "documents": report.documents,
        "chunks": report.chunks,
        "seconds": round(report.seconds, 2),
        "documents_per_s": round(report.documents / report.seconds, 2),
        "chunks_per_s": round(report.chunks / report.seconds, 2),
        "embed_share": round(report.embed_seconds / report.seconds, 3),
    }
    print(f"Ingestion; {hardware()}")
    print_table(list(row), [list(row.values())])
    print("wrote", write_result("ingestion", row))


if __name__ == "__main__":
    main()
