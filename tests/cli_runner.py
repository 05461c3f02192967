"""Run the ``qiao`` command in the test process and capture its exit status and output."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

from typer.testing import CliRunner

from qiao.cli.app import main
from qiao.i18n import detect_language, set_language


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def squeezed(self) -> str:
        """Return stdout and stderr without whitespace, which rich wraps at its width."""
        return "".join((self.stdout + self.stderr).split())

    def contains(self, text: str) -> bool:
        """Return whether stdout or stderr contains ``text``, ignoring rich's line wrapping."""
        return "".join(text.split()) in self.squeezed()

    def json(self) -> object:
        return json.loads(self.stdout)


def run_qiao(*args: object, stdin: str | None = None) -> CliResult:
    """Run ``qiao ARGS`` in this process and return its exit status and output."""
    argv = sys.argv
    # A new process starts without a chosen language; an earlier --lang must not carry over.
    set_language(detect_language())
    with CliRunner().isolation(input=stdin) as (stdout, stderr, _):
        sys.argv = ["qiao", *map(str, args)]
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
        finally:
            sys.argv = argv
            sys.stdout.flush()
            sys.stderr.flush()
        return CliResult(code, stdout.getvalue().decode(), stderr.getvalue().decode())
