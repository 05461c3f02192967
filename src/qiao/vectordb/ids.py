"""Generation of document ids for documents upserted without ``_id``."""

from __future__ import annotations

import hashlib
import uuid

__all__ = ["new_document_id"]


def new_document_id() -> str:
    """Return a new id like Vearch's: a signed 64-bit integer from the MD5 of a UUID, in decimal.

    The integer is the first 8 bytes of the digest, big endian. Vearch does not
    document which bytes it uses, so only the form matches, not the values.
    """
    digest = hashlib.md5(uuid.uuid4().bytes, usedforsecurity=False).digest()
    return str(int.from_bytes(digest[:8], "big", signed=True))
