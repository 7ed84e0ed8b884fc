"""One logging setup for every deployable: JSON lines for machines, plain lines for people.

`PERSONALIZE_LOG_FORMAT=json` writes one JSON object per line (`time`, `level`,
`logger`, `message`, and `order_key` / `event_id` when the line concerns an
event, `exc_info` with the traceback); `text` writes the classic one-liner with
the same two fields appended. Unset: JSON unless stderr is a terminal, so a
container or a log shipper gets JSON and a developer at a prompt reads text
(`personalize dev` sets `text` for its children, whose lines share its
terminal).

A line concerns an event when the code says so: `log.info(..., extra=event_fields(event))`,
or inside `with event_context(event):` (the consumer loop uses it around a
single message). Formatting is python-json-logger's: a stdlib Formatter, so
every `logging.getLogger` call in the code base, and in the libraries, comes out
as JSON with no change at the call site.

Secrets never reach the stream: the settings (`load_settings`) and the config
(`load_config`) name theirs with `redact_secrets` as they are read, and every
line the handler writes, its message, its traceback and its extra fields, has
each of them replaced by `***`, as written and as JSON, `repr` or a URL would
quote it. A secret shorter than `MIN_SECRET_CHARS` is left alone: replacing a
two-letter value everywhere would blank the logs and hide nothing.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Literal, Protocol, TextIO
from urllib.parse import quote

from ahocorasick_rs import AhoCorasick, MatchKind
from pythonjsonlogger.json import JsonFormatter

__all__ = ["EVENT_FIELDS", "event_context", "event_fields", "redact_secrets", "redacted", "setup_logging"]

MASK = "***"
MIN_SECRET_CHARS = 4
MAX_PENDING_SECRETS = 64  # values searched one by one before the automaton is built again

EVENT_FIELDS = ("order_key", "event_id")
_context: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(f"personalize_log_{name}", default=None) for name in EVENT_FIELDS
}


class _EventLike(Protocol):
    @property
    def order_key(self) -> str: ...

    @property
    def event_id(self) -> object: ...


def event_fields(event: _EventLike) -> dict[str, str]:
    """`extra=` for a log line about one event."""
    return {"order_key": event.order_key, "event_id": str(event.event_id)}


@contextmanager
def event_context(
    event: _EventLike | None = None, *, order_key: str | None = None, event_id: str | None = None
) -> Iterator[None]:
    """Every line logged inside (in this task) carries the event's `order_key` and `event_id`."""
    values = event_fields(event) if event is not None else {"order_key": order_key, "event_id": event_id}
    tokens = [(_context[name], _context[name].set(values[name])) for name in EVENT_FIELDS]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class _EventContext(logging.Filter):
    """Copies the context's order_key/event_id onto records that did not name their own through `extra=`."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in EVENT_FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, _context[name].get())
        return True


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = " ".join(f"{name}={getattr(record, name)}" for name in EVENT_FIELDS if getattr(record, name, None))
        if not tags:
            return line
        head, newline, trace = line.partition("\n")
        return f"{head} [{tags}]{newline}{trace}"


class _JsonFormatter(JsonFormatter):
    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        # First, and written like the events' `occurred_at` (UTC, RFC 3339, Z), so lines sort and join with them.
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
        super().add_fields(log_data, record, message_dict)

    def process_log_record(self, log_data: dict) -> dict:
        # Absent, not null: a line about no event should not claim one.
        for name in EVENT_FIELDS:
            if log_data.get(name) is None:
                log_data.pop(name, None)
        return log_data


class Secrets:
    """The secret values of this process, found in a line in one pass, overlapping ones masked as one.

    A connector with 1,000 stores holds thousands of values. A regex alternation of them, compiled again on
    each add, took 99 s of CPU to start such a connector (and `re`'s cache kept hundreds of the old patterns);
    an Aho-Corasick automaton (ahocorasick-rs) finds every value in a line in time linear in the line. Values
    added since the automaton was built are searched one by one until there are a quarter as many as it
    holds, so building costs a few times the last build in all, not one build per store."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        # (automaton, values added since it was built), swapped whole: a thread logging while another adds
        # reads the old pair or the new one, never half of each.
        self._search: tuple[AhoCorasick | None, tuple[str, ...]] = (None, ())
        self._built = 0
        self._lock = threading.Lock()  # a library may log from its own thread while a config is read

    def add(self, values: Iterable[str]) -> None:
        spellings = {form for value in values if len(value) >= MIN_SECRET_CHARS for form in _spellings(value)}
        with self._lock:
            new = spellings - self._values
            if not new:
                return
            self._values |= new
            automaton, pending = self._search
            pending = (*pending, *sorted(new))
            if len(pending) > max(MAX_PENDING_SECRETS, self._built // 4):
                automaton, pending = AhoCorasick(self._values, matchkind=MatchKind.Standard), ()
                self._built = len(self._values)
            self._search = (automaton, pending)

    def hide(self, text: str) -> str:
        automaton, pending = self._search
        spans: list[tuple[int, int]] = []
        if automaton is not None:
            spans = [(start, end) for _, start, end in automaton.find_matches_as_indexes(text, overlapping=True)]
        for value in pending:
            start = text.find(value)
            while start != -1:
                spans.append((start, start + len(value)))
                start = text.find(value, start + 1)
        return _masked(text, spans) if spans else text


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with each run of overlapping or touching spans replaced by one mask (no part of a secret left
    beside another's mask)."""
    spans.sort()
    parts, kept_to = [], 0
    run_start, run_end = spans[0]
    for start, end in spans[1:]:
        if start <= run_end:
            run_end = max(run_end, end)
            continue
        parts += [text[kept_to:run_start], MASK]
        kept_to, run_start, run_end = run_end, start, end
    parts += [text[kept_to:run_start], MASK, text[run_end:]]
    return "".join(parts)


def _spellings(value: str) -> set[str]:
    """The value as a line may carry it: as is, in a repr, in a URL; and each of those inside a JSON string."""
    plain = {value, repr(value)[1:-1], quote(value, safe="")}
    return plain | {json.dumps(form, ensure_ascii=False)[1:-1] for form in plain}


_SECRETS = Secrets()


def redact_secrets(values: Iterable[str | None]) -> None:
    """From now on, no line this process logs shows any of `values` (None and short values are skipped)."""
    _SECRETS.add(value for value in values if value)


def redacted(text: str) -> str:
    """`text` with every secret named so far replaced by `***`."""
    return _SECRETS.hide(text)


class _Redacting(logging.Formatter):
    """Another formatter's whole line, secrets masked: the message, the traceback and every extra field."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self._inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redacted(self._inner.format(record))


def json_formatter() -> logging.Formatter:
    return _JsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


def text_formatter() -> logging.Formatter:
    return _TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")


def resolve_format(wanted: str | None, stream: TextIO | None = None) -> Literal["json", "text"]:
    if wanted:
        choice = wanted.strip().lower()
        if choice == "json":
            return "json"
        if choice == "text":
            return "text"
        raise ValueError(f"PERSONALIZE_LOG_FORMAT: {wanted!r} is not one of json, text")
    stream = stream if stream is not None else sys.stderr
    return "text" if getattr(stream, "isatty", lambda: False)() else "json"


def setup_logging(level: str = "INFO", log_format: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_EventContext())
    formatter = json_formatter() if resolve_format(log_format) == "json" else text_formatter()
    handler.setFormatter(_Redacting(formatter))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiokafka reports every reconnect attempt at ERROR; our loops say what matters.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL if level.upper() != "DEBUG" else logging.DEBUG)
    # httpx logs every request URL at INFO; merchants' webhook URLs and platform URLs can carry secrets.
    logging.getLogger("httpx").setLevel(logging.WARNING)
