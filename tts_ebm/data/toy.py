"""A deterministic synthetic "language" that a tiny model can learn on a CPU in a minute or two.

Tests need to check that training *learns*, which real speech cannot show in that budget. Here
every letter is a stationary sound with a fixed spectrum and a fixed duration in mel frames, so
text → mel is a learnable function and the true alignment is known: vowels, a liquid and nasals
are harmonic tones with their own f0 and formant-like envelope, ``s`` and ``f`` are band-limited
noise, space is a short pause and the final period a longer one. Segments start on hop
boundaries, so an utterance has exactly ``sum(toy_durations()[c] for c in text)`` mel frames.
The only randomness (fricative noise, ±10 % segment gain, a -70 dB noise floor) comes from seeded
generators, so a seed fixes every byte of the corpus.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from tts_ebm.audio import SAMPLE_RATE, MelConfig, save_wav
from tts_ebm.files import write_atomic

# Bump whenever the generated audio or texts change, so cached corpora are rebuilt.
TOY_VERSION = 1

HOP = MelConfig().hop_length
FADE = HOP // 2  # raised-cosine cross-fade (samples) centred on each segment boundary
NOISE_FLOOR = 3e-4  # rms of the background noise: keeps pauses realistic, not digital zero


@dataclass(frozen=True)
class _Phone:
    """One letter's sound: ``f0 == 0`` means band-limited noise instead of a harmonic tone."""

    frames: int
    f0: float
    formants: tuple[tuple[float, float, float], ...]  # (centre Hz, width Hz, relative gain)
    peak: float


_PHONES: dict[str, _Phone] = {
    "a": _Phone(10, 120.0, ((750, 110, 1.0), (1200, 140, 0.6), (2600, 250, 0.25)), 0.5),
    "e": _Phone(8, 145.0, ((480, 90, 1.0), (1950, 160, 0.5), (2650, 250, 0.3)), 0.5),
    "i": _Phone(6, 170.0, ((280, 70, 1.0), (2300, 180, 0.5), (3100, 250, 0.35)), 0.45),
    "o": _Phone(12, 105.0, ((520, 90, 1.0), (850, 110, 0.8), (2500, 250, 0.15)), 0.5),
    "u": _Phone(9, 135.0, ((310, 70, 1.0), (760, 100, 0.4), (2250, 250, 0.1)), 0.45),
    "l": _Phone(5, 155.0, ((380, 80, 1.0), (1100, 150, 0.3), (2900, 300, 0.2)), 0.35),
    "m": _Phone(7, 112.0, ((250, 60, 1.0), (1000, 200, 0.08), (2200, 300, 0.05)), 0.3),
    "n": _Phone(6, 128.0, ((270, 60, 1.0), (1650, 200, 0.12), (3400, 400, 0.08)), 0.3),
    "s": _Phone(11, 0.0, ((6300, 1000, 1.0),), 0.3),
    "f": _Phone(4, 0.0, ((3500, 2200, 1.0),), 0.12),
}
_PAUSES: dict[str, int] = {" ": 6, ".": 10}

TOY_ALPHABET = "".join(sorted(_PHONES))


def toy_durations() -> dict[str, int]:
    """True frames (hop 256) of every symbol a toy text can contain, pauses included."""
    return {**{c: p.frames for c, p in _PHONES.items()}, **_PAUSES}


def default_toy_cache_dir() -> Path:
    """Where training builds the toy corpus on the fly: ``$TTS_EBM_CACHE/toy`` or ``~/.cache``."""
    root = os.environ.get("TTS_EBM_CACHE")
    return Path(root) / "toy" if root else Path.home() / ".cache" / "tts-ebm" / "toy"


def _envelope(freqs: np.ndarray, formants: tuple[tuple[float, float, float], ...]) -> np.ndarray:
    return sum(g * np.exp(-0.5 * ((freqs - c) / w) ** 2) for c, w, g in formants)


@cache
def _tone(letter: str) -> np.ndarray:
    """A letter's harmonic tone, long enough for its segment plus both cross-fades.

    Every occurrence reuses the same samples, so voiced letters differ only by gain. Schroeder
    phases keep the crest factor low, so the peak is set by ``peak`` rather than by phase luck.
    """
    phone = _PHONES[letter]
    harmonics = np.arange(1, int(7600 / phone.f0) + 1)
    freqs = harmonics * phone.f0
    # A small 1/f floor keeps the bands between formants from collapsing to the log floor.
    amps = _envelope(freqs, phone.formants) + 0.02 * phone.f0 / freqs
    phases = np.pi * harmonics * (harmonics - 1) / len(harmonics)
    t = np.arange(phone.frames * HOP + FADE) / SAMPLE_RATE
    wav = (amps[:, None] * np.cos(2 * np.pi * freqs[:, None] * t + phases[:, None])).sum(axis=0)
    return wav * (phone.peak / np.abs(wav).max())


