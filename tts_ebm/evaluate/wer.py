"""Word and character error rates: our own Levenshtein distance, one normalisation for both sides.

Both the reference text and the recogniser's hypothesis go through :func:`scoring_words`: the
project's ``normalize_text`` (numbers, abbreviations, symbols → words, so "$42" in a transcript
matches "forty two dollars" from a recogniser), then lower case, and everything but letters,
digits and word-internal apostrophes becomes a space. WER counts word substitutions, deletions
and insertions over the number of reference words; CER does the same over the characters of the
normalised text with single spaces between words. Corpus rates divide *total* edits by *total*
reference length, so long utterances weigh more than in a mean of per-utterance rates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass

_NOT_WORD = re.compile(r"[^a-z0-9']+")
_ALTERNATIVE = re.compile(r"\(\d+\)")  # pocketsphinx pronunciation variants: read(2)


def edit_distance(reference: Sequence, hypothesis: Sequence) -> int:
    """Levenshtein distance (unit costs for substitution, deletion, insertion)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp in enumerate(hypothesis, start=1):
            current[j] = min(
                previous[j] + 1,  # deletion
                current[j - 1] + 1,  # insertion
                previous[j - 1] + (ref != hyp),  # substitution or match
            )
        previous = current
    return previous[-1]


def scoring_words(text: str) -> list[str]:
    """Words as they are compared: normalised, lower case, no punctuation."""
    from tts_ebm.text import normalize_text

    text = _ALTERNATIVE.sub(" ", text)
    with suppress(ValueError):  # nothing the normaliser can read: score what is left of it
        text = normalize_text(text)
    words = _NOT_WORD.sub(" ", text.lower()).split()
    return [w.strip("'") for w in words if w.strip("'")]


@dataclass(frozen=True)
class ErrorCounts:
    """Edits and reference lengths of one utterance (or a corpus: add them up)."""

    word_edits: int
    words: int
    char_edits: int
    chars: int

    @property
    def wer(self) -> float | None:
        return self.word_edits / self.words if self.words else None

    @property
    def cer(self) -> float | None:
        return self.char_edits / self.chars if self.chars else None

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        return ErrorCounts(
            self.word_edits + other.word_edits,
            self.words + other.words,
            self.char_edits + other.char_edits,
            self.chars + other.chars,
        )


def error_counts(reference: str, hypothesis: str) -> ErrorCounts:
    """Word and character edits of ``hypothesis`` against ``reference`` after normalisation."""
    ref, hyp = scoring_words(reference), scoring_words(hypothesis)
    ref_chars, hyp_chars = " ".join(ref), " ".join(hyp)
    return ErrorCounts(
        edit_distance(ref, hyp), len(ref), edit_distance(ref_chars, hyp_chars), len(ref_chars)
    )
