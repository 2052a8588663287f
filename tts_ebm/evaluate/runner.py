"""Evaluate pairs of wavs: every chosen metric family, per utterance, with one progress bar.

:class:`Evaluator` loads each model once (recognisers, MOS predictor) and caches everything that
depends only on a reference file (its WORLD features, its transcription, its MOS), so a step
sweep that scores several systems against the same references analyses them once; with a cache
folder (:mod:`~tts_ebm.evaluate.reference_cache`) separate evaluations share that work too. An
utterance whose audio cannot be read is skipped and reported by id; the others go on.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tts_ebm.audio import AudioError, load_audio, resample
from tts_ebm.evaluate.acoustic import compare
from tts_ebm.evaluate.asr import ASR_RATE, PocketSphinx, Recognizer, Whisper
from tts_ebm.evaluate.mos import MOS_RATE, DistillMOS
from tts_ebm.evaluate.options import EvalOptions
from tts_ebm.evaluate.pairs import EvaluationError, Pair, Pairing
from tts_ebm.evaluate.reference_cache import ReferenceCache
from tts_ebm.evaluate.wer import error_counts, scoring_words
from tts_ebm.evaluate.world import WorldFeatures, analyse

SIDES = ("synth", "ref")


@dataclass
class EvaluationResult:
    """Per-utterance rows (dicts of column → value), skipped ids, and what the run cost."""

    rows: list[dict]
    pairing: Pairing
    options: EvalOptions
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per metric family, total

    @property
    def missing_transcripts(self) -> list[str]:
        if "asr" not in self.options.metrics:
            return []
        return [row["id"] for row in self.rows if row.get("text") is None]


class Evaluator:
    """Metric models loaded once, reference results cached by (path, size, mtime) in memory and,
    with ``reference_cache``, in that folder across runs."""

    def __init__(
        self, options: EvalOptions | None = None, reference_cache: Path | None = None
    ) -> None:
        self.options = options or EvalOptions()
        metrics = self.options.metrics
        self.recognizers: list[Recognizer] = []
        if "asr" in metrics:
            self.recognizers.append(PocketSphinx())
            if self.options.whisper:
                self.recognizers.append(Whisper(self.options.whisper, self.options.device))
        self.mos = DistillMOS(self.options.device) if "mos" in metrics else None
        self.references = ReferenceCache(self.options.world, reference_cache)
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def _timed(self, family: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[family] += time.perf_counter() - start

    def _world(self, wav: np.ndarray) -> WorldFeatures:
        return analyse(wav, self.options.world)

    def evaluate_pair(self, pair: Pair) -> dict:
        """All chosen metrics of one pair as a row; AudioError when a wav cannot be read."""
        metrics, rate = self.options.metrics, self.options.sample_rate
        synth = load_audio(pair.synth, rate)
        reference = load_audio(pair.reference, rate)
        cache = self.references.entry(pair.reference)
        row: dict = {"id": pair.id, "synth_seconds": len(synth) / rate}
        row["reference_seconds"] = len(reference) / rate
        if {"mcd", "f0"} & set(metrics):
            with self._timed("mcd+f0"):
                if "world" not in cache:
                    cache["world"] = self._world(reference)
                scores = compare(self._world(synth), cache["world"])
            row["aligned_frames"] = scores.aligned_frames
            if "mcd" in metrics:
                row["mcd_db"] = scores.mcd_db
            if "f0" in metrics:
                row["f0_rmse_cents"] = scores.f0.rmse_cents
                row["vuv_error"] = scores.f0.vuv_error
                row["voiced_pairs"] = scores.f0.voiced_pairs
        if self.recognizers:
            with self._timed("asr"):
                row.update(self._asr(pair, synth, reference, cache))
        if self.mos is not None:
            with self._timed("mos"):
                if "mos" not in cache:
                    cache["mos"] = self.mos.predict(resample(reference, rate, MOS_RATE))
                row["mos_synth"] = self.mos.predict(resample(synth, rate, MOS_RATE))
                row["mos_ref"] = cache["mos"]
        self.references.save(pair.reference)
        return row

    def _asr(self, pair: Pair, synth: np.ndarray, reference: np.ndarray, cache: dict) -> dict:
        rate = self.options.sample_rate
        row: dict = {"text": " ".join(scoring_words(pair.text)) if pair.text else None}
        audio = {"synth": lambda: resample(synth, rate, ASR_RATE)}
        audio["ref"] = lambda: resample(reference, rate, ASR_RATE)
        for recognizer in self.recognizers:
            for side in SIDES:
                key = f"{recognizer.name}_hyp"
                if side == "ref" and key in cache:
                    hypothesis = cache[key]
                else:
                    hypothesis = recognizer.transcribe(audio[side]())
                    if side == "ref":
                        cache[key] = hypothesis
                prefix = f"{recognizer.name}_{side}"
                row[f"{prefix}_hyp"] = hypothesis
                if pair.text is not None:
                    counts = error_counts(pair.text, hypothesis)
                    row["ref_words"], row["ref_chars"] = counts.words, counts.chars
                    row[f"{prefix}_word_edits"] = counts.word_edits
                    row[f"{prefix}_char_edits"] = counts.char_edits
                    row[f"{prefix}_wer"], row[f"{prefix}_cer"] = counts.wer, counts.cer
        return row

    def evaluate(self, pairing: Pairing, label: str = "evaluate", progress: bool = True):
        """Every pair of ``pairing``; unreadable audio is skipped (and kept in ``skipped``)."""
        if not pairing.pairs:
            raise EvaluationError("no synthesised wav has a reference with the same id")
        if self.recognizers and all(p.text is None for p in pairing.pairs):
            raise EvaluationError(
                "asr needs transcripts: give --texts FILE (id|text lines) or put metadata.csv "
                "beside the references, or leave asr out of --metrics"
            )
        before = dict(self.seconds)
        rows, skipped = [], {}
        with _progress(progress, label, len(pairing.pairs)) as advance:
            for pair in pairing.pairs:
                try:
                    rows.append(self.evaluate_pair(pair))
                except AudioError as exc:
                    skipped[pair.id] = str(exc)
                advance()
        seconds = {k: v - before.get(k, 0.0) for k, v in self.seconds.items()}
        return EvaluationResult(rows, pairing, self.options, skipped, seconds)


@contextmanager
def _progress(show: bool, label: str, total: int) -> Iterator:
    """A rich progress bar on stderr (stdout stays for the results), or nothing."""
    if not show:
        yield lambda: None
        return
    from tts_ebm.progress import count_progress

    with count_progress(stderr=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)