def _noise(letter: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Fresh band-limited noise, scaled so its peak is about the letter's ``peak``."""
    phone = _PHONES[letter]
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum *= _envelope(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), phone.formants)
    wav = np.fft.irfft(spectrum, n)
    return wav * (phone.peak / (4.0 * wav.std()))


def synthesize_toy(text: str, rng: np.random.Generator) -> np.ndarray:
    """Float32 waveform of a toy text, ``HOP * sum(frames)`` samples long, peak about 0.5."""
    durations = toy_durations()
    unknown = sorted(set(text) - set(durations))
    if unknown:
        raise ValueError(f"toy text {text!r} has symbols outside {TOY_ALPHABET!r} and ' .'")
    n_samples = HOP * sum(durations[c] for c in text)
    # Buffer index = sample index + FADE // 2, so a segment's fade-in may start before sample 0.
    buffer = np.zeros(n_samples + FADE)
    rise = 0.5 - 0.5 * np.cos(np.pi * (np.arange(FADE) + 0.5) / FADE)  # rise + rise[::-1] == 1
    start = 0
    for symbol in text:
        length = durations[symbol] * HOP
        if symbol in _PHONES:
            piece = _tone(symbol) if _PHONES[symbol].f0 else _noise(symbol, length + FADE, rng)
            piece = piece * rng.uniform(0.9, 1.1)
            piece[:FADE] *= rise
            piece[-FADE:] *= rise[::-1]
            buffer[start : start + length + FADE] += piece
        start += length
    wav = buffer[FADE // 2 : FADE // 2 + n_samples]
    wav[:FADE] *= rise  # the first segment's fade-in was cut at sample 0: avoid a click
    wav += NOISE_FLOOR * rng.standard_normal(n_samples)
    return wav.astype(np.float32)


def _random_text(rng: np.random.Generator) -> str:
    """2–6 words of 2–5 uniformly drawn letters, ending with a period."""
    words = [
        "".join(TOY_ALPHABET[i] for i in rng.integers(0, len(TOY_ALPHABET), rng.integers(2, 6)))
        for _ in range(rng.integers(2, 7))
    ]
    return " ".join(words) + "."


def _read_manifest(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def make_toy_corpus(out_dir: str | Path, n_utterances: int = 200, seed: int = 0) -> Path:
    """Build (or reuse) an LJSpeech-format toy corpus: ``wavs/toy_NNNNN.wav`` + ``metadata.csv``.

    A corpus whose ``toy.json`` records the same version, size and seed is returned untouched;
    ``metadata.csv`` is written last, so its presence means the corpus is complete. Texts come
    from one generator and each utterance's audio from its own, so utterance ``i`` does not
    depend on ``n_utterances``.
    """
    if n_utterances < 1:
        raise ValueError(f"n_utterances must be positive, got {n_utterances}")
    out_dir = Path(out_dir)
    metadata = out_dir / "metadata.csv"
    manifest_path = out_dir / "toy.json"
    manifest = {
        "generator": "tts_ebm.data.toy",
        "version": TOY_VERSION,
        "n_utterances": n_utterances,
        "seed": seed,
    }
    if metadata.is_file() and _read_manifest(manifest_path) == manifest:
        return out_dir

    metadata.unlink(missing_ok=True)
    wav_dir = out_dir / "wavs"
    wav_dir.mkdir(parents=True, exist_ok=True)
    text_rng = np.random.default_rng(seed)
    lines = []
    for index in range(n_utterances):
        utt_id = f"toy_{index:05d}"
        text = _random_text(text_rng)
        wav = synthesize_toy(text, np.random.default_rng([seed, index]))
        tmp = wav_dir / f".{utt_id}.{os.getpid()}.wav"  # soundfile infers the format from .wav
        save_wav(tmp, wav)
        os.replace(tmp, wav_dir / f"{utt_id}.wav")
        lines.append(f"{utt_id}|{text}|{text}\n")
    for stale in wav_dir.glob("toy_*.wav"):  # left over from an earlier, larger build
        number = stale.stem.removeprefix("toy_")
        if number.isdigit() and int(number) >= n_utterances:
            stale.unlink()
    write_atomic(manifest_path, json.dumps(manifest, indent=2) + "\n")
    write_atomic(metadata, "".join(lines))
    return out_dir
