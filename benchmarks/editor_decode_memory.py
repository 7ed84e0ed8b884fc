"""Peak memory of the editor's image checks (`editor_service/images.py`, `decoding.py`), each case in a fresh process.

`python -m benchmarks.editor_decode_memory`: the 6300 × 6300 PNG bomb of issue 15 decoded in full (as before) and
through `check_image` (refused from its header), and six concurrent 12 Mpx photos on pools of 2 and of 6 threads.
Prints each case's peak RSS over the process's own baseline (Pillow and the editor imported).
"""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import resource

from PIL import Image

from editor_service.decoding import ImageChecks
from editor_service.images import ImageRefused, check_image

BUDGET = 24_000_000


def bomb() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (6300, 6300), "white").save(out, "PNG")
    return out.getvalue()


def photo() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((4000, 3000), 64).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def full_decode(data: bytes) -> None:
    Image.MAX_IMAGE_PIXELS = None
    with Image.open(io.BytesIO(data)) as image:
        image.load()


def checked(data: bytes) -> None:
    try:
        check_image(data, max_bytes=10**8, max_pixels=BUDGET)
    except ImageRefused:
        pass


def concurrent(data: bytes, decodes: int) -> None:
    async def main() -> None:
        checks = ImageChecks(max_bytes=10**8, max_pixels=BUDGET, decodes=decodes)
        await asyncio.gather(*(checks.check(data) for _ in range(6)))
        await checks.close()

    asyncio.run(main())


def _case(name: str, data: bytes, answer: multiprocessing.Queue) -> None:
    before = peak_mib()
    {"full": lambda: full_decode(data), "checked": lambda: checked(data)}.get(
        name, lambda: concurrent(data, int(name.split("-")[1]))
    )()
    answer.put(peak_mib() - before)


def measure(name: str, data: bytes) -> float:
    answer: multiprocessing.Queue = multiprocessing.Queue()
    process = multiprocessing.get_context("fork").Process(target=_case, args=(name, data, answer))
    process.start()
    grown = answer.get(timeout=300)
    process.join()
    return grown


def main() -> None:
    png, jpeg = bomb(), photo()
    print(f"bomb: {len(png) // 1024} KiB PNG, 6300 × 6300; photo: {len(jpeg) // 1024} KiB JPEG, 4000 × 3000")
    for label, name, data in (
        ("bomb decoded in full (before)", "full", png),
        ("bomb through check_image", "checked", png),
        ("6 photos at once, pool of 6", "pool-6", jpeg),
        ("6 photos at once, pool of 2", "pool-2", jpeg),
    ):
        print(f"{label:32} peak RSS +{measure(name, data):6.0f} MiB")


if __name__ == "__main__":
    main()
