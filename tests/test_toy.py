"""The toy corpus must be deterministic, cached, and a language whose letters are truly distinct."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tts_ebm.audio import SAMPLE_RATE, MelSpectrogram
from tts_ebm.data.toy import (
    TOY_ALPHABET,
    default_toy_cache_dir,
    make_toy_corpus,
    synthesize_toy,
    toy_durations,
)

HOP = 256
PAUSES = " ."


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _metadata(root: Path) -> list[list[str]]:
    return [line.split("|") for line in (root / "metadata.csv").read_text().splitlines()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_toy_corpus(tmp_path_factory.mktemp("toy"), n_utterances=40, seed=0)


@pytest.fixture(scope="module")
def segment_frames(corpus: Path) -> dict[str, np.ndarray]:
    """Log-mel frames from the interior of every segment, by symbol.

    A frame's 1024-sample window reaches two hops either side, so pauses keep only the frames
    whose window lies wholly inside them and letters drop one edge frame each side.
    """
    mel = MelSpectrogram()
    durations = toy_durations()
    frames: dict[str, list[np.ndarray]] = {c: [] for c in durations}
    for utt_id, text, _ in _metadata(corpus):
        wav, _ = sf.read(corpus / "wavs" / f"{utt_id}.wav", dtype="float32")
        spec = mel(torch.from_numpy(wav)).numpy()
        start = 0
        for symbol in text:
            n = durations[symbol]
            edge = 2 if symbol in PAUSES else 1
            frames[symbol].extend(spec[:, start + edge : start + n - edge].T)
            start += n
    return {c: np.array(v) for c, v in frames.items()}


def test_alphabet_and_durations() -> None:
    assert re.fullmatch(r"[a-z]{8,10}", TOY_ALPHABET)
    assert len(set(TOY_ALPHABET)) == len(TOY_ALPHABET)
    durations = toy_durations()
    assert set(durations) == set(TOY_ALPHABET + PAUSES)
    letter_frames = [durations[c] for c in TOY_ALPHABET]
    assert min(letter_frames) >= 4 and max(letter_frames) <= 12
    assert len(set(letter_frames)) >= 6  # durations must vary for alignment to mean something


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    first = _files(make_toy_corpus(tmp_path / "a", n_utterances=8, seed=3))
    assert first == _files(make_toy_corpus(tmp_path / "b", n_utterances=8, seed=3))
    other = _files(make_toy_corpus(tmp_path / "c", n_utterances=8, seed=4))
    assert other["metadata.csv"] != first["metadata.csv"]
    assert other["wavs/toy_00000.wav"] != first["wavs/toy_00000.wav"]


def test_cache_is_reused_and_rebuilt_on_change(tmp_path: Path) -> None:
    root = make_toy_corpus(tmp_path, n_utterances=6, seed=0)
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    assert make_toy_corpus(tmp_path, n_utterances=6, seed=0) == root
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == stamps

    texts = [row[1] for row in _metadata(root)]
    make_toy_corpus(tmp_path, n_utterances=4, seed=0)
    assert [row[1] for row in _metadata(root)] == texts[:4]  # utterance i ignores the size
    assert sorted(p.name for p in (root / "wavs").iterdir()) == [
        f"toy_{i:05d}.wav" for i in range(4)
    ]


def test_half_built_corpus_is_rebuilt(tmp_path: Path) -> None:
    root = make_toy_corpus(tmp_path, n_utterances=3, seed=0)
    (root / "metadata.csv").unlink()
    (root / "wavs" / "toy_00001.wav").write_bytes(b"truncated")
    make_toy_corpus(tmp_path, n_utterances=3, seed=0)
    assert sf.info(root / "wavs" / "toy_00001.wav").samplerate == SAMPLE_RATE
    assert len(_metadata(root)) == 3


def test_metadata_format(corpus: Path) -> None:
    word = f"[{TOY_ALPHABET}]{{2,5}}"
    rows = _metadata(corpus)
    assert [row[0] for row in rows] == [f"toy_{i:05d}" for i in range(40)]
    for _, raw, normalized in rows:
        assert raw == normalized
        assert re.fullmatch(rf"{word}( {word}){{1,5}}\.", raw), raw
    assert not list(corpus.rglob(".*"))  # no temporary files left behind


def test_audio_format_and_length(corpus: Path) -> None:
    durations = toy_durations()
    mel = MelSpectrogram()
    for utt_id, text, _ in _metadata(corpus)[:10]:
        path = corpus / "wavs" / f"{utt_id}.wav"
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
        n_frames = sum(durations[c] for c in text)
        assert info.frames == n_frames * HOP
        wav, _ = sf.read(path, dtype="float32")
        assert mel(torch.from_numpy(wav)).shape == (80, n_frames)
        assert 0.25 < np.abs(wav).max() < 0.6


def test_letters_are_distinct_in_the_mel(segment_frames: dict[str, np.ndarray]) -> None:
    letters = list(TOY_ALPHABET)
    means = np.stack([segment_frames[c].mean(axis=0) for c in letters])
    deviation = [segment_frames[c] - means[i] for i, c in enumerate(letters)]
    spread = np.array([np.sqrt((d**2).sum(axis=1).mean()) for d in deviation])
    distance = np.linalg.norm(means[:, None] - means[None], axis=-1)
    off_diagonal = ~np.eye(len(letters), dtype=bool)
    assert np.all(distance[off_diagonal] > 1.5 * (spread[:, None] + spread[None])[off_diagonal])

    # Nearly every interior frame is nearest to its own letter's mean.
    frames = np.concatenate([segment_frames[c] for c in letters])
    labels = np.concatenate([np.full(len(segment_frames[c]), i) for i, c in enumerate(letters)])
    nearest = np.linalg.norm(frames[:, None] - means[None], axis=-1).argmin(axis=1)
    assert (nearest == labels).mean() > 0.99


def test_pauses_are_quiet(segment_frames: dict[str, np.ndarray]) -> None:
    def loudness(frames: np.ndarray) -> np.ndarray:
        """Log of the total mel energy of each frame, in nats."""
        return np.log(np.exp(2 * frames).sum(axis=1)) / 2

    quietest_letter = min(loudness(segment_frames[c]).mean() for c in TOY_ALPHABET)
    for pause in PAUSES:
        assert loudness(segment_frames[pause]).max() < quietest_letter - 3.0


def test_synthesize_rejects_foreign_symbols() -> None:
    with pytest.raises(ValueError, match="outside"):
        synthesize_toy("hello, world.", np.random.default_rng(0))


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TTS_EBM_CACHE", str(tmp_path))
    assert default_toy_cache_dir() == tmp_path / "toy"
    monkeypatch.delenv("TTS_EBM_CACHE")
    assert default_toy_cache_dir() == Path.home() / ".cache" / "tts-ebm" / "toy"
