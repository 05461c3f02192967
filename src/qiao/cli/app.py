"""The ``qiao`` command."""

from __future__ import annotations

import logging
import sys

import typer

from qiao import __version__
from qiao.cli import evaluate, kb, keys, vectordb, workshop, workshop_export
from qiao.cli.ask import ask, search
from qiao.cli.common import error_console, t
from qiao.cli.demo import demo
from qiao.cli.serve import serve
from qiao.errors import QiaoError
from qiao.i18n import MESSAGES

__all__ = ["app", "main"]

logger = logging.getLogger(__name__)

app = typer.Typer(
    name="qiao",
    help="Qiao (桥): cited answers from your own documents. / 基于自有文档、带引用的问答。",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(kb.app, name="kb")
app.add_typer(evaluate.app, name="eval")
app.add_typer(keys.app, name="keys")
app.add_typer(vectordb.app, name="vectordb")
app.add_typer(workshop.app, name="workshop")
app.add_typer(workshop_export.models_app, name="models")
app.command("ask")(ask)
app.command("search")(search)
app.command("demo")(demo)
app.command("serve")(serve)


@app.command("version")
def version() -> None:
    """Print the Qiao version."""
    print(__version__)


def main() -> None:
    """Run the CLI; a Qiao error prints one message in the user's language and exits 1."""
    try:
        # Standalone mode lets Typer print usage errors and turn typer.Exit into the exit status.
        app()
    except QiaoError as error:
        message = str(error)
        if error.key and error.key in MESSAGES:
            message = t(error.key, **error.params)
        logger.debug("command failed", exc_info=True)
        error_console.print(t("error", message=message), style="red", markup=False, highlight=False)
        sys.exit(1)
    except OSError as error:
        # A file system failure (read-only or full disk, a file where a folder should be).
        logger.debug("command failed", exc_info=True)
        error_console.print(t("os_error", message=str(error)), style="red", markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        error_console.print(t("interrupted"))
        sys.exit(130)


if __name__ == "__main__":
    # `python -m qiao.cli.app` runs the same CLI as the `qiao` script.
    main()
