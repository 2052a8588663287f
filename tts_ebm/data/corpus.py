"""Reading corpora (LJSpeech folders, ``path|text`` filelists) and deterministic splits.

Readers never raise on a bad line: they return it as a :class:`Skipped` entry so callers can
report every problem by id and keep every good utterance. A line that is not UTF-8 and an id
that is not a plain file name (:func:`id_problem`) are bad lines like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Ids name files (wavs/ID.wav, mels/ID.npy, mels/ID.npy.tmp.npy): stay well under the 255-byte
# file name limit of common file systems.
MAX_ID_BYTES = 200


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


def text_lines(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """``(number, line, problem)`` of each non-blank line; ``problem`` says why a line is unusable
    (not UTF-8), so one bad line is reported and skipped instead of refusing the whole file."""
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, "", f"line {number} is not UTF-8 text (byte {raw[exc.start]:#04x})"
            continue
        if number == 1:
            line = line.removeprefix("\ufeff")  # a byte-order mark is not part of the first id
        if line.strip():
            yield number, line, None


def id_problem(utt_id: str) -> str | None:
    """Why ``utt_id`` cannot be an utterance id, or None.

    Ids are joined to the corpus and output folders (``wavs/ID.wav``, ``mels/ID.npy``), so an id
    must be a plain file name: a separator, ``..`` or an absolute path would reach other files.
    """
    if not utt_id:
        return "empty id"
    if utt_id in (".", "..") or "/" in utt_id or "\\" in utt_id:
        return f"id {utt_id!r} is not a plain file name (no '/', '\\', '.' or '..')"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in utt_id):
        return f"id {utt_id!r} holds control characters"
    if len(utt_id.encode("utf-8")) > MAX_ID_BYTES:
        return f"id is longer than {MAX_ID_BYTES} bytes"
    return None


def read_ljspeech(corpus_dir: str | Path) -> tuple[list[Utterance], list[Skipped]]:
    """``metadata.csv`` rows ``id|text|normalized``; the normalised column wins when present."""
    corpus_dir = Path(corpus_dir)
    utterances: list[Utterance] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for number, line, problem in text_lines(corpus_dir / "metadata.csv"):
        if problem:
            skipped.append(Skipped(f"line {number}", problem))
            continue
        fields = line.split("|")
        utt_id = fields[0].strip()
        if not utt_id or len(fields) < 2:
            skipped.append(Skipped(f"line {number}", f"malformed line {number}"))
            continue
        text = fields[2].strip() if len(fields) > 2 and fields[2].strip() else fields[1].strip()
        skipped_entry = _check_entry(number, utt_id, text, seen)
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
    for number, line, problem in text_lines(filelist):
        if problem:
            skipped.append(Skipped(f"line {number}", problem))
            continue
        audio, sep, text = line.partition("|")
        if not sep or not audio.strip() or "\0" in audio:  # no file name holds a NUL
            skipped.append(
                Skipped(f"line {number}", f"malformed line {number}: expected path|text")
            )
            continue
        path = Path(audio.strip())
        if not path.is_absolute():
            path = filelist.parent / path
        skipped_entry = _check_entry(number, path.stem, text.strip(), seen)
        if skipped_entry:
            skipped.append(skipped_entry)
            continue
        utterances.append(Utterance(path.stem, path, text.strip()))
    return utterances, skipped


def _check_entry(number: int, utt_id: str, text: str, seen: set[str]) -> Skipped | None:
    problem = id_problem(utt_id)
    if problem:  # reported by line: the id itself may not be printable
        return Skipped(f"line {number}", problem)
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
