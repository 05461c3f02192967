"""Document loaders, on small real files of every supported format."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import docx
import openpyxl
import pytest
from pypdf import PdfWriter
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from qiao.errors import IngestError, NotFoundError
from qiao.knowledge.chunker import chunk_document
from qiao.knowledge.encoding import decode_bytes, normalize_text, read_text
from qiao.knowledge.loaders import (
    SUPPORTED_EXTENSIONS,
    Document,
    LoadOptions,
    iter_files,
    load_file,
)

CJK_FONT = "STSong-Light"


def body(document: Document, index: int) -> str:
    section = document.sections[index]
    return document.text[section.start : section.end]


def one(path: Path, options: LoadOptions | None = None) -> Document:
    documents = load_file(path, options)
    assert len(documents) == 1
    return documents[0]


# Builders of fixture files -------------------------------------------------


def write_pdf(path: Path, pages: list[list[str]], title: str | None = None) -> Path:
    pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    pdf = canvas.Canvas(str(path))
    if title:
        pdf.setTitle(title)
    for lines in pages:
        pdf.setFont(CJK_FONT, 12)
        for number, line in enumerate(lines):
            pdf.drawString(72, 720 - 20 * number, line)
        pdf.showPage()
    pdf.save()
    return path


def write_docx(path: Path) -> Path:
    word = docx.Document()
    word.core_properties.title = "员工手册"
    word.add_paragraph("本手册适用于全体员工。")
    word.add_heading("考勤", level=1)
    word.add_paragraph("上班时间为九点。迟到需说明原因。")
    word.add_heading("请假", level=2)
    word.add_paragraph("病假需提供证明。")
    table = word.add_table(rows=2, cols=2)
    for row, cells in enumerate([("假期", "天数"), ("年假", "5")]):
        for column, value in enumerate(cells):
            table.cell(row, column).text = value
    word.add_heading("报销", level=1)
    word.add_paragraph("发票须在三十天内提交。")
    word.save(path)
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


MARKDOWN = """<!-- doc_id: GUIDE-1 -->
导言文字。

# 故宫

故宫位于北京。

## 门票
<!-- doc_id: TICKET-9 -->

成人票六十元。

### 优惠

学生半价。

## 交通

乘地铁一号线。

```bash
# not a heading
```
"""

HTML = """<html><head><meta charset="gbk"><title>颐和园 指南</title>
<style>body { color: red }</style><script>var x = "脚本";</script></head>
<body><nav>首页 | 关于</nav>
<p>开头的话。</p>
<h1>颐和园</h1><p>颐和园是皇家园林，<b>风景</b>优美。</p>
<h2>票价</h2><table><tr><th>类型</th><th>价格</th></tr><tr><td>旺季</td><td>30元</td></tr></table>
<ul><li>第一条</li><li>第二条<br>换行</li></ul>
</body></html>
"""


def write_all_formats(folder: Path) -> list[Path]:
    """Write one small file of every supported format; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    long_text = "高血压患者要低盐饮食。" * 30 + "\n\n" + "Regular exercise helps. " * 20
    (folder / "note.txt").write_text(long_text, encoding="gb18030")
    (folder / "guide.md").write_text(MARKDOWN, encoding="utf-8")
    (folder / "page.html").write_bytes(HTML.encode("gbk"))
    write_pdf(folder / "manual.pdf", [["第一页。", long_text[:40]], ["第二页内容。"]])
    write_docx(folder / "handbook.docx")
    write_xlsx(
        folder / "faq.xlsx", {"FAQ": [["问题", "答案"], ["能退票吗？", "可以，需提前一天。"]]}
    )
    (folder / "faq.csv").write_text("question,answer\n几点开门？,早上八点。\n", encoding="utf-8")
    record = {"id": "J1", "title": "标题", "text": long_text}
    (folder / "records.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n")
    return sorted(folder.iterdir())


# Encoding and normalization ------------------------------------------------


def test_read_text_gb18030_file(tmp_path: Path) -> None:
    path = tmp_path / "gb.txt"
    text = "高血压患者日常饮食要注意什么？少盐，多吃蔬菜。𠀀"
    path.write_bytes(text.encode("gb18030"))
    assert read_text(path) == text


def test_decode_short_gbk() -> None:
    assert decode_bytes("中文测试".encode("gbk"), "short.txt") == "中文测试"
    assert decode_bytes("你好".encode("gbk"), "short.txt") == "你好"


def test_decode_big5_not_taken_for_gb18030() -> None:
    text = "這是繁體中文的測試文件，用於檢查編碼偵測是否正確。臺灣與香港常用此編碼。"
    assert decode_bytes(text.encode("big5"), "big5.txt") == text


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-8"])
def test_decode_unicode_encodings(encoding: str) -> None:
    assert decode_bytes("故宫，门票".encode(encoding), "f.txt") == "故宫，门票"


