"""`tts-ebm serve`: OpenAI-style and Piper HTTP APIs, Wyoming and a demo page (tts_ebm.serve)."""

from __future__ import annotations

import argparse

from tts_ebm.commands.speed_options import add_speed_options

SERVE_PACKAGES = ("starlette", "uvicorn", "wyoming")  # the serve extra


def _serve(args: argparse.Namespace) -> int:
    try:
        from tts_ebm.serve.server import ServeOptions, serve
    except ModuleNotFoundError as exc:
        if exc.name not in SERVE_PACKAGES:
            raise
        raise ValueError(f"{exc.name} is missing: pip install 'tts-ebm[serve]'") from None
    from tts_ebm.threads import configure_threads

    configure_threads(args.threads)
    options = ServeOptions(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        voices=args.voice or [],
        max_chars=args.max_chars,
        max_queue=args.max_queue,
        wyoming=args.wyoming,
        device=args.device,
        vocoder=args.vocoder,
        vocoder_runtime=args.vocoder_runtime,
        one_at_a_time=args.one_at_a_time,
    )
    return serve(options)


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "serve",
        help="a speech server: OpenAI's /v1/audio/speech, Piper's HTTP API, Wyoming, a demo page",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Serve the voices over HTTP (README, 'Serve'):\n"
            "  POST /v1/audio/speech   OpenAI's body (model, input, voice, response_format,\n"
            "                          speed, stream_format audio|sse) plus steps, step_size,\n"
            "                          temperature, langevin, seed; audio streams as it is made\n"
            "  GET /v1/models, GET /v1/audio/voices, GET /health\n"
            "  GET /?text=..., POST /  Piper's HTTP API (a wav); GET / alone: the demo page\n"
            "and, with --wyoming tcp://HOST:PORT, Home Assistant's Wyoming protocol.\n"
            "One scheduler serves all requests: concurrent requests share the acoustic model\n"
            "and take turns at the vocoder; beyond --max-queue requests the answer is 503."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=5000, help="HTTP port (5000, as Piper's server)")
    p.add_argument(
        "--api-key",
        help="require 'Authorization: Bearer KEY' on every route but /health",
    )
    p.add_argument(
        "--voice",
        action="append",
        help="a voice to preload (a packaged name such as default or nce, or a checkpoint "
        "path); repeatable, the first is the default; none: the default voice",
    )
    p.add_argument("--max-chars", type=int, default=4000, help="longest text taken (4000)")
    p.add_argument(
        "--max-queue",
        type=int,
        default=16,
        help="requests being served or waiting; more get 503 with Retry-After (16)",
    )
    p.add_argument(
        "--wyoming",
        metavar="tcp://HOST:PORT",
        help="also speak Wyoming here (Home Assistant), e.g. tcp://127.0.0.1:10200",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (cpu)")
    p.add_argument(
        "--vocoder",
        default="universal",
        help="universal, ljspeech, or a HiFi-GAN V1 weight file (universal)",
    )
    p.add_argument(
        "--one-at-a-time",
        action="store_true",
        help="serve requests strictly in turn, no shared batches (the baseline that "
        "'tts-ebm benchmark serve' compares the scheduler with)",
    )
    add_speed_options(p)
    p.set_defaults(handler=_serve)
