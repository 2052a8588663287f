"""Plant known defects in a clean LJSpeech-format corpus, so a scorer can be measured.

Each defect kind takes its own share of utterances, chosen at random (seeded) and disjoint; the
pair is changed in place (same id), and ``labels.tsv`` says what was done to whom (``clean`` for
the rest). The kinds are the slips a real corpus holds: a transcript of another sentence, one
word deleted or replaced, the audio cut short (by 30 %, at the end), a second clip run on,
noise at 5 dB SNR, and the same text read by another speaker (a second festival voice).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tts_ebm.audio import SAMPLE_RATE, load_audio, save_wav
from tts_ebm.data.corpus import Utterance, read_corpus
from tts_ebm.files import write_atomic

KINDS = (
    "transcript_swap",
    "word_deleted",
    "word_replaced",
    "cut",
    "appended",
    "noise",
    "other_voice",
)
CLEAN = "clean"
LABELS = "labels.tsv"
SETTINGS = "planting.json"
CUT_SHARE = 0.3
SNR_DB = 5.0
_WORD = re.compile(r"[A-Za-z]{4,}")  # a word worth deleting or replacing: four letters or more


@dataclass(frozen=True)
class Planted:
    id: str
    kind: str  # one of KINDS, or CLEAN
    detail: str


def with_noise(wav: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``wav`` plus white Gaussian noise whose power is ``snr_db`` below the clip's mean power."""
    power = float(np.mean(np.square(wav, dtype=np.float64)))
    noise = rng.standard_normal(len(wav)) * np.sqrt(power / 10 ** (snr_db / 10))
    return (wav + noise).astype(np.float32)


def _word_positions(words: Sequence[str]) -> list[int]:
    return [i for i, w in enumerate(words) if _WORD.search(w)]


def delete_word(text: str, rng: np.random.Generator) -> tuple[str, str]:
    """``text`` without one of its words of four letters or more; and which."""
    words = text.split()
    positions = _word_positions(words) or list(range(len(words)))
    k = int(rng.choice(positions))
    return " ".join(words[:k] + words[k + 1 :]), f"deleted {words[k]!r}"


def replace_word(text: str, donor: str, rng: np.random.Generator) -> tuple[str, str]:
    """``text`` with one word of four letters or more replaced by a different word of
    ``donor``'s (punctuation around it kept)."""
    words = text.split()
    positions = _word_positions(words) or list(range(len(words)))
    k = int(rng.choice(positions))
    old = _WORD.search(words[k])
    candidates = [
        m.group(0)
        for m in _WORD.finditer(donor)
        if old is None or m.group(0).lower() != old.group(0).lower()
    ] or ["nothing"]
    new = str(rng.choice(candidates))
    words[k] = _WORD.sub(new, words[k], count=1) if old else new
    return " ".join(words), f"{old.group(0) if old else words[k]!r} -> {new!r}"


def _other_voice_wavs(utterances: list[Utterance], voice: str, work: Path) -> dict[str, Path]:
    """The texts of ``utterances`` read by festival voice ``voice`` (resumable in ``work``)."""
    from tts_ebm.data.festival import build_corpus

    work.mkdir(parents=True, exist_ok=True)
    listing = work / "sentences.txt"
    listing.write_text("".join(f"{u.id}|{u.text}\n" for u in utterances), encoding="utf-8")
    report = build_corpus([listing], work / "corpus", jobs=1, voice=voice)
    if report.failed:
        first = next(iter(report.failed.items()))
        raise RuntimeError(f"festival voice {voice} failed on {first[0]}: {first[1]}")
    return {u.id: work / "corpus" / "wavs" / f"{u.id}.wav" for u in utterances}