def test_normalize_keeps_fullwidth_punctuation() -> None:
    assert normalize_text("你好，世界！（测试）：“引号”") == "你好，世界！（测试）：“引号”"


def test_normalize_whitespace_and_controls() -> None:
    raw = "\ufeff  第一行\t\t有  空格 \r\n\r\n\r\n\r\n第二行\x07\u200b结束\u3000\u3000\r最后"
    assert normalize_text(raw) == "第一行 有 空格\n\n第二行结束\n最后"


def test_normalize_keep_indent() -> None:
    assert normalize_text("a\n    code  line\n", keep_indent=True) == "a\n    code line"


def test_txt_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(IngestError, match="empty"):
        load_file(path)


def test_txt_whitespace_only(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text(" \n\t\u3000\n\n", encoding="utf-8")
    with pytest.raises(IngestError, match="empty"):
        load_file(path)


def test_txt_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(IngestError, match="not a text file") as raised:
        load_file(path)
    assert str(path) in str(raised.value)


def test_txt_document_fields(tmp_path: Path) -> None:
    path = tmp_path / "说明.txt"
    path.write_text("第一段。\r\n\r\n第二段。\r\n", encoding="utf-8")
    document = one(path)
    assert document.doc_id == "说明"
    assert document.title == "说明"
    assert document.source == str(path)
    assert document.text == "第一段。\n\n第二段。"
    assert document.metadata["format"] == "text"
    assert body(document, 0) == document.text


# Markdown ------------------------------------------------------------------


def test_markdown_heading_paths(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    document = one(path)
    paths = [section.heading_path for section in document.sections]
    assert paths == [[], ["故宫"], ["故宫", "门票"], ["故宫", "门票", "优惠"], ["故宫", "交通"]]
    assert document.title == "故宫"
    assert body(document, 1) == "故宫位于北京。"
    assert body(document, 2) == "成人票六十元。"
    assert body(document, 4).startswith("乘地铁一号线。")
    assert "# not a heading" in body(document, 4)


def test_markdown_doc_id_markers(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    document = one(path)
    assert document.doc_id == "GUIDE-1"
    ids = [section.doc_id for section in document.sections]
    assert ids == [None, None, "TICKET-9", "TICKET-9", None]
    assert body(document, 0) == "导言文字。"
    assert all("doc_id" not in body(document, i) for i in range(len(document.sections)))


def test_markdown_default_id_is_stem(tmp_path: Path) -> None:
    path = tmp_path / "plain.md"
    path.write_text("## 小标题\n\n正文。\n", encoding="utf-8")
    document = one(path)
    assert document.doc_id == "plain"
    assert document.title == "plain"


def test_markdown_marker_late_in_section(tmp_path: Path) -> None:
    path = tmp_path / "late.md"
    path.write_text("# 标题\n\n前文。\n\n<!-- doc_id: LATE -->\n\n后文。\n", encoding="utf-8")
    document = one(path)
    assert [section.doc_id for section in document.sections] == ["LATE", "LATE"]
    assert [body(document, 0), body(document, 1)] == ["前文。", "后文。"]


def test_markdown_conflicting_markers(tmp_path: Path) -> None:
    path = tmp_path / "twice.md"
    path.write_text("# 标题\n<!-- doc_id: A -->\n正文\n<!-- doc_id: B -->\n", encoding="utf-8")
    with pytest.raises(IngestError, match="line 4"):
        load_file(path)


def test_markdown_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "front.md"
    text = "---\ntitle: 前置标题\ndoc_id: FM-1\nauthor: 张三\n---\n# 大标题\n\n正文。\n"
    path.write_text(text, encoding="utf-8")
    document = one(path)
    assert document.title == "前置标题"
    assert document.doc_id == "FM-1"
    assert document.metadata["author"] == "张三"
    assert [body(document, 0)] == ["正文。"]


def test_markdown_headings_only(tmp_path: Path) -> None:
    path = tmp_path / "bare.md"
    path.write_text("# 一\n## 二\n<!-- doc_id: X -->\n", encoding="utf-8")
    with pytest.raises(IngestError, match="empty"):
        load_file(path)


# HTML ----------------------------------------------------------------------


def test_html_text_and_sections(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(HTML.encode("gbk"))
    document = one(path)
    assert document.title == "颐和园 指南"
    for dropped in ("脚本", "color", "首页"):
        assert dropped not in document.text
    paths = [section.heading_path for section in document.sections]
    assert paths == [[], ["颐和园"], ["颐和园", "票价"]]
    assert body(document, 0) == "开头的话。"
    assert body(document, 1) == "颐和园是皇家园林，风景优美。"
    assert body(document, 2) == "类型 | 价格\n旺季 | 30元\n\n第一条\n\n第二条\n换行"


def test_html_title_falls_back_to_h1(tmp_path: Path) -> None:
    path = tmp_path / "no_title.htm"
    path.write_text("<h1>天坛</h1><p>祈年殿。</p>", encoding="utf-8")
    assert one(path).title == "天坛"


# PDF -----------------------------------------------------------------------


def test_pdf_pages_as_sections(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "manual.pdf", [["第一页正文。", "继续。"], ["第二页。"]], "手册")
    document = one(path)
    assert document.title == "手册"
    assert document.metadata["pages"] == "2"
    assert [section.heading_path for section in document.sections] == [["p.1"], ["p.2"]]
    assert body(document, 0) == "第一页正文。\n继续。"
    assert body(document, 1) == "第二页。"


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    path = tmp_path / "scan.pdf"
    writer.write(path)
    with pytest.raises(IngestError, match="no text layer") as raised:
        load_file(path)
    assert "OCR" in str(raised.value)


def test_pdf_encrypted(tmp_path: Path) -> None:
    source = write_pdf(tmp_path / "plain.pdf", [["机密。"]])
    writer = PdfWriter(clone_from=source)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    path = tmp_path / "locked.pdf"
    writer.write(path)
    with pytest.raises(IngestError, match="encrypted"):
        load_file(path)


def test_pdf_encrypted_empty_password(tmp_path: Path) -> None:
    source = write_pdf(tmp_path / "plain.pdf", [["公开内容。"]])
    writer = PdfWriter(clone_from=source)
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    path = tmp_path / "protected.pdf"
    writer.write(path)
    assert one(path).text == "公开内容。"


def test_pdf_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not a pdf")
    with pytest.raises(IngestError, match="broken.pdf"):
        load_file(path)


# DOCX ----------------------------------------------------------------------


def test_docx_headings_and_tables(tmp_path: Path) -> None:
    document = one(write_docx(tmp_path / "handbook.docx"))
    assert document.title == "员工手册"
    assert document.doc_id == "handbook"
    paths = [section.heading_path for section in document.sections]
    assert paths == [[], ["考勤"], ["考勤", "请假"], ["报销"]]
    assert body(document, 0) == "本手册适用于全体员工。"
    assert body(document, 2) == "病假需提供证明。\n\n假期 | 天数\n年假 | 5"
    assert body(document, 3) == "发票须在三十天内提交。"


def test_docx_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "fake.docx"
    path.write_text("plain text", encoding="utf-8")
    with pytest.raises(IngestError, match="DOCX"):
        load_file(path)


# FAQ tables ----------------------------------------------------------------


def test_xlsx_faq_rows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = [
        ["常见问题汇总"],
        ["编号", "问题", "答案", "分类"],
        ["F-1", "能带宠物吗？", "不能。", "规定"],
        ["F-2", "", "没有问题的答案", "规定"],
        [None, "几点闭馆？", "17:00", None],
        [],
        [7, "有停车场吗？", "有。", "交通"],
    ]
    path = write_xlsx(tmp_path / "faq.xlsx", {"Sheet1": rows})
    with caplog.at_level(logging.WARNING):
        documents = load_file(path)
    assert [d.doc_id for d in documents] == ["F-1", "faq#5", "7"]
    assert documents[0].text == "问题：能带宠物吗？\n回答：不能。"
    assert documents[0].title == "能带宠物吗？"
    assert documents[0].source == f"{path}#row=3"
    assert documents[0].metadata["分类"] == "规定"
    assert documents[1].source == f"{path}#row=5"
    assert "row 4 skipped" in caplog.text


def test_xlsx_explicit_columns(tmp_path: Path) -> None:
    rows = [["咨询内容", "客服回复"], ["怎么开发票？", "联系前台。"]]
    path = write_xlsx(tmp_path / "qa.xlsx", {"S": rows})
    options = LoadOptions(question_field="咨询内容", answer_field="客服回复")
    assert one(path, options).text == "问题：怎么开发票？\n回答：联系前台。"


def test_xlsx_unknown_columns(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "odd.xlsx", {"S": [["咨询内容", "客服回复"], ["a", "b"]]})
    with pytest.raises(IngestError, match="咨询内容") as raised:
        load_file(path)
    assert "--question-field" in str(raised.value)


def test_xlsx_several_sheets(tmp_path: Path) -> None:
    sheets = {
        "说明": [["本表由客服部维护"]],
        "门票": [["Question", "Answer"], ["学生票？", "半价。"]],
        "空表": [],
    }
    path = write_xlsx(tmp_path / "book.xlsx", sheets)
    document = one(path)
    assert document.doc_id == "book#门票#2"
    assert document.source == f"{path}#sheet=门票&row=2"
    assert document.metadata["sheet"] == "门票"


def test_csv_gb18030_faq(tmp_path: Path) -> None:
    path = tmp_path / "常见问题.csv"
    content = (
        'id,问题,答案\r\nQ1,"营业时间？","周一至周五，\r\n九点到五点。"\r\n,退货？,七天内。\r\n'
    )
    path.write_bytes(content.encode("gb18030"))
    documents = load_file(path)
    assert [d.doc_id for d in documents] == ["Q1", "常见问题#3"]
    assert documents[0].text == "问题：营业时间？\n回答：周一至周五，\n九点到五点。"
    assert documents[1].source == f"{path}#row=3"


def test_csv_tab_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_text("Q\tA\n能刷卡吗？\t可以, 也可以扫码。\n", encoding="utf-8")
    assert one(path).text == "问题：能刷卡吗？\n回答：可以, 也可以扫码。"


def test_csv_duplicate_ids(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("doc_id,question,answer\nX,a?,b\nX,c?,d\n", encoding="utf-8")
    with pytest.raises(IngestError, match="rows 2 and 3"):
        load_file(path)


def test_csv_no_usable_rows(tmp_path: Path) -> None:
    path = tmp_path / "holes.csv"
    path.write_text("question,answer\n只有问题,\n", encoding="utf-8")
    with pytest.raises(IngestError, match="no row with both"):
        load_file(path)


# JSONL ---------------------------------------------------------------------


def write_jsonl(path: Path, lines: list[object]) -> Path:
    text = "\n".join(
        line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in lines
    )
    path.write_text(text + "\n", encoding="utf-8")
    return path


def test_jsonl_default_fields(tmp_path: Path) -> None:
    lines: list[object] = [
        {"doc_id": "A", "title": "甲", "text": "内容甲。", "dept": "内科", "score": 3},
        "",
        {"id": 12, "text": "内容乙。"},
    ]
    documents = load_file(write_jsonl(tmp_path / "c.jsonl", lines))
    assert [d.doc_id for d in documents] == ["A", "12"]
    assert [d.title for d in documents] == ["甲", "12"]
    assert documents[0].metadata["dept"] == "内科"
    assert documents[0].metadata["score"] == "3"
    assert documents[1].source == f"{tmp_path / 'c.jsonl'}#line=3"


def test_jsonl_custom_fields(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"key": "K1", "body": "正文。", "name": "名"}])
    options = LoadOptions(id_field="key", text_field="body", title_field="name")
    document = one(path, options)
    assert (document.doc_id, document.text, document.title) == ("K1", "正文。", "名")


def test_jsonl_missing_id(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": "1", "text": "a"}, {"text": "b"}])
    with pytest.raises(IngestError, match="line 2") as raised:
        load_file(path)
    assert "--id-field" in str(raised.value)


def test_jsonl_missing_text(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": "1", "content": "a"}])
    with pytest.raises(IngestError, match="'text'") as raised:
        load_file(path)
    assert "--text-field" in str(raised.value)


def test_jsonl_invalid_json(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": "1", "text": "a"}, "{broken"])
    with pytest.raises(IngestError, match="line 2 is not valid JSON"):
        load_file(path)


# File discovery ------------------------------------------------------------


def test_iter_files_walks_folders(tmp_path: Path) -> None:
    for name in ("b.md", "a.txt", "sub/c.pdf", "sub/d.exe", ".hidden/e.md", ".f.txt", "~$g.docx"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")
    found = [path.relative_to(tmp_path).as_posix() for path in iter_files([tmp_path])]
    assert found == ["a.txt", "b.md", "sub/c.pdf"]


def test_iter_files_explicit_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "tool.exe"
    path.write_bytes(b"MZ")
    with pytest.raises(IngestError, match="unsupported file type"):
        list(iter_files([path]))


def test_iter_files_missing_path(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        list(iter_files([tmp_path / "missing"]))


def test_load_file_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "slides.pptx"
    path.write_bytes(b"PK")
    with pytest.raises(IngestError, match=r"\.docx"):
        load_file(path)


def test_every_format_loads(tmp_path: Path) -> None:
    paths = write_all_formats(tmp_path / "docs")
    assert {path.suffix for path in paths} >= set(SUPPORTED_EXTENSIONS) - {".htm", ".markdown"}
    for path in paths:
        documents = load_file(path)
        assert documents, path
        for document in documents:
            assert document.text.strip(), path
            assert document.sections, path


def test_every_format_chunk_offsets(tmp_path: Path) -> None:
    for path in write_all_formats(tmp_path / "docs"):
        for document in load_file(path):
            chunks = chunk_document(document, size=60, overlap=15)
            assert chunks, path
            for chunk in chunks:
                assert document.text[chunk.start : chunk.end] == chunk.text, (path, chunk)
                assert chunk.text.strip() == chunk.text, (path, chunk)
                assert len(chunk.text) <= 60, (path, chunk)
