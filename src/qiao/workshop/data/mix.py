"""``mix``: combine general and domain conversations in an exact ratio.

Mixing general instructions into domain fine-tuning data limits catastrophic
forgetting of general skills; the reference recipe is 70% general, 30% domain.
A mix of ``rows`` rows takes ``round(rows * general%)`` general rows and the
rest domain rows. Each source is sampled without replacement. A source with
fewer rows than needed is used whole as often as it fits, and the remainder
is sampled without replacement, so every row appears ``k`` or ``k + 1``
times. A warning gives the numbers. The mix is shuffled with the seed.
:func:`shuffle_for_epoch` gives a trainer a different, reproducible order for
each epoch.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from qiao.errors import InvalidInputError
from qiao.fileio import write_json_atomic
from qiao.workshop.data.jsonl import commit_file, read_conversations, write_jsonl_temporary

__all__ = ["mix_data", "mix_rows", "parse_ratio", "shuffle_for_epoch", "split_counts"]

logger = logging.getLogger(__name__)

Row = TypeVar("Row")
_NUMBER = r"\s*(-?\d+(?:\.\d+)?)\s*"
_RATIO = re.compile(rf"^{_NUMBER}:{_NUMBER}$")


def parse_ratio(text: str) -> tuple[float, float]:
    """Parse ``"GENERAL:DOMAIN"`` percentages that add up to 100, e.g. ``"70:30"``."""
    match = _RATIO.match(text.replace("：", ":"))
    if match is None:
        raise InvalidInputError(
            f"--ratio {text!r} is not two numbers separated by a colon;"
            " give general:domain percentages that add up to 100, e.g. 70:30",
            key="workshop_ratio_format",
            value=text,
        )
    general, domain = float(match.group(1)), float(match.group(2))
    if general < 0 or domain < 0:
        raise InvalidInputError(
            f"--ratio {text!r} has a negative share; both shares must be 0 to 100, e.g. 70:30",
            key="workshop_ratio_negative",
            value=text,
        )
    if not math.isclose(general + domain, 100.0, abs_tol=1e-9):
        raise InvalidInputError(
            f"--ratio {text!r} adds up to {general + domain:g}, not 100;"
            f" e.g. {general:g}:{100 - general:g} keeps the general share",
            key="workshop_ratio_sum",
            value=text,
            total=f"{general + domain:g}",
            fix=f"{general:g}:{100 - general:g}" if general <= 100 else "70:30",
        )
    return general, domain


def split_counts(rows: int, general_percent: float) -> tuple[int, int]:
    """Return the general and domain row counts of a mix of ``rows`` rows."""
    general = round(rows * general_percent / 100)
    return general, rows - general


def _sample(rows: list[Row], count: int, generator: np.random.Generator) -> list[Row]:
    """Sample ``count`` rows; whole copies first when ``count`` exceeds ``len(rows)``."""
    copies, remainder = divmod(count, len(rows))
    indices = list(range(len(rows))) * copies
    indices.extend(generator.choice(len(rows), size=remainder, replace=False).tolist())
    return [rows[index] for index in indices]


def mix_rows(
    general: list[Row], domain: list[Row], rows: int, general_percent: float, seed: int = 0
) -> tuple[list[Row], list[dict[str, Any]]]:
    """Return ``rows`` shuffled rows in the ratio, and warnings about repeated rows.

    A warning has ``source``, ``available``, ``needed``, ``low`` and ``high``
    (the least and most times a row is used) and an English ``message``.
    """
    if rows < 1:
        raise InvalidInputError(f"--rows {rows} must be at least 1")
    general_count, domain_count = split_counts(rows, general_percent)
    generator = np.random.default_rng(seed)
    warnings = []
    mixed: list[Row] = []
    shares = (("general", general, general_count), ("domain", domain, domain_count))
    for name, source, count in shares:
        if count and not source:
            raise InvalidInputError(f"the {name} data has no rows but {count} are needed")
        if count > len(source):
            low, high = count // len(source), math.ceil(count / len(source))
            message = (
                f"the {name} data has {len(source)} rows but {count} are needed,"
                f" so rows are sampled with replacement: each is used {low}-{high} times"
            )
            warnings.append(
                {
                    "source": name,
                    "available": len(source),
                    "needed": count,
                    "low": low,
                    "high": high,
                    "message": message,
                }
            )
        if count:
            mixed.extend(_sample(source, count, generator))
    order = generator.permutation(len(mixed))
    return [mixed[index] for index in order], warnings


def shuffle_for_epoch(rows: list[Row], epoch: int, seed: int = 0) -> list[Row]:
    """Return ``rows`` in a new order that depends only on ``seed`` and ``epoch``."""
    generator = np.random.default_rng([seed, epoch])
    return [rows[index] for index in generator.permutation(len(rows))]


def mix_data(
    general_path: Path,
    domain_path: Path,
    ratio: str,
    rows: int,
    out_path: Path,
    seed: int = 0,
) -> dict[str, Any]:
    """Mix two prepared JSONL files into ``out_path``; return the report.

    The report is also written beside the output as ``<name>.report.json``.
    """
    general_percent, domain_percent = parse_ratio(ratio)
    if rows < 1:
        raise InvalidInputError(f"--rows {rows} must be at least 1")
    if out_path.is_dir():
        raise InvalidInputError(f"--out {out_path} is a folder; give a file name such as mix.jsonl")
    general = _tagged(read_conversations(general_path), "general")
    domain = _tagged(read_conversations(domain_path), "domain")
    mixed, warnings = mix_rows(general, domain, rows, general_percent, seed)
    for warning in warnings:
        logger.warning("%s", warning["message"])

    realised_general = sum(1 for row in mixed if row["mix_source"] == "general")
    realised_domain = len(mixed) - realised_general
    report = {
        "rows": len(mixed),
        "ratio": {"general": general_percent, "domain": domain_percent},
        "realised_ratio": {
            "general": round(100 * realised_general / len(mixed), 4),
            "domain": round(100 * realised_domain / len(mixed), 4),
        },
        "sources": {
            "general": _source_report(general_path, general, realised_general, mixed, "general"),
            "domain": _source_report(domain_path, domain, realised_domain, mixed, "domain"),
        },
        "seed": seed,
        "output": str(out_path),
        "warnings": warnings,
    }
    temporary = write_jsonl_temporary(out_path, mixed)
    try:
        commit_file(temporary, out_path)
    finally:
        temporary.unlink(missing_ok=True)
    write_json_atomic(report_path(out_path), report)
    logger.info("mixed %d rows into %s", len(mixed), out_path)
    return report


def report_path(out_path: Path) -> Path:
    """Return the report file written beside a mix output."""
    return out_path.with_name(out_path.name + ".report.json")


def _tagged(rows: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    return [{**row, "mix_source": source} for row in rows]


def _source_report(path, rows, used, mixed, source) -> dict[str, Any]:
    unique = len({id(row) for row in mixed if row["mix_source"] == source})
    return {
        "file": str(path),
        "available": len(rows),
        "used": used,
        "unique": unique,
        "repeated": used > len(rows),
    }
