"""Plain text files (.txt) in UTF-8, GB18030 or another detected encoding."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from qiao.knowledge.encoding import read_text
from qiao.knowledge.loaders.base import Document, Loader, LoadOptions, Section

__all__ = ["TextLoader"]

logger = logging.getLogger(__name__)


class TextLoader(Loader):
    """Loader of a text file as one document, one section, titled by the file stem."""

    extensions = (".txt",)
    format_name = "text"

    def load(self, path: Path, options: LoadOptions) -> Iterator[Document]:
        text = read_text(path)
        yield Document(
            doc_id=path.stem,
            source=str(path),
            title=path.stem,
            text=text,
            sections=[Section([], 0, len(text))],
            metadata={"format": self.format_name},
        )
