"""Durations written the way people write them in settings: `15m`, `2s`, `7d`, `1h30m`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, TypeAdapter, ValidationError

_ISO = TypeAdapter(timedelta)

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """`15m` → 15 minutes; a bare number means seconds; ISO 8601 (`P3D`) too."""
    if isinstance(text, timedelta):
        return text
    # ValueError, never another error: pydantic turns only that into a validation error (an API's 422, not a 500).
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"{text!r} is not a duration (write it like 15m, 2s, 7d or 1h30m)")
    try:
        return _parse(text)
    except OverflowError:
        raise ValueError(f"{text!r} is longer than any duration can be") from None


def _parse(text: str | int | float) -> timedelta:
    if isinstance(text, (int, float)):
        return timedelta(seconds=text)
    if text.strip().upper().startswith(("P", "-P")):  # ISO 8601, as pydantic writes a timedelta back
        try:
            return _ISO.validate_python(text.strip())
        except ValidationError:
            raise ValueError(f"{text!r} is not an ISO 8601 duration") from None
    compact = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", compact):
        return timedelta(seconds=float(compact))
    parts = _PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration (write it like 15m, 2s, 7d or 1h30m)")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
