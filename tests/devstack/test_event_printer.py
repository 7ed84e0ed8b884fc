"""`dev`'s event printer: one line per event of every kind (it stops dev if it fails on one)."""

from __future__ import annotations

import pytest

from devstack.dev import _detail
from tests.fuzzing.events import samples

SAMPLES = samples()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_kind_of_event_is_described_without_failing(name):
    assert isinstance(_detail(SAMPLES[name]), str)


def test_the_details_name_what_moved():
    assert _detail(SAMPLES["OrderStatusChanged"]) == "∅ → pending_personalization (needs personalization)"
    assert _detail(SAMPLES["PersonalizationLinkIssued"]).startswith("link 1 to m@example.com, expires ")
    assert _detail(SAMPLES["PersonalizationRequested"]).startswith("link due ")
    assert _detail(SAMPLES["DeadLetter"]) == SAMPLES["DeadLetter"].error
    assert _detail(SAMPLES["PersonalizationLinkOpened"]) == ""  # no merchant, no expiry: nothing to add
