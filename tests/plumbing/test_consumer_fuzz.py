"""Every consumer's way in: `schemas.decode` per topic, and the consume loop's decode step, under hostile bytes.

Every consuming deployable (core, the notifier's two groups, the editor) reads
through `plumbing.consumer.BatchConsumer`, which decodes with
`schemas.decode(topic, bytes)`. Properties:

- `decode` returns an event of that topic or raises `ValueError`, whatever the
  bytes: arbitrary binary, JSON of any shape, nesting past the recursion limit,
  NaN and Infinity, numbers past 64 bits, odd Unicode, and every valid event
  with fields deleted, retyped or added;
- what decodes is a valid event: it encodes and decodes back to itself;
- in the loop, every record that does not decode becomes exactly one dead
  letter naming its topic, partition and offset with the reason and its bytes
  (cut to fit one record), and every record that does reaches the handler.
  `tests/system/test_poison_stream.py` runs the same against real processes.
"""

from __future__ import annotations

import base64
import json

import pytest
from aiokafka import ConsumerRecord
from hypothesis import given
from hypothesis import strategies as st

from plumbing.consumer import BatchConsumer, ConsumerOptions
from plumbing.dead_letters import raw_budget
from plumbing.kafka import DEFAULT_MAX_MESSAGE_BYTES, checked
from schemas import EVENTS_BY_TOPIC, DeadLetter, Event, decode, encode, topic_of
from tests.fuzzing.events import missing_samples, samples
from tests.fuzzing.strategies import CASES, budget, dumps, mutated, raw_bodies, text

TOPICS = list(EVENTS_BY_TOPIC)
SAMPLES = samples()
WIRE = {
    topic: [json.loads(encode(SAMPLES[t.__name__])) for t in types if t.__name__ in SAMPLES]
    for topic, types in EVENTS_BY_TOPIC.items()
}


def test_every_event_type_has_a_seed_for_the_mutations():
    assert not missing_samples(), f"add a sample of {sorted(missing_samples())} to tests/fuzzing/events.py"


def decoded_or_refused(topic: str, raw: bytes) -> Event | None:
    try:
        event = decode(topic, raw)
    except ValueError:  # pydantic's ValidationError is one
        return None
    assert topic_of(event) == topic
    assert decode(topic, encode(event)) == event
    return event


@pytest.mark.parametrize("topic", TOPICS)
@given(raw=raw_bodies)
@budget(40)
def test_arbitrary_bytes_decode_to_an_event_of_the_topic_or_raise_value_error(topic, raw):
    CASES[f"decode {topic}: arbitrary bytes"] += 1
    decoded_or_refused(topic, raw)


@pytest.mark.parametrize("topic", TOPICS)
@given(data=st.data())
@budget(60)
def test_schema_breaking_json_decodes_to_a_valid_event_or_raises_value_error(topic, data):
    CASES[f"decode {topic}: schema-breaking JSON"] += 1
    seed = data.draw(st.sampled_from(WIRE[topic]), "seed")
    decoded_or_refused(topic, dumps(data.draw(mutated(seed, max_mutations=4), "mutated")))


# --- the consume loop's decode step --------------------------------------------------------------------------


@st.composite
def records(draw: st.DrawFn) -> list[ConsumerRecord]:
    """A fetched batch: good events and poison interleaved over a few partitions of the topics."""
    batch, offsets = [], {}
    for _ in range(draw(st.integers(1, 12))):
        topic = draw(st.sampled_from(TOPICS))
        if draw(st.booleans()):
            value = encode(SAMPLES[draw(st.sampled_from(EVENTS_BY_TOPIC[topic])).__name__])
        else:
            value = draw(
                st.one_of(
                    raw_bodies,
                    mutated(draw(st.sampled_from(WIRE[topic]))).map(dumps),
                    st.none(),
                    st.just(b"x" * (raw_budget(DEFAULT_MAX_MESSAGE_BYTES) + 10)),
                )
            )
        key = draw(
            st.one_of(
                st.none(),
                st.binary(max_size=20),
                text.map(lambda t: t.encode("utf-8", "replace")),
                st.just(b"k" * 5000),
            )
        )
        partition = draw(st.integers(0, 3))
        offset = offsets[(topic, partition)] = offsets.get((topic, partition), draw(st.integers(0, 2**40))) + 1
        batch.append(
            ConsumerRecord(topic, partition, offset, 0, 0, key, value, None, len(key or b""), len(value or b""), [])
        )
    return batch


@pytest.fixture(scope="module")
async def loop() -> BatchConsumer:
    async def never(batch):
        raise AssertionError("not called")

    return BatchConsumer("127.0.0.1:9", None, never, ConsumerOptions(group_id="fuzz", topics=tuple(TOPICS)))


@given(batch=records())
@budget(150)
async def test_each_undecodable_record_becomes_one_dead_letter_and_each_decodable_one_reaches_the_handler(loop, batch):
    CASES["consume loop: decode step of mixed batches"] += 1
    received, dead = loop._decode(batch)
    assert len(received) + len(dead) == len(batch)
    for item in received:
        assert decode(item.record.topic, item.record.value) == item.event
    by_place = {(r.topic, r.partition, r.offset): r for r in batch}
    for letter in dead:
        record = by_place.pop((letter.source_topic, letter.partition, letter.offset))
        assert decoded_or_refused(record.topic, record.value or b"") is None
        assert letter.consumer == "fuzz" and letter.error.startswith(f"cannot decode {record.topic} message")
        kept = base64.b64decode(letter.raw)
        assert (record.value or b"").startswith(kept) and (kept == (record.value or b"") or "truncated" in letter.error)
        wire = encode(letter)
        checked(
            letter, DEFAULT_MAX_MESSAGE_BYTES, wire
        )  # it fits one record (else this raises): the partition moves on
        assert isinstance(decode("dead-letters", wire), DeadLetter)
    assert {(i.record.topic, i.record.partition, i.record.offset) for i in received} == set(by_place)
