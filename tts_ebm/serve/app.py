"""The HTTP side of ``tts-ebm serve``: a Starlette app (run by uvicorn) on one scheduler.

Routes: OpenAI's ``POST /v1/audio/speech`` (audio streamed as it is made, or as OpenAI's SSE
events), ``GET /v1/models``, ``GET /v1/audio/voices``; Piper's ``GET /?text=...``, ``POST /``
and ``GET /voices``; ``GET /health``; the demo page at ``GET /`` (without ``text``).

Every error is JSON in OpenAI's shape on one line, ``{"error": {"message": ..., "type": ...}}``:
400 for a bad request, 401 without the API key, 413 for a body over the limit (checked from
Content-Length and again while reading), 503 with Retry-After when the queue is full or the
voices are still loading. Text is analysed (normalised, phonemised) before the response
starts, on one thread of its own (espeak-ng is not thread-safe), so bad text is a 400 too.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import io
import json
import logging
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from tts_ebm.serve.encoding import Encoder, supported_formats
from tts_ebm.serve.requests import check_text, parse_piper, parse_speech
from tts_ebm.serve.scheduler import QueueFull, Scheduler
from tts_ebm.serve.voices import describe
from tts_ebm.synthesis import Sentence, SynthesisOptions, Synthesizer

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
MODEL_ID = "tts-ebm"
OPEN_PATHS = ("/health",)


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, dict(headers or {})


@dataclass
class Service:
    """What the routes share: the voices (None while loading), the scheduler, the limits."""

    scheduler: Scheduler
    max_chars: int = 4000
    voices: dict[str, Synthesizer] | None = None
    default_voice: str = "default"
    retry_after: int = 2
    frontend: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="tts-frontend")
    )

    @property
    def max_body(self) -> int:
        """A JSON body holds the text (up to 6 bytes per character escaped) and a few fields."""
        return 6 * self.max_chars + 4096

    def ready_voices(self) -> dict[str, Synthesizer]:
        if self.voices is None:
            raise ApiError(503, "the voices are still loading", {"Retry-After": "5"})
        return self.voices

    async def analyse(self, synth: Synthesizer, text: str) -> list[Sentence]:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.frontend, synth.sentences, text)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None

    async def start(self, voice: str, text: str, options: SynthesisOptions):
        """Queue a request (503 when full), analyse its text (400 when unspeakable)."""
        synth = self.ready_voices()[voice]
        try:
            self.scheduler.reserve()
        except QueueFull as exc:
            raise ApiError(503, str(exc), {"Retry-After": str(self.retry_after)}) from None
        try:
            sentences = await self.analyse(synth, text)
        except BaseException:
            self.scheduler.release()
            raise
        return synth, self.scheduler.start(synth, options, sentences)


class AudioStream(StreamingResponse):
    """A streamed answer that also listens for the client's disconnect, so a client that goes
    away cancels its request at once, not when its next chunk fails to send (Starlette does the
    latter for servers of ASGI spec 2.4 and later, such as uvicorn)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        asgi = {**scope.get("asgi", {}), "spec_version": "2.3"}
        await super().__call__({**scope, "asgi": asgi}, receive, send)


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None):
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message.replace("\n", " "), "type": kind}}
    return JSONResponse(body, status, headers=dict(headers or {}))


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    too_big = f"the body is over {limit} bytes"
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, too_big)
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise ApiError(413, too_big)
    return bytes(body)


