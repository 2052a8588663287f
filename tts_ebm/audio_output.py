"""Where streamed audio goes: a 16-bit wav file written as chunks arrive, a wav stream on stdout,
or raw float32 samples on stdout for a player (``aplay -r 22050 -f FLOAT_LE``).

A file is finalised when the sink closes, also when synthesis stops with an error or Ctrl-C, so
the audio made so far is kept as a valid wav. A wav on a pipe cannot be rewound to write its
length: its header says "unknown length" (0xFFFFFFFF), as sox and ffmpeg write it.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

STDOUT = "-"
UNKNOWN_SIZE = 0xFFFFFFFF


@contextmanager
def audio_sink(
    target: str | Path, sample_rate: int, raw: bool = False
) -> Iterator[Callable[[np.ndarray], None]]:
    """A function that writes one float32 chunk of mono audio to ``target`` (a path, or ``-``
    for stdout; ``raw`` writes little-endian float32 samples to stdout, no header)."""
    if raw or str(target) == STDOUT:
        out = sys.stdout.buffer
        if not raw:
            out.write(streaming_wav_header(sample_rate))

        def write_stdout(chunk: np.ndarray) -> None:
            data = _clipped(chunk).astype("<f4") if raw else _pcm16(chunk)
            out.write(data.tobytes())
            out.flush()

        yield write_stdout
        return
    import soundfile as sf

    with sf.SoundFile(str(target), "w", sample_rate, 1, subtype="PCM_16") as file:
        yield lambda chunk: file.write(_pcm16(chunk))


def streaming_wav_header(sample_rate: int, bits: int = 16) -> bytes:
    """A mono PCM RIFF/WAVE header whose RIFF and data sizes say "unknown length"."""
    block = bits // 8
    fmt = struct.pack("<HHIIHH", 1, 1, sample_rate, sample_rate * block, block, bits)
    return (
        b"RIFF"
        + struct.pack("<I", UNKNOWN_SIZE)
        + b"WAVEfmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", UNKNOWN_SIZE)
    )


def _clipped(chunk: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(chunk, dtype=np.float32).reshape(-1), -1.0, 1.0)


def _pcm16(chunk: np.ndarray) -> np.ndarray:
    """Float samples → int16 as libsndfile converts them (scaled by 32767, rounded)."""
    return np.rint(_clipped(chunk) * 32767.0).astype("<i2")
