"""Conversion of date field values to and from nanoseconds since the Unix epoch.

Vearch stores a date as int64 nanoseconds. It accepts a date string or an
integer number of seconds and reads a string without a zone as UTC. It
returns dates in Go's ``time.Time`` JSON form, which is RFC 3339 with
nanoseconds in the server's local zone, and ``Z`` when that zone is UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime

__all__ = ["MAX_DATE_SECONDS", "date_to_nanos", "format_date", "seconds_to_nanos"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NANOS = 1_000_000_000
# Seconds from the epoch to 9999-12-31, the last day Python's datetime accepts.
MAX_DATE_SECONDS = 253_402_300_799
MIN_DATE_SECONDS = -62_135_596_800


def seconds_to_nanos(seconds: int) -> int:
    """Return ``seconds`` since the epoch in nanoseconds, or raise ValueError when out of range."""
    if not MIN_DATE_SECONDS <= seconds <= MAX_DATE_SECONDS:
        raise ValueError(f"{seconds} seconds is outside the years 1 to 9999")
    return seconds * _NANOS


def date_to_nanos(value: str | datetime | date) -> int:
    """Parse a date string (ISO 8601 / RFC 3339 or RFC 1123) or a datetime into nanoseconds.

    A value without a zone is read as UTC. Raises ValueError when the string
    is not a date.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        moment = _parse_string(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _NANOS + delta.microseconds * 1_000


def _parse_string(text: str) -> datetime:
    stripped = text.strip()
    try:
        return datetime.fromisoformat(stripped)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(stripped)
    except (TypeError, ValueError, IndexError) as error:
        raise ValueError(
            f"{text!r} is not a date; use RFC 3339 such as '2024-05-01T08:00:00+08:00'"
        ) from error


def format_date(nanos: int) -> str:
    """Format nanoseconds since the epoch as RFC 3339 in the local zone, like Go's time.Time."""
    seconds, fraction = divmod(int(nanos), _NANOS)
    moment = (_EPOCH + timedelta(seconds=seconds)).astimezone()
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    offset = moment.utcoffset() or timedelta(0)
    if not offset:
        return text + "Z"
    sign = "+" if offset > timedelta(0) else "-"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"
