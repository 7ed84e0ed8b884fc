"""Prometheus metrics of the shared consumer loop, labelled by consumer group (one per service role).

Why not faststream's `KafkaPrometheusMiddleware`: it instruments faststream
subscribers and publishers, and at run time we run none (our loop is plain
aiokafka, see `plumbing/consumer.py`); these are the same measures, taken
where our records actually pass.
"""

from collections.abc import Callable, Iterable

from aiokafka import ConsumerRecord, TopicPartition
from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter("personalize_consumer_records_total", "Records handled and committed", ["group", "topic"])
BATCHES = Counter(
    "personalize_consumer_batches_total",
    "Batches by result: committed, infra_retry (rewound, broker or Redis down), "
    "abandoned (stopping; re-delivered to the next owner), commit_refused (a rebalance; re-delivered)",
    ["group", "result"],
)
DEAD_LETTERS = Counter(
    "personalize_consumer_dead_letters_total", "Records sent to dead-letters, by source topic", ["group", "topic"]
)
HANDLER_SECONDS = Histogram(
    "personalize_consumer_handler_seconds",
    "Time the handler took over one batch",
    ["group"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BATCH_RECORDS = Histogram(
    "personalize_consumer_batch_records",
    "Records per fetched batch",
    ["group"],
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000),
)
LAG = Gauge(
    "personalize_consumer_lag_records",
    "Records behind the partition's high watermark after the last committed batch from it",
    ["group", "topic", "partition"],
)
ASSIGNED = Gauge("personalize_consumer_assigned_partitions", "Partitions this process holds", ["group"])


def committed(
    group: str,
    records: Iterable[ConsumerRecord],
    dead_topics: Iterable[str],
    highwater: Callable[[TopicPartition], int | None],
) -> None:
    """Count a committed batch, and the lag it leaves on each partition it came from."""
    BATCHES.labels(group, "committed").inc()
    # Tallied first, then one labelled update per topic: a label lookup per record costs core a few % at 25k/s.
    last: dict[tuple[str, int], int] = {}
    per_topic: dict[str, int] = {}
    for record in records:
        last[record.topic, record.partition] = record.offset  # records come in offset order per partition
        per_topic[record.topic] = per_topic.get(record.topic, 0) + 1
    for topic, n in per_topic.items():
        RECORDS.labels(group, topic).inc(n)
    for topic in dead_topics:
        DEAD_LETTERS.labels(group, topic).inc()
    for (topic, partition), offset in last.items():
        # The high watermark comes with every fetch response, so lag costs no request.
        mark = highwater(TopicPartition(topic, partition))
        if mark is not None:
            LAG.labels(group, topic, str(partition)).set(max(0, mark - offset - 1))


def released(group: str, partitions: Iterable[TopicPartition]) -> None:
    """Forget the lag of partitions handed to another copy: it reports them now."""
    for tp in partitions:
        try:
            LAG.remove(group, tp.topic, str(tp.partition))
        except KeyError:
            pass
