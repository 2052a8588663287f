"""A real ``tts-ebm serve`` in a child process on free loopback ports, for the serve tests.

The child gets SIGTERM when the test process dies (Linux ``PR_SET_PDEATHSIG``), so no server
outlives its tests; the fixture stops it with SIGTERM (uvicorn's graceful shutdown) at the end.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path
    wyoming_port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kib(self) -> int:
        """Current resident set of the server process."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise KeyError("VmRSS")

    def alive(self) -> bool:
        return self.process.poll() is None


@contextmanager
def running_server(
    tmp: Path, *args: str, wyoming: bool = False, timeout: float = 120.0
) -> Iterator[Server]:
    """``tts-ebm serve ARGS`` on a free port, once ``/health`` says 200."""
    port = free_port()
    wyoming_port = free_port() if wyoming else None
    argv = [sys.executable, "-m", "tts_ebm.cli", "serve", "--port", str(port), "--threads", "1"]
    if wyoming_port:
        argv += ["--wyoming", f"tcp://127.0.0.1:{wyoming_port}"]
    log = tmp / f"serve-{port}.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*argv, *args], stdout=out, stderr=subprocess.STDOUT, env=env,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
    server = Server(process, port, log, wyoming_port)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if not server.alive():
                raise RuntimeError(f"the server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
