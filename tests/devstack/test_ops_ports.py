"""`dev` gives every service an ops port of its own, the connectors one each, and a sandbox none."""

from __future__ import annotations

from devstack.dev import _ops_port
from plumbing.ops import API_OPS_PORT, CONNECTOR_OPS_PORT, CORE_OPS_PORT, EDITOR_OPS_PORT, NOTIFIER_OPS_PORT


def test_each_service_asks_for_its_own_default_and_each_connector_the_next():
    given: dict[str, int] = {}
    for name in ("core", "notifier", "editor", "api", "sandbox etsy", "connector etsy", "connector wix"):
        if (port := _ops_port(name, given)) is not None:
            given[name] = port
    assert given == {
        "core": CORE_OPS_PORT,
        "notifier": NOTIFIER_OPS_PORT,
        "editor": EDITOR_OPS_PORT,
        "api": API_OPS_PORT,
        "connector etsy": CONNECTOR_OPS_PORT,
        "connector wix": CONNECTOR_OPS_PORT + 1,
    }
    assert len(set(given.values())) == len(given)
