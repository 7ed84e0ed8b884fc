"""`dead-letters`: a message a consumer could not use, kept whole with the reason."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.envelope import Event


class DeadLetter(Event):
    """A consumer gave up on a message; `raw` holds its bytes so nothing is lost."""

    event_type: Literal["DeadLetter"] = "DeadLetter"
    source_topic: str
    partition: int
    offset: int
    consumer: str = Field(default="", description="The consumer group that gave up.")
    error: str
    raw: str = Field(description="Base64 of the message's bytes.")
