"""`tts-ebm serve` against a real server on a loopback port: OpenAI's speech route (streamed
audio equal to the Synthesizer's, every format, SSE, speed), the listings, Piper's HTTP API and
Wyoming through the ``wyoming`` package's own client. Texts are short: a 2-core CPU runs them."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from serving import Server, running_server

TWO_SENTENCES = "Good morning. See you soon."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("serve"), wyoming=True) as server:
        yield server


def speech(server: Server, **body: object) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/audio/speech", json=body, timeout=120)


def wav_samples(data: bytes) -> tuple[np.ndarray, int]:
    """A streamed wav (its sizes say 'unknown'): the samples after the 44-byte header."""
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt "
    rate = int.from_bytes(data[24:28], "little")
    return np.frombuffer(data[44:], "<i2"), rate


def test_openai_wav_streams_sentence_by_sentence_and_equals_the_synthesizer(server) -> None:
    body = {"model": "tts-1", "input": TWO_SENTENCES, "voice": "default", "response_format": "wav"}
    arrivals = []
    start = time.perf_counter()
    with httpx.stream("POST", f"{server.url}/v1/audio/speech", json=body, timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "audio/wav"
        data = b""
        for part in r.iter_raw():
            arrivals.append((time.perf_counter() - start, len(part)))
            data += part
    samples, rate = wav_samples(data)
    assert rate == 22050
    # audio left in several pieces, the first well before the last
    assert len(arrivals) >= 3
    assert arrivals[0][0] < 0.8 * arrivals[-1][0]

    from tts_ebm.synthesis import Synthesizer

    synth = Synthesizer.from_pretrained(None, device="cpu")
    expected = np.concatenate(list(synth.stream(TWO_SENTENCES)))
    expected = np.rint(np.clip(expected, -1, 1) * 32767).astype(np.int16)
    assert samples.shape == expected.shape
    assert np.abs(samples.astype(int) - expected).max() <= 1


def test_every_format_decodes_to_the_same_length(server) -> None:
    wav, rate = wav_samples(speech(server, input="Hi there.", response_format="wav").content)
    seconds = len(wav) / rate
    pcm = speech(server, input="Hi there.", response_format="pcm")
    assert pcm.headers["x-sample-rate"] == "24000"
    assert len(pcm.content) / 2 / 24000 == pytest.approx(seconds, abs=0.01)
    for fmt, media in (("flac", "audio/flac"), ("mp3", "audio/mpeg"), ("opus", "audio/ogg")):
        r = speech(server, input="Hi there.", response_format=fmt)
        assert r.status_code == 200 and r.headers["content-type"] == media
        audio, decoded_rate = sf.read(io.BytesIO(r.content))
        # mp3 and opus add a few ms of encoder delay / padding
        assert len(audio) / decoded_rate == pytest.approx(seconds, abs=0.08), fmt
    flac, _ = sf.read(io.BytesIO(speech(server, input="Hi there.", response_format="flac").content))
    assert np.abs(np.rint(flac * 32768) - wav).max() <= 1  # lossless
    # OpenAI's default format is mp3
    assert speech(server, input="Hi there.").headers["content-type"] == "audio/mpeg"


def test_sse_events_carry_the_audio_as_openai_defines_them(server) -> None:
    r = speech(server, input=TWO_SENTENCES, response_format="pcm", stream_format="sse")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in r.text.split("\n\n") if line.startswith("data: ")]
    *deltas, done = events
    assert len(deltas) >= 2 and {e["type"] for e in deltas} == {"speech.audio.delta"}
    assert done["type"] == "speech.audio.done"
    usage = done["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    audio = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    plain = speech(server, input=TWO_SENTENCES, response_format="pcm").content
    assert audio == plain


def test_speed_and_knobs_reach_the_synthesis(server) -> None:
    def samples(**knobs: object) -> np.ndarray:
        answer = speech(server, input="Hi there.", response_format="wav", **knobs)
        return wav_samples(answer.content)[0]

    normal, slow = samples(), samples(speed=0.5)
    assert len(slow) / len(normal) == pytest.approx(2.0, rel=0.15)
    prior = samples(steps=0, temperature=0)
    assert len(prior) == len(normal) and not np.array_equal(prior, normal)  # μ, not refined


def test_listings_and_health(server) -> None:
    models = httpx.get(f"{server.url}/v1/models").json()
    assert [m["id"] for m in models["data"]] == ["tts-ebm"]
    voices = httpx.get(f"{server.url}/v1/audio/voices").json()
    (voice,) = voices["voices"]
    assert voice["name"] == "default" and voice["sample_rate"] == 22050
    assert voice["defaults"]["steps"] >= 0 and "step_size" in voice["defaults"]
    assert set(voices["response_formats"]) >= {"wav", "pcm", "flac"}
    health = httpx.get(f"{server.url}/health")
    assert health.status_code == 200 and health.json()["voices"] == ["default"]


def test_piper_http_api(server) -> None:
    def frames(data: bytes) -> int:
        with wave.open(io.BytesIO(data)) as w:  # a complete wav: its header has the length
            assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (22050, 2, 1)
            assert w.getnframes() * 2 + 44 == len(data)
            return w.getnframes()

    get = httpx.get(server.url, params={"text": "Hi there."}, timeout=60)
    assert get.headers["content-type"] == "audio/wav"
    posted = httpx.post(server.url, content=b"Hi there.", timeout=60)
    as_json = httpx.post(server.url, json={"text": "Hi there.", "length_scale": 2.0}, timeout=60)
    assert get.content == posted.content
    assert frames(as_json.content) > 1.6 * frames(get.content)
    assert httpx.get(f"{server.url}/voices").json()["default"]["sample_rate"] == 22050
    page = httpx.get(server.url)  # no text: the demo page
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_wyoming_describe_synthesize_and_streaming(server) -> None:
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.client import AsyncTcpClient
    from wyoming.info import Describe, Info
    from wyoming.tts import (
        Synthesize,
        SynthesizeChunk,
        SynthesizeStart,
        SynthesizeStop,
        SynthesizeStopped,
    )

    async def until(client, *types) -> tuple[list, object]:
        chunks = []
        while True:
            event = await asyncio.wait_for(client.read_event(), 60)
            assert event is not None and event.type != "error", event
            if AudioChunk.is_type(event.type):
                chunks.append(AudioChunk.from_event(event))
            elif any(t.is_type(event.type) for t in types):
                return chunks, event

    async def talk() -> None:
        async with AsyncTcpClient("127.0.0.1", server.wyoming_port) as client:
            await client.write_event(Describe().event())
            info = Info.from_event(await client.read_event())
            assert [v.name for v in info.tts[0].voices] == ["default"]
            assert info.tts[0].supports_synthesize_streaming

            await client.write_event(Synthesize(text="Hi there.").event())
            _, start = await until(client, AudioStart)
            assert AudioStart.from_event(start).rate == 22050
            chunks, _ = await until(client, AudioStop)
            assert {(c.rate, c.width, c.channels) for c in chunks} == {(22050, 2, 1)}
            plain = b"".join(c.audio for c in chunks)

            # text arriving piece by piece: the first sentence is spoken before the text ends
            await client.write_event(SynthesizeStart().event())
            await client.write_event(SynthesizeChunk(text="Hi ").event())
            await client.write_event(SynthesizeChunk(text="there. Good").event())
            await until(client, AudioStart)
            event = await asyncio.wait_for(client.read_event(), 60)
            assert AudioChunk.is_type(event.type)  # spoken before the text has ended
            await client.write_event(Synthesize(text="ignored while streaming").event())
            await client.write_event(SynthesizeChunk(text=" night.").event())
            await client.write_event(SynthesizeStop().event())
            rest, _ = await until(client, AudioStop)
            await until(client, SynthesizeStopped)
            streamed = AudioChunk.from_event(event).audio + b"".join(c.audio for c in rest)
            pause = round(0.25 * 22050 / 256) * 256 * 2
            assert len(streamed) > len(plain) + pause  # both sentences, the pause between
            assert len(streamed) < 3 * len(plain) + pause  # and not the ignored text

    asyncio.run(talk())


def test_server_log_is_quiet(server: Server) -> None:
    assert "Traceback" not in Path(server.log).read_text()


def test_options_beyond_loopback_warn_and_bad_ones_are_refused() -> None:
    from tts_ebm.serve.server import ServeOptions, check_options

    assert check_options(ServeOptions()) == []
    assert check_options(ServeOptions(host="::1", wyoming="tcp://127.0.0.1:10200")) == []
    (warning,) = check_options(ServeOptions(host="0.0.0.0"))
    assert "without --api-key" in warning
    (warning,) = check_options(ServeOptions(host="0.0.0.0", api_key="k"))
    assert "beyond this machine" in warning and "without" not in warning
    (warning,) = check_options(ServeOptions(wyoming="tcp://0.0.0.0:10200", api_key="k"))
    assert "Wyoming has no authentication" in warning
    for bad, message in (
        (ServeOptions(wyoming="10200"), "tcp://HOST:PORT"),
        (ServeOptions(max_queue=0), "--max-queue"),
        (ServeOptions(max_chars=0), "--max-chars"),
        (ServeOptions(port=70000), "--port"),
    ):
        with pytest.raises(ValueError, match=message):
            check_options(bad)
