"""Decoding of text files in unknown encodings, and whitespace normalization.

Files from Chinese organizations are often GB18030/GBK instead of UTF-8, and
short GBK texts are easily misdetected (charset-normalizer 3.5 reports two-
or four-character GBK samples as Big5 or CP949). Decoding therefore tries, in
order: a byte-order mark, strict UTF-8, strict GB18030 when the result reads
as simplified Chinese, and last the best guess of charset-normalizer.
"""

from __future__ import annotations

import codecs
import logging
import re
from pathlib import Path

from charset_normalizer import from_bytes

from qiao.errors import IngestError

__all__ = ["decode_bytes", "decode_file", "normalize_text", "read_text"]

logger = logging.getLogger(__name__)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Share of non-ASCII characters that must belong to GB2312 (the common
# simplified characters) before a strict GB18030 decode is trusted. Big5 or
# Shift-JIS bytes read as GB18030 give mostly rare or traditional characters.
_MIN_GB2312_SHARE = 0.8
_GB2312_SAMPLE_CHARS = 20_000

# Zero-width characters and stray byte-order marks that carry no text.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_LINE_BREAKS = dict.fromkeys(map(ord, "\r\x0b\x0c\x85\u2028\u2029"), "\n")
# C0 and C1 control characters except tab and newline; vertical tab and form
# feed (a page break in extracted PDF text) become newlines first.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_EXTRA_BLANK_LINES = re.compile(r"\n{3,}")


def decode_bytes(data: bytes, name: str) -> str:
    """Decode ``data`` read from the file ``name`` without changing the text.

    Raises :class:`IngestError` when the data is binary (NUL bytes without a
    UTF-16/32 byte-order mark) or decodes in no known encoding.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _decode_strict(data, encoding, name)

    if b"\x00" in data:
        raise _not_text_error(name, "it contains NUL bytes")

    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass

    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _gb2312_share(text) >= _MIN_GB2312_SHARE:
        logger.debug("decoded %s as GB18030", name)
        return text

    guess = from_bytes(data).best()
    if guess is not None:
        logger.debug("decoded %s as %s (detected)", name, guess.encoding)
        return str(guess)
    if text is not None:
        return text
    raise _not_text_error(name, "its encoding could not be detected")


def decode_file(path: Path) -> str:
    """Read ``path`` and decode it with :func:`decode_bytes`, unnormalized."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise IngestError(f"failed to read {path}: {error}") from error
    return decode_bytes(data, str(path))


def read_text(path: Path) -> str:
    """Read a text file in any common encoding and return its normalized text.

    Raises :class:`IngestError` when the file is binary or empty.
    """
    text = normalize_text(decode_file(path))
    if not text:
        raise IngestError(
            f"{path} is empty: it contains no text after whitespace is removed;"
            " add content or leave the file out"
        )
    return text


def normalize_text(text: str, *, keep_indent: bool = False) -> str:
    """Normalize line endings, control characters and whitespace runs.

    Characters themselves are kept as written, so full-width Chinese
    punctuation stays full-width (no NFKC). Each run of horizontal whitespace,
    including the ideographic space U+3000, becomes one ASCII space. Lines
    lose trailing whitespace, and leading whitespace too unless
    ``keep_indent`` is set, because Markdown needs indentation for code
    blocks. More than one blank line in a row becomes one blank line.
    """
    text = text.replace("\r\n", "\n").translate(_LINE_BREAKS).translate(_INVISIBLE)
    text = _CONTROL.sub("", text)
    lines = []
    for line in text.split("\n"):
        content = line.lstrip()
        indent = line[: len(line) - len(content)] if keep_indent else ""
        lines.append(indent + _HORIZONTAL_SPACE.sub(" ", content).rstrip())
    text = _EXTRA_BLANK_LINES.sub("\n\n", "\n".join(lines))
    return text.strip("\n") if keep_indent else text.strip()


def _decode_strict(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        reason = f"it starts with a {encoding} byte-order mark but {error}"
        raise _not_text_error(name, reason) from error


def _gb2312_share(text: str) -> float:
    wide = [char for char in text[:_GB2312_SAMPLE_CHARS] if ord(char) > 0x7F]
    if not wide:
        return 1.0
    common = 0
    for char in wide:
        try:
            char.encode("gb2312")
        except UnicodeEncodeError:
            continue
        common += 1
    return common / len(wide)


def _not_text_error(name: str, reason: str) -> IngestError:
    return IngestError(
        f"{name} is not a text file ({reason}); convert it to UTF-8 text or leave it out"
    )
