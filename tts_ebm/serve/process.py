"""``tts-ebm serve`` in a child process on a free loopback port: what the load benchmark and the
tests run against. The child gets SIGTERM if its parent dies (Linux ``PR_SET_PDEATHSIG``), so no
server outlives the process that started it; leaving the context stops it gracefully."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class ServerProcess:
    process: subprocess.Popen
    port: int
    log: Path
    wyoming_port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _status_kib(self, field: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise KeyError(field)

    def rss_kib(self) -> int:
        """The server's resident set now."""
        return self._status_kib("VmRSS")

    def peak_rss_kib(self) -> int:
        """The server's peak resident set since it started or :meth:`reset_peak`."""
        return self._status_kib("VmHWM")

    def reset_peak(self) -> None:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def alive(self) -> bool:
        return self.process.poll() is None


@contextmanager
def running_server(
    log: Path,
    args: Sequence[str] = (),
    wyoming: bool = False,
    threads: int = 1,
    timeout: float = 180.0,
) -> Iterator[ServerProcess]:
    """``tts-ebm serve ARGS`` on 127.0.0.1 and a free port, once ``/health`` answers 200."""
    import httpx

    port = free_port()
    wyoming_port = free_port() if wyoming else None
    argv = [sys.executable, "-m", "tts_ebm.cli", "serve", "--port", str(port)]
    argv += ["--threads", str(threads), *args]
    if wyoming_port:
        argv += ["--wyoming", f"tcp://127.0.0.1:{wyoming_port}"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent
        )
    server = ServerProcess(process, port, log, wyoming_port)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if not server.alive():
                raise OSError(f"the server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise OSError(f"the server did not start in {timeout:.0f} s; see {log}")
            time.sleep(0.3)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
