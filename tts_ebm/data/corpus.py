"""Reading corpora (LJSpeech folders, ``path|text`` filelists) and deterministic splits.

Readers never raise on a bad line: they return it as a :class:`Skipped` entry so callers can
report every problem by id and keep every good utterance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class CorpusError(ValueError):
    """A corpus that cannot be read at all (as opposed to a bad line, which is skipped)."""


@dataclass(frozen=True)
class Utterance:
    id: str
    audio_path: Path
    text: str


@dataclass(frozen=True)
class Skipped:
    """One unusable corpus entry and the reason, in words a user can act on."""

    id: str
    reason: str


def read_corpus(source: str | Path) -> tuple[list[Utterance], list[Skipped]]:
    """An LJSpeech-format folder (``metadata.csv`` + ``wavs/``) or a ``path|text`` filelist."""
    source = Path(source)
    if source.is_dir():
        metadata = source / "metadata.csv"
        if not metadata.is_file():
            raise CorpusError(
                f"{source} has no metadata.csv; expected an LJSpeech-format folder "
                "(metadata.csv with id|text|normalized text, and wavs/ID.wav) or a filelist"
            )
        return read_ljspeech(source)
    if source.is_file():
        return read_filelist(source)
    raise CorpusError(f"corpus not found: {source}")


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path} is not UTF-8 text: {exc}") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line.rstrip("\r\n")


def read_ljspeech(corpus_dir: str | Path) -> tuple[list[Utterance], list[Skipped]]:
    """``metadata.csv`` rows ``id|text|normalized``; the normalised column wins when present."""
    corpus_dir = Path(corpus_dir)
    utterances: list[Utterance] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for number, line in _lines(corpus_dir / "metadata.csv"):
        fields = line.split("|")
        utt_id = fields[0].strip()
        if not utt_id or len(fields) < 2:
            skipped.append(Skipped(utt_id or f"line {number}", f"malformed line {number}"))
            continue
        text = fields[2].strip() if len(fields) > 2 and fields[2].strip() else fields[1].strip()
        skipped_entry = _check_entry(utt_id, text, seen)
        if skipped_entry:
            skipped.append(skipped_entry)
            continue
        utterances.append(Utterance(utt_id, corpus_dir / "wavs" / f"{utt_id}.wav", text))
    return utterances, skipped


def read_filelist(filelist: str | Path) -> tuple[list[Utterance], list[Skipped]]:
    """``path|text`` lines; relative paths are relative to the filelist; id = file stem."""
    filelist = Path(filelist)
    utterances: list[Utterance] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for number, line in _lines(filelist):
        audio, sep, text = line.partition("|")
        if not sep or not audio.strip():
            skipped.append(
                Skipped(f"line {number}", f"malformed line {number}: expected path|text")
            )
            continue
        path = Path(audio.strip())
        if not path.is_absolute():
            path = filelist.parent / path
        skipped_entry = _check_entry(path.stem, text.strip(), seen)
        if skipped_entry:
            skipped.append(skipped_entry)
            continue
        utterances.append(Utterance(path.stem, path, text.strip()))
    return utterances, skipped


def _check_entry(utt_id: str, text: str, seen: set[str]) -> Skipped | None:
    if utt_id in seen:
        return Skipped(utt_id, "duplicate id")
    seen.add(utt_id)
    if not text:
        return Skipped(utt_id, "empty transcript")
    return None


def split_ids(
    ids: Sequence[str], val_size: int, seed: int = 0, fixed_val: Iterable[str] | None = None
) -> tuple[list[str], list[str]]:
    """Deterministic train/val split: the same ids and seed give the same split on any machine.

    ``fixed_val`` (e.g. a corpus's standard validation list) overrides the random draw.
    """
    ordered = sorted(ids)
    if fixed_val is not None:
        wanted = set(fixed_val)
        val = [i for i in ordered if i in wanted]
    else:
        if len(ordered) < 2:
            return ordered, []
        size = min(val_size, max(1, len(ordered) // 10)) if val_size > 0 else 0
        order = np.random.default_rng(seed).permutation(len(ordered))
        val = sorted(ordered[i] for i in order[:size])
    val_set = set(val)
    return [i for i in ordered if i not in val_set], val
