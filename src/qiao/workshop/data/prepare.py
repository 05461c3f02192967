"""``prepare``: turn instruction and Q&A files into clean train/eval conversation files.

Steps per row, in order: convert to messages (:mod:`.formats`), normalize the
text (:mod:`.normalize`), scrub personal data (:mod:`.pii`), drop rows too
short or too long (:mod:`.tokens`), drop exact and near duplicates
(:mod:`.dedup`). The kept rows are split into train and eval by a seeded
hash of their content, so the split does not depend on the input order.
Outputs are written to temporary files and renamed at the end, with
``report.json`` last, so an interrupted run leaves the previous outputs or
none, and a run can simply be repeated.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from qiao.errors import InvalidInputError
from qiao.fileio import write_json_atomic
from qiao.workshop.data.dedup import NearDuplicateIndex, content_key
from qiao.workshop.data.formats import (
    FORMATS,
    FieldOptions,
    RowError,
    check_conversation,
    detect_format,
    to_messages,
)
from qiao.workshop.data.jsonl import commit_file, write_jsonl_temporary
from qiao.workshop.data.normalize import normalize_message_text
from qiao.workshop.data.pii import PII_KINDS, PiiScrubber
from qiao.workshop.data.records import RawRecord, read_records
from qiao.workshop.data.tokens import load_token_counter

__all__ = ["PrepareOptions", "ProgressReporter", "prepare_data"]

logger = logging.getLogger(__name__)

# Invalid rows listed by file and line in the report; the rest are only counted.
MAX_INVALID_EXAMPLES = 20


class ProgressReporter(Protocol):
    def start(self, total: int) -> None: ...

    def advance(self, count: int) -> None: ...


@dataclass
class PrepareOptions:
    """Settings of one prepare run; the CLI options map one to one."""

    format: str = "auto"
    fields: FieldOptions = field(default_factory=FieldOptions)
    max_tokens: int = 2048
    min_chars: int = 4
    eval_fraction: float = 0.05
    seed: int = 0
    scrub_addresses: bool = False
    near_duplicate_threshold: float = 0.8
    tokenizer: Path | None = None

    def check(self) -> None:
        if self.format != "auto" and self.format not in FORMATS:
            raise InvalidInputError(
                f"unknown format {self.format!r}; use auto or one of {', '.join(FORMATS)}"
            )
        if self.max_tokens < 1:
            raise InvalidInputError(f"--max-tokens {self.max_tokens} must be at least 1")
        if self.min_chars < 0:
            raise InvalidInputError(f"--min-chars {self.min_chars} must be 0 or more")
        if not 0.0 <= self.eval_fraction < 1.0:
            raise InvalidInputError(
                f"--eval-fraction {self.eval_fraction} must be at least 0 and below 1, e.g. 0.05"
            )
        if not 0.0 < self.near_duplicate_threshold <= 1.0:
            raise InvalidInputError(
                f"--near-duplicate-threshold {self.near_duplicate_threshold} must be above 0"
                " and at most 1, e.g. 0.8"
            )


@dataclass
class _Row:
    messages: list[dict]
    source: str
    input_index: int
    key: str


def _empty_file_counts(path: Path, format_name: str) -> dict[str, Any]:
    return {
        "path": str(path),
        "format": format_name,
        "rows_in": 0,
        "invalid": 0,
        "dropped_short": 0,
        "dropped_long": 0,
        "duplicates_exact": 0,
        "duplicates_near": 0,
        "rows_out": 0,
        "train": 0,
        "eval": 0,
    }


def prepare_data(
    inputs: list[Path],
    out_dir: Path,
    options: PrepareOptions,
    progress: ProgressReporter | None = None,
) -> dict[str, Any]:
    """Prepare ``inputs`` into ``out_dir``/train.jsonl, eval.jsonl and report.json.

    Returns the report (see docs/workshop.md for its fields).
    """
    options.check()
    if not inputs:
        raise InvalidInputError("no input files given; name at least one JSONL, CSV or XLSX file")
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInputError(f"--out {out_dir} is a file; give a folder")
    counter = load_token_counter(options.tokenizer)
    scrubber = PiiScrubber(addresses=options.scrub_addresses)
    near_index = NearDuplicateIndex(options.near_duplicate_threshold)

    # Read every file first: a damaged file fails the run before any work, and
    # the row total sizes the progress bar.
    loaded = [_load_input(path, options) for path in inputs]
    per_file = [
        _empty_file_counts(path, format_name)
        for path, (format_name, _) in zip(inputs, loaded, strict=True)
    ]
    if progress is not None:
        progress.start(sum(len(records) for _, records in loaded))

    invalid_examples: list[dict[str, str]] = []
    seen_keys: set[str] = set()
    kept: list[_Row] = []
    for input_index, (format_name, records) in enumerate(loaded):
        counts = per_file[input_index]
        for record in records:
            counts["rows_in"] += 1
            outcome = _process(record, format_name, options, scrubber, counter)
            if isinstance(outcome, str):
                dropped = outcome.startswith("dropped")
                counts[outcome if dropped else "invalid"] += 1
                if not dropped and len(invalid_examples) < MAX_INVALID_EXAMPLES:
                    invalid_examples.append({"source": record.source, "reason": outcome})
            else:
                key = content_key(outcome)
                if key in seen_keys:
                    counts["duplicates_exact"] += 1
                elif near_index.add(_dedup_text(outcome)) is not None:
                    counts["duplicates_near"] += 1
                else:
                    seen_keys.add(key)
                    kept.append(_Row(outcome, record.source, input_index, key))
            if progress is not None:
                progress.advance(1)

    eval_keys = _eval_keys([row.key for row in kept], options.eval_fraction, options.seed)
    train_rows, eval_rows = [], []
    for row in kept:
        target = eval_rows if row.key in eval_keys else train_rows
        target.append({"id": row.key[:16], "messages": row.messages, "source": row.source})
        counts = per_file[row.input_index]
        counts["rows_out"] += 1
        counts["eval" if row.key in eval_keys else "train"] += 1

    report = _report(per_file, scrubber, counter.name, options, invalid_examples)
    _write_outputs(out_dir, train_rows, eval_rows, report)
    logger.info("prepared %d rows into %s", len(kept), out_dir)
    return report


def _load_input(path: Path, options: PrepareOptions) -> tuple[str, list[RawRecord]]:
    records = list(read_records(path))
    if not records:
        raise InvalidInputError(f"{path} is empty: it has no rows; add rows or leave it out")
    if options.format != "auto":
        return options.format, records
    first = records[0]
    format_name = detect_format(first.fields, options.fields)
    if format_name is None:
        keys = ", ".join(map(repr, first.fields)) or "none"
        raise InvalidInputError(
            f"{first.source}: no known format fits the fields {keys}; expected alpaca"
            " (instruction, input, output), sharegpt (conversations), messages (messages)"
            " or question/answer columns; pass --format, or --question-field and --answer-field"
        )
    return format_name, records


def _process(record, format_name, options, scrubber, counter) -> list[dict] | str:
    """Return the cleaned messages of ``record``, or why it was left out.

    The reason is "dropped_short", "dropped_long", or the message of an invalid row.
    """
    try:
        messages = to_messages(record.fields, format_name, options.fields)
        messages = [
            {"role": message["role"], "content": normalize_message_text(message["content"])}
            for message in messages
        ]
        check_conversation(messages)
    except RowError as error:
        return str(error)

    messages = [
        {"role": message["role"], "content": scrubber.scrub(message["content"])}
        for message in messages
    ]
    chars = sum(len("".join(message["content"].split())) for message in messages)
    if chars < options.min_chars:
        return "dropped_short"
    if counter.count(messages) > options.max_tokens:
        return "dropped_long"
    return messages


def _dedup_text(messages: list[dict]) -> str:
    return "\n".join(message["content"] for message in messages)


def _eval_keys(keys: list[str], fraction: float, seed: int) -> set[str]:
    """Pick ``round(len * fraction)`` keys (at least 1 when possible) by a seeded hash order."""
    if fraction <= 0 or len(keys) < 2:
        return set()
    count = min(max(1, round(len(keys) * fraction)), len(keys) - 1)
    ranked = sorted(keys, key=lambda key: hashlib.sha256(f"{seed}:{key}".encode()).digest())
    return set(ranked[:count])


def _report(per_file, scrubber, counter_name, options, invalid_examples) -> dict[str, Any]:
    totals: Counter[str] = Counter()
    for counts in per_file:
        totals.update({key: value for key, value in counts.items() if isinstance(value, int)})
    return {
        "rows_in": totals["rows_in"],
        "rows_out": totals["rows_out"],
        "train": totals["train"],
        "eval": totals["eval"],
        "invalid": totals["invalid"],
        "duplicates": {"exact": totals["duplicates_exact"], "near": totals["duplicates_near"]},
        "dropped": {"short": totals["dropped_short"], "long": totals["dropped_long"]},
        "scrubbed": {
            kind: scrubber.counts[kind]
            for kind in PII_KINDS
            if kind != "address" or options.scrub_addresses
        },
        "token_counter": counter_name,
        "settings": {
            "max_tokens": options.max_tokens,
            "min_chars": options.min_chars,
            "eval_fraction": options.eval_fraction,
            "seed": options.seed,
            "near_duplicate_threshold": options.near_duplicate_threshold,
            "scrub_addresses": options.scrub_addresses,
        },
        "inputs": per_file,
        "invalid_examples": invalid_examples,
    }


def _write_outputs(out_dir: Path, train_rows, eval_rows, report) -> None:
    """Write all three files to temporaries, then rename them with the report last."""
    out_dir.mkdir(parents=True, exist_ok=True)
    temporaries = [
        (write_jsonl_temporary(out_dir / "train.jsonl", train_rows), out_dir / "train.jsonl"),
        (write_jsonl_temporary(out_dir / "eval.jsonl", eval_rows), out_dir / "eval.jsonl"),
    ]
    report_path = out_dir / "report.json"
    try:
        # A report beside data files of another run would describe the wrong data.
        report_path.unlink(missing_ok=True)
        for temporary, path in temporaries:
            commit_file(temporary, path)
    finally:
        for temporary, _ in temporaries:
            temporary.unlink(missing_ok=True)
    write_json_atomic(report_path, report)
