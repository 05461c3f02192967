"""Query parameters shared by several routes."""

from __future__ import annotations

from fastapi import Request

__all__ = ["flag"]


def flag(request: Request, name: str) -> bool:
    """Return True when ``?name=true`` (Vearch compares with the string "true")."""
    return request.query_params.get(name, "").lower() == "true"
