"""One logging setup for every deployable."""

from __future__ import annotations

import logging


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # aiokafka reports every reconnect attempt at ERROR; our loops say what matters.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL if level.upper() != "DEBUG" else logging.DEBUG)
    # httpx logs every request URL at INFO; merchants' webhook URLs and platform URLs can carry secrets.
    logging.getLogger("httpx").setLevel(logging.WARNING)
