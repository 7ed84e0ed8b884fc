"""Listing cursors: where a page ended, opaque to the client (base64url of `<score>:<order_key>`)."""

from __future__ import annotations

import base64
import binascii

from core.store import Position


class BadCursor(ValueError):
    pass


def encode(position: Position | None) -> str | None:
    if position is None:
        return None
    return base64.urlsafe_b64encode(f"{position.score}:{position.order_key}".encode()).decode().rstrip("=")


def decode(cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        score, order_key = raw.split(":", 1)
        position = Position(int(score), order_key)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("invalid cursor: pass back the `next_cursor` of the previous page unchanged") from None
    if not order_key or not 0 <= position.score < 2**53:  # scores are microseconds since 1970, exact as doubles
        raise BadCursor("invalid cursor: pass back the `next_cursor` of the previous page unchanged")
    return position