class ApiKey:
    """Bearer-token check on every route but ``/health`` (constant-time comparison)."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app, self.key = app, key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            header = dict(scope["headers"]).get(b"authorization", b"")
            scheme, _, token = header.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self.key):
                message = "a valid API key is required (Authorization: Bearer KEY)"
                response = error_response(401, message, {"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _encoded(service: Service, job, encoder: Encoder) -> AsyncIterator[bytes]:
    async for chunk in service.scheduler.chunks(job):
        data = encoder.encode(chunk)
        if data:
            yield data
    yield encoder.finish()


async def _sse(service: Service, job, encoder: Encoder, tokens: int) -> AsyncIterator[bytes]:
    """OpenAI's speech SSE: ``speech.audio.delta`` events of base64 audio, then
    ``speech.audio.done`` with usage (input: phoneme ids; output: audio chunks)."""
    chunks = 0

    def event(data: dict) -> bytes:
        return f"data: {json.dumps(data)}\n\n".encode()

    try:
        async for data in _encoded(service, job, encoder):
            if data:
                chunks += 1
                audio = base64.b64encode(data).decode()
                yield event({"type": "speech.audio.delta", "audio": audio})
    except ValueError as exc:
        yield event({"type": "error", "error": {"message": str(exc)}})
        return
    usage = {"input_tokens": tokens, "output_tokens": chunks, "total_tokens": tokens + chunks}
    yield event({"type": "speech.audio.done", "usage": usage})


def create_app(service: Service, api_key: str | None = None) -> ASGIApp:
    """The ASGI app; ``service.voices`` may be filled in after it starts (health says when)."""

    async def speech(request: Request) -> Response:
        voices = service.ready_voices()
        raw = await read_body(request, service.max_body)
        try:
            req = parse_speech(raw, voices, service.default_voice, service.max_chars)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        synth, job = await service.start(req.voice, req.text, req.options)
        encoder = Encoder(req.response_format, synth.sample_rate)
        headers = {"X-Sample-Rate": str(encoder.rate)}
        if req.stream_format == "sse":
            tokens = sum(len(s.ids) for s in job.sentences)
            headers["X-Audio-Media-Type"] = encoder.media_type
            stream = _sse(service, job, encoder, tokens)
            return AudioStream(stream, media_type="text/event-stream", headers=headers)
        stream = _encoded(service, job, encoder)
        return AudioStream(stream, media_type=encoder.media_type, headers=headers)

    async def piper(request: Request) -> Response:
        voices = service.ready_voices()
        if request.method == "GET":
            if "text" not in request.query_params:
                return FileResponse(STATIC / "index.html")
            try:
                text = check_text(request.query_params["text"], service.max_chars, "text")
            except ValueError as exc:
                raise ApiError(400, str(exc)) from None
            voice, options = service.default_voice, voices[service.default_voice].defaults
        else:
            raw = await read_body(request, service.max_body)
            content_type = request.headers.get("content-type", "")
            try:
                text, voice, options = parse_piper(
                    raw, content_type, voices, service.default_voice, service.max_chars
                )
            except ValueError as exc:
                raise ApiError(400, str(exc)) from None
        synth, job = await service.start(voice, text, options)
        return Response(await _whole_wav(service, job, synth.sample_rate), media_type="audio/wav")

    async def piper_voices(request: Request) -> Response:
        voices = service.ready_voices()
        return JSONResponse({name: describe(name, s) for name, s in voices.items()})

    async def models(request: Request) -> Response:
        model = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "tts-ebm"}
        return JSONResponse({"object": "list", "data": [model]})

    async def voices_route(request: Request) -> Response:
        voices = service.ready_voices()
        return JSONResponse(
            {
                "voices": [describe(name, s) for name, s in voices.items()],
                "default": service.default_voice,
                "response_formats": supported_formats(),
                "max_chars": service.max_chars,
            }
        )

    async def health(request: Request) -> Response:
        if service.voices is None:
            return JSONResponse({"status": "loading"}, 503, headers={"Retry-After": "5"})
        queued = service.scheduler.queued
        return JSONResponse({"status": "ok", "voices": list(service.voices), "queued": queued})

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.message, exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error_response(exc.status_code, str(exc.detail), exc.headers)

    app: ASGIApp = Starlette(
        routes=[
            Route("/v1/audio/speech", speech, methods=["POST"]),
            Route("/v1/models", models),
            Route("/v1/audio/voices", voices_route),
            Route("/", piper, methods=["GET", "POST"]),
            Route("/voices", piper_voices),
            Route("/health", health),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={ApiError: api_error, HTTPException: http_error},
    )
    return ApiKey(app, api_key) if api_key else app


async def _whole_wav(service: Service, job, sample_rate: int) -> bytes:
    """A complete 16-bit wav with its length in the header, as Piper's server answers."""
    import numpy as np
    import soundfile as sf

    try:
        chunks = [chunk async for chunk in service.scheduler.chunks(job)]
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    out = io.BytesIO()
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    sf.write(out, np.clip(samples, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
    return out.getvalue()
