"""Audio formats a server answers in, encoded chunk by chunk as synthesis makes the audio.

``wav`` is 16-bit PCM with the "unknown length" header a pipe gets
(:func:`tts_ebm.audio_output.streaming_wav_header`); ``pcm`` is raw 16-bit little-endian
samples at 24 kHz, as OpenAI defines it (clients play it at that rate without asking); ``opus``
is Ogg Opus at 24 kHz (Opus takes no 22.05 kHz), both resampled by a streaming soxr
resampler. ``flac`` and ``mp3`` come from libsndfile too, but its encoders go back to the start
at the end to write the length (FLAC's STREAMINFO, MP3's Info frame, which decoders trust to
stop early), so these two are sent whole, once complete. Which of them are offered depends on
the libsndfile that soundfile brings (mp3 and opus since 1.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tts_ebm.audio_output import _pcm16, streaming_wav_header

OPENAI_PCM_RATE = 24_000


@dataclass(frozen=True)
class Format:
    media_type: str
    streams: bool  # bytes can leave before the end
    rate: int | None = None  # resampled to this rate; None: the voice's own
    sndfile: tuple[str, str] | None = None  # libsndfile (format, subtype)


FORMATS = {
    "wav": Format("audio/wav", True),
    "pcm": Format("audio/pcm", True, OPENAI_PCM_RATE),
    "flac": Format("audio/flac", False, None, ("FLAC", "PCM_16")),
    "mp3": Format("audio/mpeg", False, None, ("MP3", "MPEG_LAYER_III")),
    "opus": Format("audio/ogg", True, OPENAI_PCM_RATE, ("OGG", "OPUS")),
}


def supported_formats() -> list[str]:
    """The formats this installation can encode."""
    import soundfile as sf

    names = []
    for name, fmt in FORMATS.items():
        if fmt.sndfile is None or fmt.sndfile[1] in sf.available_subtypes(fmt.sndfile[0]):
            names.append(name)
    return names


def check_format(name: object) -> str:
    """``name`` if it is a supported format; ValueError naming the supported ones otherwise."""
    supported = supported_formats()
    if name not in supported:
        raise ValueError(
            f"response_format {name!r} is not supported; supported: {', '.join(supported)}"
        )
    return str(name)


class _Sink:
    """A file object for libsndfile whose new bytes can be taken as they are written. Bytes
    rewritten behind what was taken (a header's length field) only reach a whole-file answer."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.pos = 0
        self.taken = 0

    def write(self, data: bytes) -> int:
        data = bytes(data)
        end = self.pos + len(data)
        if end > len(self.data):
            self.data.extend(bytes(end - len(self.data)))
        self.data[self.pos : end] = data
        self.pos = end
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = (0, self.pos, len(self.data))[whence] + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, size: int = -1) -> bytes:
        return b""

    def take(self) -> bytes:
        new = bytes(self.data[self.taken :])
        self.taken = len(self.data)
        return new


class Encoder:
    """Float32 chunks at ``sample_rate`` in, bytes of format ``name`` out: ``encode`` per chunk
    (empty for formats that do not stream), ``finish`` for the rest."""

    def __init__(self, name: str, sample_rate: int) -> None:
        self.format = FORMATS[check_format(name)]
        self.rate = self.format.rate or sample_rate
        self._resampler = None
        if self.rate != sample_rate:
            import soxr

            self._resampler = soxr.ResampleStream(sample_rate, self.rate, 1, quality="HQ")
        self._sink = self._file = None
        self._header = name == "wav"
        if self.format.sndfile is not None:
            import soundfile as sf

            self._sink = _Sink()
            kind, subtype = self.format.sndfile
            self._file = sf.SoundFile(self._sink, "w", self.rate, 1, subtype, format=kind)

    @property
    def media_type(self) -> str:
        return self.format.media_type

    def encode(self, chunk: np.ndarray, last: bool = False) -> bytes:
        samples = np.asarray(chunk, dtype=np.float32)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples, last=last)
        out = b""
        if self._header:
            out, self._header = streaming_wav_header(self.rate), False
        if self._file is None:
            return out + _pcm16(samples).tobytes()
        self._file.write(np.clip(samples, -1.0, 1.0))
        return out + self._sink.take() if self.format.streams else out

    def finish(self) -> bytes:
        """The last bytes (a whole file for the formats that do not stream)."""
        out = self.encode(np.zeros(0, np.float32), last=True)
        if self._file is None:
            return out
        self._file.close()
        if self.format.streams:
            return out + self._sink.take()
        return bytes(self._sink.data)
