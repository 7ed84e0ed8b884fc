"""The loopback ports dev listens on, checked free before anything starts."""

from __future__ import annotations

import socket

from devstack.embedded import LOOPBACK
from plumbing.settings import SettingsError


def check_ports_free(ports: list[int]) -> None:
    busy = taken(ports)
    if busy:
        raise SettingsError(f"ports {busy} on {LOOPBACK} are taken (another `personalize dev`?); free them first")


def taken(ports: list[int]) -> list[int]:
    """Those of `ports` something already listens on."""
    busy = []
    for port in ports:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((LOOPBACK, port))
            except OSError:
                busy.append(port)
    return busy
