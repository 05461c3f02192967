"""Chunking of documents: sections, paragraphs, sentences, overlap and offsets."""

from __future__ import annotations

import pytest

from qiao.errors import InvalidInputError
from qiao.knowledge.chunker import Chunk, chunk_context, chunk_document
from qiao.knowledge.loaders import Document, Section
from qiao.knowledge.loaders.markdown import parse_markdown


def make_document(*bodies: str, doc_id: str = "doc", title: str = "标题") -> Document:
    """Build a document whose sections are ``bodies``, each under its own heading."""
    text = ""
    sections = []
    for number, content in enumerate(bodies):
        heading = f"第{number}节"
        text += heading + "\n"
        sections.append(Section([title, heading], len(text), len(text) + len(content)))
        text += content + "\n\n"
    return Document(doc_id, "file.txt", title, text, sections, {})


def assert_offsets(document: Document, chunks: list[Chunk], size: int) -> None:
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert chunk.text
        assert len(chunk.text) <= size
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))


def test_short_section_one_chunk() -> None:
    document = make_document("高血压患者要低盐饮食。")
    [chunk] = chunk_document(document)
    assert chunk.text == "高血压患者要低盐饮食。"
    assert chunk.heading == "标题 > 第0节"
    assert chunk.doc_id == "doc"
    assert chunk.source == "file.txt"
    assert chunk.title == "标题"
    assert_offsets(document, [chunk], 400)


def test_chunks_stay_in_sections() -> None:
    document = make_document("甲。" * 30, "乙。" * 30)
    chunks = chunk_document(document, size=50, overlap=10)
    assert_offsets(document, chunks, 50)
    for chunk in chunks:
        owners = [s for s in document.sections if s.start <= chunk.start and chunk.end <= s.end]
        assert len(owners) == 1
        assert set(chunk.text) <= {"甲", "。"} or set(chunk.text) <= {"乙", "。"}


def test_paragraphs_packed_whole() -> None:
    paragraphs = [f"段落{n}" + "字" * 90 + "。" for n in range(4)]
    document = make_document("\n\n".join(paragraphs))
    chunks = chunk_document(document, size=200, overlap=0)
    assert [chunk.text for chunk in chunks] == [
        paragraphs[0] + "\n\n" + paragraphs[1],
        paragraphs[2] + "\n\n" + paragraphs[3],
    ]


def test_long_paragraph_splits_at_sentences() -> None:
    sentences = [f"第{n}句" + "话" * 20 + end for n, end in enumerate("。！？；…" * 4)]
    document = make_document("".join(sentences))
    chunks = chunk_document(document, size=80, overlap=0)
    assert len(chunks) > 1
    assert_offsets(document, chunks, 80)
    for chunk in chunks:
        assert chunk.text[-1] in "。！？；…"
    assert "".join(chunk.text for chunk in chunks) == "".join(sentences)


def test_closing_quote_stays_with_sentence() -> None:
    text = "他说：“今天很好。”" + "然后" * 30 + "。"
    document = make_document(text)
    chunks = chunk_document(document, size=40, overlap=0)
    assert chunks[0].text == "他说：“今天很好。”"


def test_english_sentences_and_newlines() -> None:
    text = "First sentence is here. Second one follows! Version 3.5 stays whole\nNext line"
    document = make_document(text)
    chunks = chunk_document(document, size=30, overlap=0)
    assert [chunk.text for chunk in chunks] == [
        "First sentence is here.",
        "Second one follows!",
        "Version 3.5 stays whole",
        "Next line",
    ]


def test_hard_cut_only_long_sentence() -> None:
    long_sentence = "很长" * 60 + "。"
    text = "短句一。" + long_sentence + "短句二。"
    document = make_document(text)
    chunks = chunk_document(document, size=50, overlap=0)
    assert_offsets(document, chunks, 50)
    assert chunks[0].text == "短句一。"
    assert chunks[-1].text.endswith("短句二。")
    assert "".join(chunk.text for chunk in chunks) == text


def test_hard_cut_prefers_comma() -> None:
    text = "甲" * 30 + "，" + "乙" * 30 + "。"
    document = make_document(text)
    chunks = chunk_document(document, size=40, overlap=0)
    assert chunks[0].text == "甲" * 30 + "，"
    assert chunks[1].text == "乙" * 30 + "。"


