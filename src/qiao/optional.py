"""Lazy import of optional dependencies with an install hint."""

from __future__ import annotations

import importlib
from types import ModuleType

from qiao.errors import MissingDependencyError


def require(module: str, extra: str, package: str | None = None) -> ModuleType:
    """Import ``module`` or raise an error that names the pip extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        name = package or module
        raise MissingDependencyError(
            f"{name} is not installed; install it with: pip install 'qiao[{extra}]' ({error})"
        ) from error
