"""Options shared by every command, and the console they print to."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from qiao.config import Settings, load_settings
from qiao.i18n import detect_language, set_language, translate

__all__ = ["HomeOption", "JsonOption", "LangOption", "console", "error_console", "setup", "t"]

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home", help="Qiao data folder (default: $QIAO_HOME or ~/.qiao).", show_default=False
    ),
]
LangOption = Annotated[
    str | None,
    typer.Option(
        "--lang", help="Message language: zh or en (default: from the locale).", show_default=False
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]

t = translate


def setup(home: Path | None, lang: str | None, **overrides: Any) -> Settings:
    """Apply ``--lang`` and ``--home``, configure logging and return the settings.

    ``overrides`` are dotted setting names given by command options.
    """
    set_language(detect_language(lang))
    # Problems reach the user as translated messages; logs are for QIAO_LOG_LEVEL=INFO or DEBUG.
    level = os.environ.get("QIAO_LOG_LEVEL", "ERROR").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings(home, lang=lang, **overrides)
    if settings.lang and not lang:
        set_language(detect_language(settings.lang))
    return settings