def test_overlap_carries_trailing_sentences() -> None:
    sentences = [f"句子{n:02d}" + "内容" * 8 + "。" for n in range(12)]
    document = make_document("".join(sentences))
    chunks = chunk_document(document, size=100, overlap=30)
    assert len(chunks) > 2
    assert_offsets(document, chunks, 100)
    for previous, current in zip(chunks, chunks[1:], strict=False):
        shared = previous.end - current.start
        assert 0 < shared <= 30
        assert current.text.startswith(previous.text[-shared:])
        assert current.text[:shared] in sentences


def test_overlap_zero_shares_nothing() -> None:
    sentences = [f"句子{n:02d}" + "内容" * 8 + "。" for n in range(12)]
    document = make_document("".join(sentences))
    chunks = chunk_document(document, size=100, overlap=0)
    for previous, current in zip(chunks, chunks[1:], strict=False):
        assert current.start >= previous.end


def test_overlap_skips_sentence_longer_than_overlap() -> None:
    document = make_document("短。" + "长" * 45 + "。" + "后" * 45 + "。")
    chunks = chunk_document(document, size=50, overlap=10)
    assert [chunk.text for chunk in chunks] == ["短。" + "长" * 45 + "。", "后" * 45 + "。"]


def test_whitespace_section_skipped() -> None:
    text = "正文。\n\n   \n"
    sections = [Section([], 0, 3), Section(["空"], 5, len(text))]
    document = Document("d", "f.txt", "t", text, sections, {})
    assert [chunk.text for chunk in chunk_document(document)] == ["正文。"]


def test_section_doc_id_used() -> None:
    markdown = (
        "# 科室\n\n## 问一\n<!-- doc_id: MED-1 -->\n答一。\n\n"
        "## 问二\n<!-- doc_id: MED-2 -->\n答二。\n"
    )
    document = parse_markdown(markdown, source="faq.md", default_id="faq")
    chunks = chunk_document(document)
    assert [(chunk.doc_id, chunk.text) for chunk in chunks] == [
        ("MED-1", "答一。"),
        ("MED-2", "答二。"),
    ]
    assert chunks[0].heading == "科室 > 问一"


def test_invalid_sizes() -> None:
    document = make_document("内容。")
    with pytest.raises(InvalidInputError):
        chunk_document(document, size=0)
    with pytest.raises(InvalidInputError):
        chunk_document(document, size=100, overlap=100)
    with pytest.raises(InvalidInputError):
        chunk_document(document, size=100, overlap=-1)


def test_context_title_and_heading() -> None:
    chunk = Chunk("d", "s", "员工手册", "考勤 > 请假", "病假需证明。", 0, 6, 0)
    assert chunk_context(chunk) == "员工手册 > 考勤 > 请假\n病假需证明。"


def test_context_heading_repeats_title() -> None:
    chunk = Chunk("d", "s", "故宫", "故宫 > 门票", "六十元。", 0, 4, 0)
    assert chunk_context(chunk) == "故宫 > 门票\n六十元。"
    chunk = Chunk("d", "s", "故宫", "故宫", "六十元。", 0, 4, 0)
    assert chunk_context(chunk) == "故宫\n六十元。"


def test_context_empty_parts() -> None:
    assert chunk_context(Chunk("d", "s", "", "", "正文。", 0, 3, 0)) == "正文。"
    assert chunk_context(Chunk("d", "s", "", "门票", "正文。", 0, 3, 0)) == "门票\n正文。"
    assert chunk_context(Chunk("d", "s", "标题", "", "正文。", 0, 3, 0)) == "标题\n正文。"


def test_mixed_text_offsets() -> None:
    paragraphs = [
        "第一段：" + "内容，" * 50 + "结束。",
        "Short paragraph. Another sentence here? Yes!",
        "无标点超长" * 40,
        "“引用。”（括号！）……省略" * 10,
    ]
    document = make_document("\n\n".join(paragraphs), "\n".join(paragraphs))
    for size, overlap in ((30, 0), (50, 20), (120, 60), (400, 60)):
        chunks = chunk_document(document, size=size, overlap=overlap)
        assert_offsets(document, chunks, size)
