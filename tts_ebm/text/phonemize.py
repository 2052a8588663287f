"""Phonemisers: normalised text -> the symbol strings the tokenizer encodes.

Two interchangeable front ends share one protocol: espeak-ng IPA (better pronunciation, needs
the bundled espeak-ng library) and plain characters (no dependency, the model learns spelling).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tts_ebm.text.readings.characters import strip_accents

if TYPE_CHECKING:
    from phonemizer.backend import EspeakBackend

__all__ = [
    "PHONEMIZER_KINDS",
    "CharacterPhonemizer",
    "EspeakPhonemizer",
    "Phonemizer",
    "make_phonemizer",
]

PHONEMIZER_KINDS = ("ipa", "chars")

_WHITESPACE_RE = re.compile(r"\s+")
# phonemizer logs a "words count mismatch" summary whenever punctuation splits a line; it is
# expected with preserve_punctuation and not actionable, so only errors get through by default.
_ESPEAK_LOG = logging.getLogger(__name__ + ".espeak")
_ESPEAK_LOG.setLevel(logging.ERROR)


@runtime_checkable
class Phonemizer(Protocol):
    """Maps a batch of normalised texts to symbol strings, one per input, in order."""

    name: str

    def __call__(self, texts: list[str]) -> list[str]: ...


@functools.cache
def _use_bundled_espeak() -> None:
    """Point phonemizer at espeakng-loader's espeak-ng 1.52 (library and voice data), so the
    phone set does not depend on whatever espeak the system happens to have."""
    import espeakng_loader
    from phonemizer.backend.espeak.wrapper import EspeakWrapper

    EspeakWrapper.set_library(espeakng_loader.get_library_path())
    EspeakWrapper.set_data_path(espeakng_loader.get_data_path())


class EspeakPhonemizer:
    """IPA with stress marks and sentence punctuation from espeak-ng.

    The backend is built on first use and reused; all texts of a call go to espeak in one
    batch, which is what makes long documents fast.
    """

    name = "ipa"

    def __init__(self, language: str = "en-us") -> None:
        self.language = language
        self._backend: EspeakBackend | None = None
        self._lock = threading.Lock()

    def _get_backend(self) -> EspeakBackend:
        if self._backend is None:
            _use_bundled_espeak()
            from phonemizer.backend import EspeakBackend

            self._backend = EspeakBackend(
                self.language,
                preserve_punctuation=True,
                with_stress=True,
                # Loan words would otherwise come out wrapped in "(fr)...(en)" markers.
                language_switch="remove-flags",
                logger=_ESPEAK_LOG,
            )
        return self._backend

    def __call__(self, texts: list[str]) -> list[str]:
        lines = [_WHITESPACE_RE.sub(" ", text).strip() for text in texts]
        # phonemizer silently drops empty lines, which would shift every later output; lines
        # with nothing to say are answered here instead.
        todo = [i for i, line in enumerate(lines) if any(c.isalnum() for c in line)]
        out = [""] * len(lines)
        if not todo:
            return out
        # espeak ignores a spaced hyphen, but keeps an em dash (a pause) as punctuation.
        batch = [lines[i].replace(" - ", " — ") for i in todo]
        with self._lock:  # the espeak library keeps global state
            phones = self._get_backend().phonemize(batch, strip=True)
        if len(phones) != len(batch):
            raise RuntimeError(f"espeak returned {len(phones)} lines for {len(batch)} inputs")
        for i, line in zip(todo, phones, strict=True):
            out[i] = _WHITESPACE_RE.sub(" ", line.replace("—", "-")).strip()
        return out

    def __getstate__(self) -> dict[str, Any]:
        # The ctypes backend and the lock cannot be pickled (DataLoader workers); rebuild lazily.
        return {"language": self.language}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.language = state["language"]
        self._backend = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EspeakPhonemizer(language={self.language!r})"


class CharacterPhonemizer:
    """The character-based alternative: the lower-cased normalised text itself, diacritics
    folded ("Müller" -> "muller"), since the character table has plain letters only."""

    name = "chars"

    def __call__(self, texts: list[str]) -> list[str]:
        return [_WHITESPACE_RE.sub(" ", strip_accents(text)).strip().lower() for text in texts]

    def __repr__(self) -> str:
        return "CharacterPhonemizer()"


def make_phonemizer(kind: str, language: str = "en-us") -> Phonemizer:
    """Build the phonemiser for ``kind`` ("ipa" or "chars"); ``language`` is for espeak."""
    if kind == "ipa":
        return EspeakPhonemizer(language)
    if kind == "chars":
        return CharacterPhonemizer()
    choices = ", ".join(PHONEMIZER_KINDS)
    raise ValueError(f"unknown phonemizer kind {kind!r}; choose one of: {choices}")
