"""A real ``tts-ebm serve`` for the serve tests: :func:`tts_ebm.serve.process.running_server`
with one torch thread, its log in the test's temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tts_ebm.serve.process import ServerProcess as Server
from tts_ebm.serve.process import running_server as _running

__all__ = ["Server", "running_server"]


@contextmanager
def running_server(tmp: Path, *args: str, wyoming: bool = False) -> Iterator[Server]:
    with _running(tmp / "serve.log", args, wyoming=wyoming) as server:
        yield server
