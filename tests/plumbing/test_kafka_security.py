"""Kafka over TLS, end to end, and the security settings every client shares.

Managed Kafka services take only TLS (and SASL over it). The embedded broker
speaks plain TCP, so the test puts a TLS terminator in front of it, with a
certificate from a throwaway CA, and has the broker advertise the
terminator's port: every client connection after the first also goes through
TLS. The admin client, the producer and the consume loop all connect through
it; a client that does not trust the CA is refused. SASL is passed to aiokafka
as configured; the embedded broker has no SASL, so it is checked as settings.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from aiokafka.errors import KafkaConnectionError

from devstack.embedded import LOOPBACK, free_port, start_broker
from plumbing.consumer import BatchConsumer, Outcome, Received, consumer_options
from plumbing.kafka import ensure_topics, make_producer, publish, security_options
from plumbing.settings import Settings, SettingsError, load_settings
from schemas import ORDERS_COMMANDS, ApproveOrder

pytestmark = pytest.mark.integration  # starts servers or service processes of its own


class TlsTerminator:
    """Accepts TLS on `port` and relays the plain bytes to the broker; counts the connections it served."""

    def __init__(self, certificate: trustme.LeafCert, upstream_port: int) -> None:
        self.port = free_port()
        self.connections = 0
        self._upstream_port = upstream_port
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(self._context)
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, LOOPBACK, self.port, ssl=self._context)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        broker_reader, broker_writer = await asyncio.open_connection(LOOPBACK, self._upstream_port)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, ssl.SSLError):
                pass
            finally:
                writer.close()

        await asyncio.gather(pipe(client_reader, broker_writer), pipe(broker_reader, client_writer))


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
async def tls_broker(ca, tmp_path_factory) -> AsyncIterator[tuple[TlsTerminator, Path]]:
    state = tmp_path_factory.mktemp("kafka-tls")
    terminator_port = free_port()
    broker = start_broker(state, advertised_port=terminator_port)
    terminator = TlsTerminator(ca.issue_cert(LOOPBACK, "localhost"), broker.port)
    terminator.port = terminator_port
    await terminator.start()
    ca_file = state / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    yield terminator, ca_file
    await terminator.stop()
    broker.stop()


def tls_settings(terminator: TlsTerminator, ca_file: Path) -> Settings:
    return Settings(
        kafka_bootstrap=f"{LOOPBACK}:{terminator.port}",
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=ca_file,
        topic_partitions=1,
    )


async def test_admin_producer_and_consume_loop_work_over_tls(tls_broker):
    terminator, ca_file = tls_broker
    settings = tls_settings(terminator, ca_file)
    await ensure_topics(settings, [ORDERS_COMMANDS])
    producer = make_producer(settings)
    await producer.start()
    got: list[Received] = []

    async def handle(batch: list[Received]) -> Outcome:
        got.extend(batch)
        return Outcome()

    command = ApproveOrder(order_key="woocommerce:shop-tls:1")
    loop = BatchConsumer(
        settings.required_bootstrap(), producer, handle, consumer_options(settings, "tls-test", [ORDERS_COMMANDS])
    )
    task = asyncio.create_task(loop.run())
    try:
        await publish(producer, [command])
        for _ in range(300):
            if got:
                break
            await asyncio.sleep(0.1)
        assert [item.event for item in got] == [command]
    finally:
        loop.stop()
        await asyncio.wait_for(task, 20)
        await producer.stop()
    assert terminator.connections >= 3  # admin, producer, consumer: each came through TLS


async def test_a_client_that_does_not_trust_the_brokers_certificate_is_refused(tls_broker, tmp_path):
    terminator, _ = tls_broker
    stranger = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    producer = make_producer(tls_settings(terminator, stranger))
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(producer.start(), 30)
    await producer.stop()


def test_sasl_settings_reach_every_client_and_the_password_is_never_shown(monkeypatch):
    monkeypatch.setenv("PERSONALIZE_KAFKA_BOOTSTRAP", "kafka.example.com:9092")
    monkeypatch.setenv("PERSONALIZE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("PERSONALIZE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("PERSONALIZE_KAFKA_SASL_USERNAME", "connector")
    monkeypatch.setenv("PERSONALIZE_KAFKA_SASL_PASSWORD", "s3cret-value")
    settings = load_settings(Settings)

    options = security_options(settings)
    assert options["security_protocol"] == "SASL_SSL" and isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].check_hostname and options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert (options["sasl_mechanism"], options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "SCRAM-SHA-512",
        "connector",
        "s3cret-value",
    )
    consumed_with = consumer_options(settings, "g", ["t"]).security
    assert {k: v for k, v in consumed_with.items() if k != "ssl_context"} == {
        k: v for k, v in options.items() if k != "ssl_context"
    } and "ssl_context" in consumed_with
    assert "s3cret-value" not in repr(settings) and "s3cret-value" not in str(settings.model_dump())


def test_plaintext_is_the_default_and_adds_nothing_else():
    assert security_options(Settings(kafka_bootstrap="b:9092")) == {"security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PERSONALIZE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "PERSONALIZE_KAFKA_SASL_USERNAME"),
        ({"PERSONALIZE_KAFKA_SASL_USERNAME": "u", "PERSONALIZE_KAFKA_SASL_PASSWORD": "p"}, "set it to SASL_SSL"),
        ({"PERSONALIZE_KAFKA_SSL_CAFILE": "/ca.pem"}, "set it to SSL or SASL_SSL"),
        ({"PERSONALIZE_KAFKA_SECURITY_PROTOCOL": "SSL", "PERSONALIZE_KAFKA_SSL_CERTFILE": "/c.pem"}, "go together"),
        ({"PERSONALIZE_KAFKA_SECURITY_PROTOCOL": "TLS"}, "PERSONALIZE_KAFKA_SECURITY_PROTOCOL"),
    ],
)
def test_half_configured_security_is_refused_at_start_naming_what_to_set(monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message) as refused:
        load_settings(Settings)
    assert "Value error" not in str(refused.value)
