"""Dates and times as people write them, one reading for the CLI and the API: ISO 8601 (``2026-05-01``,
``2026-05-01T14:00+02:00``) or relative (``2d``, ``12h``, ``1w``, ``yesterday``, ``3 days ago``); UTC unless the
value names a zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from monitor.core.errors import InvalidParameter

_ISO_LIKE = re.compile(r"\s*\d{4}-\d")


def parse_when(value: str | None, name: str = "date") -> datetime | None:
    """The time ``value`` names (None for none given); a value that is no date raises InvalidParameter."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        if _ISO_LIKE.match(value):  # a malformed ISO date ("2026-13-01") is an error, not a guess
            raise InvalidParameter(f"{name}: not a date: {value!r} (use YYYY-MM-DD or an ISO 8601 time)") from None
        import dateparser  # only here: it takes a noticeable moment to import

        parsed = dateparser.parse(value, settings={
            "TIMEZONE": "UTC", "RETURN_AS_TIMEZONE_AWARE": True, "PREFER_DATES_FROM": "past",
        })
        if parsed is None:
            raise InvalidParameter(
                f"{name}: not a date: {value!r} (use 2026-05-01, an ISO 8601 time, or a relative one: 2d, 12h, "
                "yesterday)"
            ) from None
        when = parsed
    return when if when.tzinfo else when.replace(tzinfo=UTC)
