"""Redis replies as the strings the code means.

redis-py types every string reply `bytes | str` (which one depends on the client's `decode_responses`, which
its types do not follow) and a script's answer as `Any`. Our clients keep redis-py's default, bytes; code that
needs text says so with `text`, and a reply of another kind (a None, a number) fails there, by name.
"""

from __future__ import annotations

__all__ = ["text"]


def text(reply: object) -> str:
    """A string reply, from a client with or without `decode_responses`, or a script's string answer."""
    if isinstance(reply, bytes):
        return reply.decode()
    if isinstance(reply, str):
        return reply
    raise TypeError(f"a Redis reply of {type(reply).__name__} where a string was expected")
