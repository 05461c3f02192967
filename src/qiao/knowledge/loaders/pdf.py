"""PDF files: the text layer of each page, read with pypdf.

Each page with text becomes a section with heading path ``["p.N"]`` (N from
1), so a chunk never spans two pages and a citation can name its page.
Scanned PDFs have no text layer and are rejected with a hint to run OCR.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

from qiao.errors import IngestError
from qiao.knowledge.encoding import normalize_text
from qiao.knowledge.loaders.base import Document, Loader, LoadOptions
from qiao.knowledge.loaders.builder import DocumentBuilder

__all__ = ["PdfLoader"]

logger = logging.getLogger(__name__)


class PdfLoader(Loader):
    """Loader of a PDF as one document, titled by its metadata title, else the file stem."""

    extensions = (".pdf",)
    format_name = "pdf"

    def load(self, path: Path, options: LoadOptions) -> Iterator[Document]:
        try:
            reader = PdfReader(path)
            _decrypt(reader, path)
            pages = [page.extract_text() or "" for page in reader.pages]
            title = reader.metadata.title if reader.metadata else None
        except FileNotDecryptedError as error:
            raise _encrypted_error(path) from error
        except DependencyError as error:
            # Without `cryptography`, pypdf 7 raises this for AES-encrypted files
            # (pypdf/_crypt_providers/_fallback.py), at decrypt() or at the first page.
            raise IngestError(
                f"{path} is encrypted with AES, which pypdf reads only with the"
                " `cryptography` package; run `pip install cryptography` or save an"
                f" unencrypted copy ({error})"
            ) from error
        except (PyPdfError, ValueError, KeyError, OSError) as error:
            raise IngestError(
                f"{path} is not a valid PDF file ({error});"
                " check that it is complete or leave it out"
            ) from error

        if not any(normalize_text(page_text) for page_text in pages):
            raise IngestError(
                f"{path} has no text layer on any of its pages (pages: {len(pages)});"
                " it is probably scanned. Run OCR first, for example"
                " `ocrmypdf -l chi_sim in.pdf out.pdf`, and add the output file"
            )

        builder = DocumentBuilder()
        for number, page_text in enumerate(pages, start=1):
            builder.start_section([f"p.{number}"])
            builder.add_block(page_text)
        document = builder.build(
            doc_id=path.stem,
            source=str(path),
            title=(title or "").strip() or path.stem,
            metadata={"format": self.format_name, "pages": str(len(pages))},
        )
        logger.debug("%s: text on %d of %d pages", path, len(document.sections), len(pages))
        yield document


def _decrypt(reader: PdfReader, path: Path) -> None:
    """Open a PDF that is encrypted with an empty user password, or raise."""
    if reader.is_encrypted and not reader.decrypt(""):
        raise _encrypted_error(path)


def _encrypted_error(path: Path) -> IngestError:
    return IngestError(
        f"{path} is encrypted with a password; save an unencrypted copy (for example"
        " `qpdf --decrypt --password=PASSWORD in.pdf out.pdf`) and add that file"
    )
