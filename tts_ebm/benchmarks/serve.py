"""`tts-ebm benchmark serve`: ``tts-ebm serve`` under load, on loopback, bounded in count and time.

For each mode — the scheduler, and ``--one-at-a-time`` (requests strictly in turn) as the
baseline, each a fresh server process — and each number of concurrent clients, every client
sends requests back to back (a mix of short and long texts, WAV streamed) until the level's
request count is sent; at the level's time limit the requests still running are abandoned
(counted as cut, and among them those with no audio yet). Reported per level: completed requests
per second, seconds of audio received per wall second, p50/p95 time to the first audio byte
(every request that got one) and to the last byte (completed ones), errors, and the server's
peak resident set (its VmHWM, reset before each level). Then the short-behind-long
case: a one-sentence request sent once an eight-sentence one's first audio has arrived, its time to
first audio against the same request alone.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console

from tts_ebm.benchmarks.common import load_average, print_table
from tts_ebm.serve.process import ServerProcess, running_server

SHORT = "Hi there, how are you?"
LONG = "The quick brown fox jumps over the lazy dog. It was not amused, and walked away."
BEHIND_SENTENCES = 8
BEHIND = " ".join(f"This is sentence {n} of a long answer." for n in range(1, BEHIND_SENTENCES + 1))
WAV_HEADER = 44


@dataclass(frozen=True)
class ServeBenchmarkOptions:
    clients: tuple[int, ...] = (1, 4, 16, 64)
    requests: int = 8  # per level at least, and at least one per client
    seconds: float = 30.0  # per level: then what still runs is abandoned
    long_every: int = 4  # every N-th request is the long text
    threads: int = 1
    voice: str | None = None
    max_queue: int = 128


async def _one(client, url: str, text: str, record: dict) -> None:
    """One request, streamed; ``record`` fills in as it goes (a cancelled one keeps what it
    got: status None, perhaps a first byte and some audio)."""
    start = time.perf_counter()
    record.update(status=None, ttfb=None, ttlb=None, bytes=0)
    try:
        async with client.stream("POST", url, json={"input": text, "response_format": "wav"}) as r:
            async for part in r.aiter_raw():
                if part and record["ttfb"] is None:
                    record["ttfb"] = time.perf_counter() - start
                record["bytes"] += len(part)
            record["status"] = r.status_code
    except Exception as exc:  # noqa: BLE001 (a failed request is a counted error)
        record["status"] = type(exc).__name__
        return
    record["ttlb"] = time.perf_counter() - start


async def _level(
    server: ServerProcess, clients: int, options: ServeBenchmarkOptions, rate: int
) -> dict:
    """Clients send requests back to back until ``requests`` are sent; at ``seconds`` the
    requests still running are abandoned (counted as unfinished: the server drops them)."""
    import httpx

    url = f"{server.url}/v1/audio/speech"
    total = max(options.requests, clients)
    counter = itertools.count()
    records: list[dict] = []

    async def worker(client) -> None:
        while (n := next(counter)) < total:
            text = LONG if n % options.long_every == options.long_every - 1 else SHORT
            records.append({})
            await _one(client, url, text, records[-1])

    server.reset_peak()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    start = time.perf_counter()
    async with httpx.AsyncClient(limits=limits, timeout=600) as client:
        tasks = [asyncio.create_task(worker(client)) for _ in range(clients)]
        _, pending = await asyncio.wait(tasks, timeout=options.seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    wall = time.perf_counter() - start
    ok = [r for r in records if r["status"] == 200]
    unfinished = [r for r in records if r["status"] is None]
    ttfb = [r["ttfb"] for r in records if r["ttfb"] is not None]
    ttlb = [r["ttlb"] for r in ok]
    audio = sum(max(0, r["bytes"] - WAV_HEADER) / 2 / rate for r in ok + unfinished)
    return {
        "clients": clients,
        "requests": len(records),
        "completed": len(ok),
        "unfinished": len(unfinished),
        "no_audio_yet": sum(r["ttfb"] is None for r in unfinished),
        "errors": len(records) - len(ok) - len(unfinished),
        "wall_seconds": wall,
        "requests_per_second": len(ok) / wall,
        "audio_seconds_per_second": audio / wall,
        "ttfb_p50": _percentile(ttfb, 50),
        "ttfb_p95": _percentile(ttfb, 95),
        "ttlb_p50": _percentile(ttlb, 50),
        "ttlb_p95": _percentile(ttlb, 95),
        "peak_rss_bytes": server.peak_rss_kib() * 1024,
        "load_average_end": load_average(),
    }


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


async def _short_behind_long(server: ServerProcess) -> dict:
    """TTFB of a one-sentence request alone, and sent once a long one is streaming."""
    import httpx

    url = f"{server.url}/v1/audio/speech"
    async with httpx.AsyncClient(timeout=600) as client:
        alone: dict = {}
        await _one(client, url, SHORT, alone)
        started = asyncio.Event()

        async def long_request() -> dict:
            start = time.perf_counter()
            body = {"input": BEHIND, "response_format": "wav"}
            async with client.stream("POST", url, json=body) as r:
                async for part in r.aiter_raw():
                    if part:
                        started.set()
            return {"ttlb": time.perf_counter() - start}

        task = asyncio.create_task(long_request())
        await started.wait()
        behind: dict = {}
        await _one(client, url, SHORT, behind)
        long = await task
    return {
        "short_alone_ttfb": alone["ttfb"],
        "short_alone_ttlb": alone["ttlb"],
        "short_behind_ttfb": behind["ttfb"],
        "short_behind_ttlb": behind["ttlb"],
        "long_ttlb": long["ttlb"],
    }


def run_serve_benchmark(options: ServeBenchmarkOptions, progress=print) -> dict:
    result: dict = {
        "options": asdict(options),
        "load_average_start": load_average(),
        "modes": {},
    }
    args = ["--max-queue", str(options.max_queue)]
    if options.voice:
        args += ["--voice", options.voice]
    with tempfile.TemporaryDirectory(prefix="serve-benchmark-") as folder:
        for mode, extra in (("scheduler", []), ("one-at-a-time", ["--one-at-a-time"])):
            log = Path(folder) / f"{mode}.log"
            with running_server(log, [*args, *extra], threads=options.threads) as server:
                import httpx

                voices = httpx.get(f"{server.url}/v1/audio/voices").json()["voices"]
                rate = voices[0]["sample_rate"]
                levels = []
                for clients in options.clients:
                    levels.append(asyncio.run(_level(server, clients, options, rate)))
                    row = levels[-1]
                    progress(
                        f"{mode}: {clients} clients, {row['requests']} requests, "
                        f"{row['wall_seconds']:.1f} s, load {row['load_average_end']}"
                    )
                behind = asyncio.run(_short_behind_long(server))
                progress(f"{mode}: short behind long {behind}")
                result["modes"][mode] = {"levels": levels, "short_behind_long": behind}
    result["load_average_end"] = load_average()
    return result


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def print_report(result: dict, console: Console) -> None:
    options = result["options"]
    console.print(
        f"tts-ebm serve under load: {options['threads']} torch thread(s), texts "
        f"{len(SHORT)}/{len(LONG)} characters (every {options['long_every']}th long), load "
        f"average {result['load_average_start']} → {result['load_average_end']}"
    )
    for mode, data in result["modes"].items():
        rows = [
            (
                row["clients"],
                f"{row['completed']}/{row['requests']}",
                f"{row['unfinished']} ({row['no_audio_yet']})",
                row["errors"],
                f"{row['requests_per_second']:.2f}",
                f"{row['audio_seconds_per_second']:.2f}",
                f"{_s(row['ttfb_p50'])} / {_s(row['ttfb_p95'])}",
                f"{_s(row['ttlb_p50'])} / {_s(row['ttlb_p95'])}",
                f"{row['peak_rss_bytes'] / 2**20:.0f}",
            )
            for row in data["levels"]
        ]
        columns = ("clients", "done/sent", "cut (no audio)", "errors", "req/s", "audio s/s",
                   "TTFB p50/p95 s", "last byte p50/p95 s", "peak RSS MiB")  # fmt: skip
        print_table(console, mode, columns, rows)
        b = data["short_behind_long"]
        console.print(
            f"{mode}: a one-sentence request alone: first audio {_s(b['short_alone_ttfb'])} s; "
            f"behind a {BEHIND_SENTENCES}-sentence one: {_s(b['short_behind_ttfb'])} s "
            f"(that one took {_s(b['long_ttlb'])} s)"
        )
