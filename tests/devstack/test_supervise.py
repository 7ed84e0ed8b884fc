"""`dev` watches its own jobs as it watches its services: one that dies stops dev with exit 1, naming it."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from devstack.supervise import supervise


async def crash() -> None:
    await asyncio.sleep(0.05)
    raise OSError("could not bind 127.0.0.1:8025")


async def forever() -> None:
    await asyncio.Event().wait()


async def done_early() -> None:
    return None


async def test_a_job_that_fails_stops_dev_with_its_name_and_traceback(capsys):
    code = await supervise({}, {"mailbox": crash(), "event printer": forever()}, asyncio.Event(), exit_after=10)
    assert code == 1
    err = capsys.readouterr().err
    assert "dev: the mailbox failed; stopping" in err
    assert "Traceback" in err and "could not bind 127.0.0.1:8025" in err


async def test_a_job_that_ends_by_itself_stops_dev_unless_it_is_meant_to_end(capsys):
    assert await supervise({}, {"event printer": done_early()}, asyncio.Event(), exit_after=10) == 1
    assert "the event printer stopped by itself" in capsys.readouterr().err
    finite = frozenset({"demo orders"})
    jobs = {"demo orders": done_early(), "event printer": forever()}
    assert await supervise({}, jobs, asyncio.Event(), exit_after=0.6, finite=finite) == 0


def exited(code: int) -> subprocess.Popen:
    service = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])
    service.wait()
    return service


async def test_a_service_that_exits_stops_dev():
    service = await asyncio.to_thread(exited, 3)  # waiting for a process blocks: off the event loop
    assert await supervise({"core": service}, {"event printer": forever()}, asyncio.Event(), exit_after=10) == 1


async def test_ctrl_c_stops_every_job_and_answers_0():
    stop = asyncio.Event()
    stop.set()
    assert await supervise({}, {"event printer": forever()}, stop, exit_after=None) == 0
