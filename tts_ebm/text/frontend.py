"""The text front end: raw text -> normalised words -> phonemes -> ids, in one object.

The same front end is used for training transcripts and for synthesis, and its config is stored
in checkpoints, so a model always reads text the way it was trained to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, overload

from tts_ebm.text.normalize import normalize_text, split_sentences
from tts_ebm.text.phonemize import PHONEMIZER_KINDS, make_phonemizer
from tts_ebm.text.symbols import SymbolTable, symbol_table
from tts_ebm.text.tokenizer import Tokenizer
from tts_ebm.text.validate import EmptyTextError, NotLanguageError

__all__ = ["EmptyTextError", "FrontendOutput", "TextFrontend"]

_CONFIG_KEYS = ("kind", "add_blank", "language", "symbol_table")


@dataclass
class FrontendOutput:
    normalized: str
    phonemes: str
    ids: list[int]


def _nothing_to_pronounce(text: str, index: int | None) -> EmptyTextError:
    shown = text if len(text) <= 80 else text[:77] + "..."
    where = "" if index is None else f" (item {index})"
    return EmptyTextError(f"text{where} has nothing to pronounce after normalisation: {shown!r}")


class TextFrontend:
    """Normalise, phonemise ("ipa" via espeak-ng, or "chars") and tokenise English text."""

    def __init__(
        self,
        kind: str = "ipa",
        add_blank: bool = True,
        language: str = "en-us",
        *,
        symbols_version: int | None = None,
    ) -> None:
        if kind not in PHONEMIZER_KINDS:
            raise ValueError(f"unknown front end kind {kind!r}; choose one of {PHONEMIZER_KINDS}")
        self.kind = kind
        self.add_blank = add_blank
        self.language = language
        self.symbols: SymbolTable = symbol_table(kind, symbols_version)
        self.phonemizer = make_phonemizer(kind, language)
        self.tokenizer = Tokenizer(self.symbols, add_blank=add_blank)

    def process(self, text: str) -> FrontendOutput:
        """One text (any length) to ids; raises EmptyTextError if nothing can be said."""
        return self.process_many([text])[0]

    @overload
    def process_many(
        self, texts: list[str], skip_empty: Literal[False] = False
    ) -> list[FrontendOutput]: ...

    @overload
    def process_many(self, texts: list[str], skip_empty: bool) -> list[FrontendOutput | None]: ...

    def process_many(
        self, texts: list[str], skip_empty: bool = False
    ) -> list[FrontendOutput] | list[FrontendOutput | None]:
        """Many texts at once: every sentence of every text goes to the phonemiser in one call.

        An item with nothing to pronounce, or that is not language at all (NotLanguageError),
        raises EmptyTextError, or becomes None when ``skip_empty`` (so one bad transcript does
        not sink a whole corpus).
        """
        normalized = [self._normalize(text, skip_empty) for text in texts]
        sentences: list[list[str]] = []
        for i, norm in enumerate(normalized):
            speakable = any(c.isalpha() for c in norm)
            if not speakable and not skip_empty:
                raise _nothing_to_pronounce(texts[i], i if len(texts) > 1 else None)
            sentences.append(split_sentences(norm) if speakable else [])
        phones = self.phonemizer([s for group in sentences for s in group])

        out: list[FrontendOutput | None] = []
        start = 0
        for i, group in enumerate(sentences):
            phonemes = " ".join(p for p in phones[start : start + len(group)] if p)
            start += len(group)
            ids = self.tokenizer.encode(phonemes)
            if all(j <= self.symbols.blank_id for j in ids):
                if not skip_empty:
                    raise _nothing_to_pronounce(texts[i], i if len(texts) > 1 else None)
                out.append(None)
            else:
                out.append(FrontendOutput(normalized[i], phonemes, ids))
        return out

    @staticmethod
    def _normalize(text: str, skip_empty: bool) -> str:
        """``normalize_text``, or "" (nothing to pronounce) for refused text when skipping."""
        try:
            return normalize_text(text)
        except NotLanguageError:
            if not skip_empty:
                raise
            return ""

    def to_config(self) -> dict[str, Any]:
        """Everything needed to rebuild this front end exactly (stored in checkpoints)."""
        return {
            "kind": self.kind,
            "add_blank": self.add_blank,
            "language": self.language,
            "symbol_table": self.symbols.to_dict(),
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TextFrontend:
        """Rebuild from ``to_config()``; refuses a symbol list that differs from the published
        table it names, since the ids would then mean different symbols than in training."""
        missing = [key for key in _CONFIG_KEYS if key not in config]
        if missing:
            raise ValueError(f"text front end config lacks {missing}; expected keys {_CONFIG_KEYS}")
        stored = SymbolTable.from_dict(config["symbol_table"])
        kind = str(config["kind"])
        if stored.name != kind:
            raise ValueError(f"front end kind {kind!r} does not match symbol table {stored.name!r}")
        try:
            published = symbol_table(stored.name, stored.version)
        except KeyError as err:
            raise ValueError(
                f"{err.args[0]} (was this checkpoint written by a newer tts_ebm?)"
            ) from None
        if stored.symbols != published.symbols:
            raise ValueError(
                f"symbol list in config differs from published table {stored.name} "
                f"v{stored.version}: {_first_difference(stored.symbols, published.symbols)}"
            )
        return cls(
            kind=kind,
            add_blank=bool(config["add_blank"]),
            language=str(config["language"]),
            symbols_version=stored.version,
        )

    def __repr__(self) -> str:
        return (
            f"TextFrontend(kind={self.kind!r}, add_blank={self.add_blank}, "
            f"language={self.language!r}, symbols={self.symbols.name} v{self.symbols.version})"
        )


def _first_difference(got: tuple[str, ...], expected: tuple[str, ...]) -> str:
    for i, (a, b) in enumerate(zip(got, expected, strict=False)):
        if a != b:
            return f"index {i} is {a!r}, expected {b!r}"
    return f"{len(got)} symbols, expected {len(expected)}"
