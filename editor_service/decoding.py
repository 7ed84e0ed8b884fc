"""Image checks off the event loop, on a pool of their own: at most `decodes` at a time, however many submissions.

Each check may hold up to its pixel budget decoded (`images.py`); on the default thread pool (CPUs + 4 threads,
up to 32) concurrent submissions multiplied it: three at once took an editor from 76 to 379 MiB. Here they queue for
one of `decodes` threads instead, so decoded pixels in memory stay under `decodes × max_pixels × 4` bytes.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from editor_service.images import CheckedImage, check_image

Check = Callable[..., CheckedImage]  # `check_image`'s signature: data, then max_bytes= and max_pixels=


class ImageChecks:
    def __init__(self, *, max_bytes: int, max_pixels: int, decodes: int, check: Check = check_image) -> None:
        self.decodes = decodes
        self._check = functools.partial(check, max_bytes=max_bytes, max_pixels=max_pixels)
        self._pool = ThreadPoolExecutor(max_workers=decodes, thread_name_prefix="editor-image")

    async def check(self, data: bytes) -> CheckedImage:
        """`check_image` on one of the pool's threads, waiting for a free one; raises `ImageRefused`."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._check, data)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
