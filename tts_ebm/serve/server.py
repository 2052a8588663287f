"""Run the HTTP app (uvicorn) and, when asked, the Wyoming server in one event loop, on one
scheduler. The sockets open at once; the voices load in a thread meanwhile, and ``/health``
answers 200 once they have."""

from __future__ import annotations

import asyncio
import ipaddress
import sys
from dataclasses import dataclass, field
from urllib.parse import urlparse

from tts_ebm.serve.app import Service, create_app
from tts_ebm.serve.scheduler import Scheduler
from tts_ebm.serve.voices import load_voices, voice_name


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 5000
    api_key: str | None = None
    voices: list[str] = field(default_factory=list)
    max_chars: int = 4000
    max_queue: int = 16
    wyoming: str | None = None  # tcp://HOST:PORT
    device: str = "cpu"
    vocoder: str = "universal"
    vocoder_runtime: str = "auto"
    one_at_a_time: bool = False


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_options(options: ServeOptions) -> list[str]:
    """ValueError for options that cannot work; the warnings for risky ones."""
    if not 1 <= options.max_chars <= 1_000_000:
        raise ValueError(f"--max-chars must be between 1 and 1000000, got {options.max_chars}")
    if not 1 <= options.max_queue <= 10_000:
        raise ValueError(f"--max-queue must be between 1 and 10000, got {options.max_queue}")
    if not 0 <= options.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {options.port}")
    warnings = []
    hosts = [options.host]
    if options.wyoming is not None:
        uri = urlparse(options.wyoming)
        if uri.scheme != "tcp" or not uri.hostname or uri.port is None:
            raise ValueError(f"--wyoming must be tcp://HOST:PORT, got {options.wyoming!r}")
        hosts.append(uri.hostname)
    for host in hosts:
        if not is_loopback(host):
            warnings.append(
                f"listening on {host}, beyond this machine"
                + ("" if options.api_key else ", without --api-key: anyone who can reach it")
                + (" (Wyoming has no authentication)" if host != options.host else "")
            )
    return warnings


def serve(options: ServeOptions) -> int:
    for warning in check_options(options):
        print(f"tts-ebm: warning: {warning}", file=sys.stderr)
    return asyncio.run(_serve(options))


async def _serve(options: ServeOptions) -> int:
    import uvicorn

    scheduler = Scheduler(max_queue=options.max_queue, one_at_a_time=options.one_at_a_time)
    service = Service(scheduler, options.max_chars)
    service.default_voice = voice_name((options.voices or ["default"])[0])
    config = uvicorn.Config(
        create_app(service, options.api_key),
        host=options.host,
        port=options.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    async def load() -> None:
        try:
            service.voices = await asyncio.to_thread(
                load_voices, options.voices, options.device, options.vocoder,
                options.vocoder_runtime,
            )  # fmt: skip
        except (ValueError, OSError) as exc:
            failure.append(exc)
            server.should_exit = True
            return
        print(f"voices loaded: {', '.join(service.voices)}", flush=True)

    wyoming = None
    if options.wyoming is not None:
        from tts_ebm.serve.wyoming import start_wyoming

        wyoming = await start_wyoming(service, options.wyoming)
        print(f"Wyoming on {options.wyoming}", flush=True)
    print(f"serving on http://{options.host}:{options.port} (demo page at /)", flush=True)
    loader = asyncio.create_task(load())
    try:
        await server.serve()
    finally:
        loader.cancel()
        if wyoming is not None:
            await wyoming.stop()
        scheduler.stop()
        service.frontend.shutdown(wait=False, cancel_futures=True)
    if failure:
        raise failure[0]
    return 0
