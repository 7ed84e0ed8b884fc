"""`dev`'s event printer: one line per event of every kind (it stops dev if it fails on one)."""

from __future__ import annotations

import pytest

from devstack.printer import describe
from tests.fuzzing.events import samples

SAMPLES = samples()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_kind_of_event_is_described_without_failing(name):
    assert isinstance(describe(SAMPLES[name]), str)


def test_the_details_name_what_moved():
    assert describe(SAMPLES["OrderStatusChanged"]) == "∅ → pending_personalization (needs personalization)"
    assert describe(SAMPLES["PersonalizationLinkIssued"]).startswith("link 1 to m@example.com, expires ")
    assert describe(SAMPLES["PersonalizationRequested"]).startswith("link due ")
    assert describe(SAMPLES["DeadLetter"]) == SAMPLES["DeadLetter"].error
    assert describe(SAMPLES["PersonalizationLinkOpened"]) == ""  # no merchant, no expiry: nothing to add
