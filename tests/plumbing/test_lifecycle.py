"""The process-wide tuning every deployable shares (the signal deadline's tests start processes: tests/plumbing/ops)."""

from __future__ import annotations

import gc

from plumbing.lifecycle import calm_collector


def test_calm_collector_freezes_the_start_up_heap_and_raises_the_young_threshold():
    before = gc.get_threshold()
    try:
        calm_collector(20_000)
        assert gc.get_threshold() == (20_000, 20, 20)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
