"""Stored photos: one folder only the editor's user may enter, files only it may read, deleted after a retention.

- Files are named `<random>.<ext>` (the client's name is never used), written `0600` as `<name>.part` and renamed
  once whole, in a folder kept `0700`: readers of `PersonalizationCompleted` (fulfillment) run as the same user.
- **Retention** counts from when a photo was stored (its file's modification time): the editor does not learn
  when fulfillment fetched or printed a file, so it cannot start the clock there. After `retention`
  (`PERSONALIZE_ASSET_RETENTION`, 90 days by default: a link lives 7 days, approval and printing take weeks) the
  sweep deletes it; fulfillment copies out what it must keep longer. A `.part` left by a crash goes after an hour.
- Every copy sweeps the shared folder; deleting what another copy deleted first is nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from editor_service.images import CheckedImage
from editor_service.metrics import ASSETS_SWEPT
from schemas import Asset

log = logging.getLogger(__name__)

FOLDER_MODE, FILE_MODE = 0o700, 0o600
PART_MAX_AGE_S = 3600
SWEEP_EVERY_S = 3600.0


def path_of(uri: str) -> Path:
    """The file a `file://` URI names, percent-encoding undone (spaces, non-ASCII in the folder's path)."""
    return Path(url2pathname(urlsplit(uri).path))


class AssetStore:
    def __init__(self, folder: Path, retention: timedelta, clock: Callable[[], float] = time.time) -> None:
        self.folder, self.retention_s, self._clock = folder.resolve(), retention.total_seconds(), clock
        self.folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        os.chmod(self.folder, FOLDER_MODE)  # mkdir's mode passes the umask, and an older folder had 0755

    def save(self, field: str, image: CheckedImage) -> Asset:
        path = self.folder / f"{secrets.token_hex(16)}.{image.extension}"
        partial = path.with_suffix(".part")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(descriptor, "wb") as out:
            out.write(image.data)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)
        return Asset(field=field, uri=path.as_uri(), media_type=image.media_type, sha256=image.sha256)

    def discard(self, asset: Asset) -> None:
        """Remove a file whose completion lost the race to another submission (or was refused)."""
        path = path_of(asset.uri)
        if path.parent == self.folder:
            path.unlink(missing_ok=True)

    def sweep(self) -> int:
        """Delete the photos stored more than `retention` ago and stale `.part` files; how many were deleted."""
        now, deleted = self._clock(), 0
        for path in self.folder.iterdir():
            try:
                age = now - path.stat().st_mtime
                if age > (PART_MAX_AGE_S if path.suffix == ".part" else self.retention_s) and path.is_file():
                    path.unlink(missing_ok=True)
                    deleted += 1
            except OSError:  # one file that cannot be deleted must not keep the others
                log.exception("cannot sweep asset %s", path.name)
        ASSETS_SWEPT.inc(deleted)
        return deleted

    async def run_sweeps(self, stop: asyncio.Event, every_s: float = SWEEP_EVERY_S) -> None:
        """Sweep at start and then every `every_s`, until the stop."""
        while not stop.is_set():
            try:
                deleted = await asyncio.to_thread(self.sweep)
                if deleted:
                    log.info("deleted %d photos past their retention", deleted)
            except OSError:  # the folder away (a storage outage): try again next time
                log.exception("sweeping the assets folder failed; retrying in %.0fs", every_s)
            try:
                await asyncio.wait_for(stop.wait(), timeout=every_s)
            except TimeoutError:
                pass
