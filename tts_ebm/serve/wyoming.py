"""Wyoming, the protocol Home Assistant speaks to local voices, on the server's scheduler.

``describe`` → ``info`` listing the voices; ``synthesize`` → ``audio-start``, ``audio-chunk``…,
``audio-stop`` (16-bit mono at the voice's rate). The streaming events (``synthesize-start``,
``synthesize-chunk``…, ``synthesize-stop``, text arriving piece by piece from an LLM) feed one
open scheduler job: each sentence is queued as soon as text after it shows it complete, so its
audio is made while the rest of the text is still coming; ``synthesize-stop`` queues the rest,
and the answer ends with ``audio-stop`` and ``synthesize-stopped``. While streaming, a plain
``synthesize`` (which Home Assistant also sends, for older servers) is ignored, as Piper's
Wyoming server does. A refusal (queue full, unknown voice, unspeakable text) is an ``error``
event, and the connection stays open.
"""

from __future__ import annotations

import asyncio
import logging

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice
from wyoming.server import AsyncEventHandler, AsyncServer
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
)

from tts_ebm import __version__
from tts_ebm.audio_output import _pcm16
from tts_ebm.serve.app import ApiError, Service
from tts_ebm.serve.requests import check_voice
from tts_ebm.serve.scheduler import Job, QueueFull
from tts_ebm.synthesis import Synthesizer
from tts_ebm.text import split_sentences

log = logging.getLogger(__name__)
ATTRIBUTION = Attribution(name="tts-ebm", url="https://pypi.org/project/tts-ebm/")
LANGUAGES = ["en_US"]


def info(voices: dict[str, Synthesizer]) -> Info:
    """The ``info`` answer: one TTS program, every loaded voice, streaming supported."""
    listed = [
        TtsVoice(
            name=name,
            attribution=ATTRIBUTION,
            installed=True,
            description=f"tts-ebm voice {name}",
            version=__version__,
            languages=LANGUAGES,
        )
        for name in voices
    ]
    program = TtsProgram(
        name="tts-ebm",
        attribution=ATTRIBUTION,
        installed=True,
        description="energy-based text-to-speech",
        version=__version__,
        voices=listed,
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program])


class Handler(AsyncEventHandler):
    """One client connection."""

    def __init__(self, service: Service, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.service = service
        self.job: Job | None = None  # the open streaming job
        self.synth: Synthesizer | None = None
        self.forwarder: asyncio.Task | None = None
        self.pending = ""  # streamed text not yet known to end a sentence

    async def handle_event(self, event: Event) -> bool:
        try:
            await self._handle(event)
        except (ApiError, ValueError) as exc:
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            await self.write_event(Error(text=message, code="tts-ebm").event())
        return True

    async def _handle(self, event: Event) -> None:
        if Describe.is_type(event.type):
            await self.write_event(info(self.service.ready_voices()).event())
        elif Synthesize.is_type(event.type) and self.job is None:
            request = Synthesize.from_event(event)
            voice = self._voice(request.voice)
            defaults = self.service.ready_voices()[voice].defaults
            synth, job = await self.service.start(voice, request.text, defaults)
            await self._forward(job, synth)
        elif SynthesizeStart.is_type(event.type):
            await self._open(self._voice(SynthesizeStart.from_event(event).voice))
        elif SynthesizeChunk.is_type(event.type) and self.job is not None:
            self.pending += SynthesizeChunk.from_event(event).text
            pieces = split_sentences(self.pending)
            if len(pieces) > 1:
                self.pending = pieces[-1]
                await self._queue(" ".join(pieces[:-1]), last=False)
        elif SynthesizeStop.is_type(event.type) and self.job is not None:
            await self._queue(self.pending, last=True)
            forwarder, self.job, self.pending = self.forwarder, None, ""
            await forwarder
            await self.write_event(SynthesizeStopped().event())

    def _voice(self, voice) -> str:
        voices = self.service.ready_voices()
        return check_voice(voice.name if voice else None, voices, self.service.default_voice)

    async def _open(self, voice: str) -> None:
        scheduler = self.service.scheduler
        self.synth = self.service.ready_voices()[voice]
        try:
            scheduler.reserve()
        except QueueFull as exc:
            raise ApiError(503, str(exc)) from None
        self.job = scheduler.start(self.synth, self.synth.defaults, None)
        self.forwarder = asyncio.create_task(self._forward(self.job, self.synth))

    async def _queue(self, text: str, last: bool) -> None:
        """Analyse a complete piece of streamed text and hand its sentences to the job."""
        sentences = []
        if text.strip():
            try:
                sentences = await self.service.analyse(self.synth, text)
            except ApiError as exc:  # one unspeakable piece: say so, go on with the rest
                await self.write_event(Error(text=exc.message, code="tts-ebm").event())
        self.service.scheduler.add(self.job, sentences, last=last)

    async def _forward(self, job: Job, synth: Synthesizer) -> None:
        """audio-start, a chunk per piece of audio as the scheduler makes it, audio-stop."""
        rate = synth.sample_rate
        await self.write_event(AudioStart(rate=rate, width=2, channels=1).event())
        try:
            async for chunk in self.service.scheduler.chunks(job):
                audio = _pcm16(chunk).tobytes()
                event = AudioChunk(rate=rate, width=2, channels=1, audio=audio).event()
                await self.write_event(event)
        except (ValueError, TimeoutError) as exc:
            await self.write_event(Error(text=str(exc), code="tts-ebm").event())
        await self.write_event(AudioStop().event())

    async def disconnect(self) -> None:
        if self.job is not None:
            self.service.scheduler.cancel(self.job)
        if self.forwarder is not None:
            self.forwarder.cancel()


async def start_wyoming(service: Service, uri: str) -> AsyncServer:
    """Listen on ``uri`` (``tcp://HOST:PORT``) without blocking; ``await server.stop()`` ends it."""
    server = AsyncServer.from_uri(uri)
    await server.start(lambda reader, writer: Handler(service, reader, writer))
    return server
