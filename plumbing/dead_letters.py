"""What a dead letter keeps of a message, cut so the dead letter itself fits in one Kafka record.

A record over the brokers' limit (`PERSONALIZE_KAFKA_MAX_MESSAGE_BYTES`, 1,000,000 by default) is refused
before it is sent (`plumbing.kafka.checked`). A consumer that cannot publish its dead letter could not move
on: the partition would be stuck on one message. Base64 adds a third, so a message over ~750 KB, or an error or
key that repeats a huge input, would do it. The dead letter keeps the first `raw_budget(limit)` bytes and says
so; a consumer's message stays whole in its source topic at the dead letter's partition and offset for the
topic's retention.
"""

from __future__ import annotations

import base64

from pydantic import ValidationError

ERROR_MAX_CHARS = 2000
KEY_MAX_CHARS = 512
# The envelope, the error and the key around the raw bytes: 2,000 + 512 characters, each at most 6 bytes of JSON
# (a control character's \u escape), and the ids, names and framing.
ENVELOPE_ROOM = 32 * 1024


def raw_budget(limit: int) -> int:
    """How many bytes of a message a dead letter keeps so that it fits a record of `limit` bytes."""
    return (limit - ENVELOPE_ROOM) // 4 * 3  # base64: 4 characters for every 3 bytes
    # At the default limit of 1,000,000: 725,424 bytes, 967,232 characters of base64.


def kept_raw(value: bytes, limit: int) -> tuple[str, str]:
    """Base64 of the message's bytes (as many as fit a record of `limit`), and a note for the error when cut."""
    budget = raw_budget(limit)
    if len(value) <= budget:
        return base64.b64encode(value).decode(), ""
    note = f" [raw truncated to the first {budget} of {len(value)} bytes]"
    return base64.b64encode(value[:budget]).decode(), note


def short(text: str, limit: int = ERROR_MAX_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def brief(error: BaseException) -> str:
    """The error for a dead letter's `error`: a validation error as its first ten problems, field by field."""
    text = str(error) if not isinstance(error, ValidationError) else _validation_summary(error)
    return text[:ERROR_MAX_CHARS]


def _validation_summary(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(message)'}: {e['msg']}" for e in error.errors()[:10])
