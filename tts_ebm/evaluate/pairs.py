"""Which synthesised wav goes with which reference, and what each utterance should say.

Files are paired by stem (``ID.wav`` ↔ ``ID.wav``): the one convention every corpus recipe and
``tts-ebm synthesize --file`` already follow. Transcripts come from an ``id|text`` list or an
LJSpeech ``metadata.csv`` (``id|raw|normalized``), so evaluation needs no extra bookkeeping.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path


class EvaluationError(ValueError):
    """A problem the user must fix (missing folder, no pairs, missing package); one line."""


@dataclass(frozen=True)
class Pair:
    """One utterance to evaluate: the synthesised wav, its reference and (maybe) its text."""

    id: str
    synth: Path
    reference: Path
    text: str | None = None


@dataclass
class Pairing:
    """Pairs found, and the ids present on one side only (reported, never silently dropped)."""

    pairs: list[Pair]
    synth_only: list[str] = field(default_factory=list)
    reference_only: list[str] = field(default_factory=list)

    def describe_unpaired(self, shown: int = 5) -> list[str]:
        """One line per side with unpaired ids: the count and the first few."""
        lines = []
        for side, ids in (("synthesised", self.synth_only), ("reference", self.reference_only)):
            if ids:
                head = ", ".join(ids[:shown]) + (", ..." if len(ids) > shown else "")
                lines.append(f"{len(ids)} {side} wavs have no counterpart: {head}")
        return lines


def wav_dir(path: Path, role: str) -> Path:
    """The folder holding the wavs: ``path`` itself, or ``path/wavs`` for an LJSpeech root."""
    if not path.is_dir():
        raise EvaluationError(f"{role} folder not found: {path}")
    if not any(path.glob("*.wav")) and (path / "wavs").is_dir():
        return path / "wavs"
    return path


def list_wavs(path: Path, role: str) -> dict[str, Path]:
    """``{stem: path}`` of the wavs of a folder (see :func:`wav_dir`)."""
    folder = wav_dir(path, role)
    return {p.stem: p for p in sorted(folder.glob("*.wav"))}


def read_transcripts(path: Path) -> dict[str, str]:
    """``id|text`` lines (or LJSpeech ``id|raw|normalized``, which uses the normalised column).

    Blank lines are ignored; lines without an id are reported on stderr and skipped, so one bad
    line does not lose a whole list.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvaluationError(f"cannot read transcripts {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise EvaluationError(f"transcripts {path} are not UTF-8 text: {exc.reason}") from exc
    texts: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) < 2 or not parts[0]:
            print(f"{path}:{number}: skipped: not an 'id|text' line", file=sys.stderr)
            continue
        text = parts[2] if len(parts) > 2 and parts[2] else parts[1]
        texts[parts[0]] = text
    return texts


def find_transcripts(references: Path, texts: Path | None) -> dict[str, str]:
    """``--texts`` when given, else ``metadata.csv`` beside or above the reference wavs, else {}."""
    if texts is not None:
        if not texts.is_file():
            raise EvaluationError(f"transcript file not found: {texts}")
        return read_transcripts(texts)
    for candidate in (references / "metadata.csv", references.parent / "metadata.csv"):
        if candidate.is_file():
            return read_transcripts(candidate)
    return {}


def pair_folders(synth: Path, references: Path, texts: dict[str, str] | None = None) -> Pairing:
    """Pairs by file stem, sorted by id; unpaired ids of both sides are kept for the report."""
    synth_wavs = list_wavs(synth, "synthesised-speech")
    reference_wavs = list_wavs(references, "reference")
    texts = texts or {}
    common = sorted(synth_wavs.keys() & reference_wavs.keys())
    return Pairing(
        pairs=[Pair(i, synth_wavs[i], reference_wavs[i], texts.get(i)) for i in common],
        synth_only=sorted(synth_wavs.keys() - reference_wavs.keys()),
        reference_only=sorted(reference_wavs.keys() - synth_wavs.keys()),
    )
