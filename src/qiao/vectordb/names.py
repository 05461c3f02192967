"""Validation of database and space names."""

from __future__ import annotations

from qiao.vectordb.errors import ErrorCode, VectorDBError

__all__ = ["validate_name"]

# Characters Vearch's ValidateName rejects, plus the space character.
_FORBIDDEN = set(" +-!*/():^[]\"{}~%&'<>?\\")
_MAX_NAME_BYTES = 255


def validate_name(name: object, kind: str) -> str:
    """Return ``name`` if it is a valid database or space name, else raise PARAM_ERROR.

    Vearch's rules apply: not empty, no leading digit or ``_``, none of the
    characters ``+-!*/():^[]"{}~%&'<>?\\`` and no spaces. Because each name is
    also a directory name, a leading ``.``, control characters and names over
    255 UTF-8 bytes are rejected too.
    """
    if not isinstance(name, str) or not name:
        raise VectorDBError(
            ErrorCode.PARAM_ERROR, f"{kind} name must be a non-empty string, got {name!r}"
        )
    if name[0].isdigit() or name[0] in "_.":
        raise VectorDBError(
            ErrorCode.PARAM_ERROR,
            f"invalid {kind} name {name!r}: it must not start with a digit, '_' or '.'",
        )
    bad = sorted({char for char in name if char in _FORBIDDEN or ord(char) < 32})
    if bad:
        raise VectorDBError(
            ErrorCode.PARAM_ERROR,
            f"invalid {kind} name {name!r}: remove the characters {''.join(bad)!r}",
        )
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise VectorDBError(
            ErrorCode.PARAM_ERROR,
            f"invalid {kind} name {ascii(name)[:60]}: it has a lone surrogate; use valid Unicode",
        ) from None
    if size > _MAX_NAME_BYTES:
        raise VectorDBError(
            ErrorCode.PARAM_ERROR,
            f"invalid {kind} name {name[:40]!r}...: it is longer than {_MAX_NAME_BYTES} bytes",
        )
    return name
