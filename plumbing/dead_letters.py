"""What a dead letter keeps of a message, cut so the dead letter itself fits in one Kafka record.

A record over the producer's `max_request_size` (1 MiB, also a broker's default
`message.max.bytes`) is refused before it is sent. A consumer that cannot
publish its dead letter retries the batch forever: the partition is stuck on
one message. Base64 adds a third, so a message over ~750 KiB, or an error or
key that repeats a huge input, would do it. The dead letter keeps the first
`RAW_MAX_BYTES` and says so; a consumer's message stays whole in its source
topic at the dead letter's partition and offset for the topic's retention.
"""

from __future__ import annotations

import base64

from pydantic import ValidationError

RAW_MAX_BYTES = 700 * 1024  # base64 → 934 KiB, leaving room for the envelope, the error and the key
ERROR_MAX_CHARS = 2000
KEY_MAX_CHARS = 512


def kept_raw(value: bytes) -> tuple[str, str]:
    """Base64 of the message's bytes (the first `RAW_MAX_BYTES`), and a note for the error when it was cut."""
    if len(value) <= RAW_MAX_BYTES:
        return base64.b64encode(value).decode(), ""
    note = f" [raw truncated to the first {RAW_MAX_BYTES} of {len(value)} bytes]"
    return base64.b64encode(value[:RAW_MAX_BYTES]).decode(), note


def short(text: str, limit: int = ERROR_MAX_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def brief(error: BaseException) -> str:
    """The error for a dead letter's `error`: a validation error as its first ten problems, field by field."""
    text = str(error) if not isinstance(error, ValidationError) else _validation_summary(error)
    return text[:ERROR_MAX_CHARS]


def _validation_summary(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(message)'}: {e['msg']}" for e in error.errors()[:10])
