"""A short chaos soak, as CI runs it: every fault kind at least once, and not one order, email or fulfillment
lost or duplicated.

The whole stack runs as separate processes (`personalize soak`, see
docs/soak.md); this test only checks its verdict. The run's report, with
the logs of every service, stays in the test's temporary folder.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from soak import SoakOptions, run_soak

pytestmark = pytest.mark.integration  # starts servers or service processes of its own

FAULT_KINDS = {"kill", "redis", "smtp", "broker", "rate_limit", "server_error", "webhooks"}


@pytest.mark.timeout(900)
def test_a_short_soak_under_every_fault_loses_and_duplicates_nothing(tmp_path):
    options = SoakOptions(minutes=2.0, seed=7, rate=0.4, state=tmp_path / "soak", drain_s=240.0)

    # In a thread of its own: asyncio.run would otherwise unset the event loop pytest-asyncio keeps for later tests.
    with ThreadPoolExecutor(1) as worker:
        code, report = worker.submit(run_soak, options).result()

    made = {row.fault.kind for row in report.faults if not row.error}
    assert made == FAULT_KINDS, f"faults not made: {FAULT_KINDS - made}"
    killed = {row.fault.target for row in report.faults if row.fault.kind == "kill" and not row.error}
    assert killed == {
        "connector-woocommerce",
        "connector-etsy",
        "connector-wix",
        "connector-squarespace",
        "connector-bigcommerce",
        "core-1",
        "core-2",
        "notifier-1",
        "notifier-2",
        "editor",
    }
    checked = {row.check: row.checked for row in report.rows}
    assert checked["orders present once in core"] >= 40
    assert checked["one email per issued link"] >= 20
    assert report.failures == [], report.render()
    assert code == 0