def plant_defects(
    corpus: str | Path,
    out_dir: str | Path,
    *,
    kinds: Sequence[str] = KINDS,
    per_kind: int = 12,
    seed: int = 0,
    other_voice: str = "kal_diphone",
) -> list[Planted]:
    """Write ``out_dir`` (metadata.csv, wavs/, ``labels.tsv``) from the clean ``corpus``; a
    folder already planted with the same settings is reused. Returns the labels."""
    corpus, out_dir = Path(corpus), Path(out_dir)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown defect kind(s) {unknown}: choose from {', '.join(KINDS)}")
    settings = {
        "corpus": str(corpus.resolve()),
        "kinds": list(kinds),
        "per_kind": per_kind,
        "seed": seed,
        "other_voice": other_voice,
    }
    settings_file, labels_file = out_dir / SETTINGS, out_dir / LABELS
    if (
        settings_file.is_file()
        and labels_file.is_file()
        and json.loads(settings_file.read_text()) == settings
    ):
        return read_labels(labels_file)
    utterances, _ = read_corpus(corpus)
    if per_kind < 1 or per_kind * len(kinds) >= len(utterances):
        raise ValueError(
            f"{len(kinds)} kinds × {per_kind} defects need more than {per_kind * len(kinds)} "
            f"utterances; {corpus} has {len(utterances)}"
        )
    rng = np.random.default_rng(seed)
    order = [utterances[i] for i in rng.permutation(len(utterances))]
    chosen = {kind: order[n * per_kind : (n + 1) * per_kind] for n, kind in enumerate(kinds)}
    others = (
        _other_voice_wavs(chosen["other_voice"], other_voice, out_dir / "other-voice")
        if "other_voice" in chosen
        else {}
    )
    kind_of = {u.id: kind for kind, group in chosen.items() for u in group}
    wav_dir = out_dir / "wavs"
    wav_dir.mkdir(parents=True, exist_ok=True)
    labels, lines = [], []
    for utt in utterances:
        kind = kind_of.get(utt.id, CLEAN)
        donor = order[int(rng.integers(len(order)))]
        while donor.id == utt.id:
            donor = order[int(rng.integers(len(order)))]
        text, detail = utt.text, ""
        wav = None
        if kind == "transcript_swap":
            text, detail = donor.text, f"text of {donor.id}"
        elif kind == "word_deleted":
            text, detail = delete_word(utt.text, rng)
        elif kind == "word_replaced":
            text, detail = replace_word(utt.text, donor.text, rng)
        elif kind == "cut":
            wav = load_audio(utt.audio_path)
            wav, detail = wav[: int(round(len(wav) * (1 - CUT_SHARE)))], f"last {CUT_SHARE:.0%} cut"
        elif kind == "appended":
            wav = np.concatenate([load_audio(utt.audio_path), load_audio(donor.audio_path)])
            detail = f"audio of {donor.id} appended"
        elif kind == "noise":
            wav, detail = with_noise(load_audio(utt.audio_path), SNR_DB, rng), f"{SNR_DB:g} dB SNR"
        elif kind == "other_voice":
            wav, detail = load_audio(others[utt.id]), f"read by festival {other_voice}"
        target = wav_dir / f"{utt.id}.wav"
        if wav is None:
            shutil.copyfile(utt.audio_path, target)
        else:
            save_wav(target, wav, SAMPLE_RATE)
        lines.append(f"{utt.id}|{text}\n")
        labels.append(Planted(utt.id, kind, detail))
    (out_dir / "metadata.csv").write_text("".join(lines), encoding="utf-8")
    write_labels(labels, out_dir / LABELS)
    (out_dir / SETTINGS).write_text(json.dumps(settings, indent=2) + "\n")
    return labels


def write_labels(labels: list[Planted], path: Path) -> None:
    rows = "".join(f"{p.id}\t{p.kind}\t{p.detail}\n" for p in labels)
    write_atomic(path, "id\tkind\tdetail\n" + rows)


def read_labels(path: Path) -> list[Planted]:
    _, *lines = path.read_text(encoding="utf-8").splitlines()
    return [Planted(*line.split("\t", 2)) for line in lines]
