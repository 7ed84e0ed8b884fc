"""Process lifecycle shared by the deployables: SIGTERM/SIGINT start a graceful stop with a hard deadline, and
the cyclic collector is tuned once start-up is done."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import threading

log = logging.getLogger("plumbing.lifecycle")

# Under the usual 10 s an orchestrator (and `personalize dev`) allows before SIGKILL, so the process
# leaves by itself, saying why, rather than being killed mid-sentence.
SHUTDOWN_DEADLINE_S = 9.0
EXIT_SHUTDOWN_TIMEOUT = 1


def stop_on_signals(deadline_s: float | None = SHUTDOWN_DEADLINE_S) -> asyncio.Event:
    """An event set by SIGTERM or SIGINT: services stop consuming, finish in-flight work, then exit.

    Stopping gracefully needs the broker and Redis (to publish and commit the batch in hand); when one
    is down, the stop could wait on it for a long time. After `deadline_s` the process exits at once
    with code 1: nothing uncommitted is lost, it is re-delivered to the group's next owner. `None`
    waits as long as it takes (`personalize dev`, which must outlive its children to stop the broker).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    # A plain handler rather than `loop.add_signal_handler`: Python runs it between bytecodes even while
    # the loop is blocked, so the deadline is armed whatever the loop is doing.
    signalled = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if signalled.is_set():
            return
        signalled.set()
        try:
            loop.call_soon_threadsafe(_begin, stop, signal.Signals(signum).name)
        except RuntimeError:  # the loop has already finished: the process is on its way out
            return
        if deadline_s is None:
            return
        watchdog = threading.Timer(deadline_s, _give_up, args=(deadline_s,))
        watchdog.daemon = True  # a process that stopped in time exits without waiting for it
        watchdog.start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    return stop


def _begin(stop: asyncio.Event, name: str) -> None:
    log.info("%s: stopping, finishing the work in hand", name)
    stop.set()


def _give_up(deadline_s: float) -> None:
    # A thread, not the event loop: the loop may be the thing that is stuck.
    log.error("still stopping after %.0f s; exiting now (uncommitted records will be re-delivered)", deadline_s)
    for stream in (sys.stderr, sys.stdout):
        stream.flush()
    os._exit(EXIT_SHUTDOWN_TIMEOUT)


def calm_collector(young_threshold: int) -> None:
    """Freeze what start-up built, and run the young generation's collection every `young_threshold` allocations.

    At the default 700 the collector walks every live young object every few hundred allocations, and the
    older generations the long-lived heap (modules, pydantic's schemas, the app) too. The services keep many
    short-lived objects alive at once and almost none of them in cycles, so each picks a threshold from its
    profile and says why where it calls this.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, 20, 20)
