"""Versioned symbol tables: the mapping from phone/character symbols to embedding ids.

A table is part of a trained model: its order fixes which embedding row means which symbol.
Tables are therefore FROZEN once published — never reorder, never insert. A new symbol means a
new version (append-only copy under the same name), and checkpoints store the full table so an
old model keeps decoding correctly.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BLANK",
    "CHARS_V1",
    "IPA_V1",
    "PAD",
    "PUNCTUATION",
    "SymbolTable",
    "symbol_table",
]

PAD = "_"
BLANK = "<blk>"
PUNCTUATION = "!'\",-.:;?"


@dataclass(frozen=True)
class SymbolTable:
    """An ordered symbol inventory; index 0 is padding, index 1 the interspersed blank."""

    name: str
    version: int
    symbols: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.symbols[:2] != (PAD, BLANK):
            raise ValueError(
                f"symbol table {self.name} v{self.version} must start with {PAD!r}, {BLANK!r}"
            )
        duplicates = [s for s, n in Counter(self.symbols).items() if n > 1]
        if duplicates:
            raise ValueError(f"symbol table {self.name} v{self.version} repeats {duplicates}")

    @functools.cached_property
    def id_of(self) -> dict[str, int]:
        """Symbol -> id."""
        return {symbol: i for i, symbol in enumerate(self.symbols)}

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def blank_id(self) -> int:
        return 1

    def __len__(self) -> int:
        return len(self.symbols)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, stored in checkpoints so they are self-describing."""
        return {"name": self.name, "version": self.version, "symbols": list(self.symbols)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SymbolTable:
        return cls(name=str(d["name"]), version=int(d["version"]), symbols=tuple(d["symbols"]))


_PHONE_LETTERS = tuple("abcdefghijklmnopqrstuvwxyz")
# Everything espeak-ng 1.52 emits for English (en-us, en-gb, en-gb-x-rp, en-029, checked on the
# LJSpeech transcripts and on loan words), plus the rest of the common IPA inventory, so that a
# different English voice or an unusual name does not silently lose phones.
_IPA_VOWELS = tuple("æɐɑɒɔəɘɚɛɜɝɞɤɨɪɵɯʉʊʌʏøœɶᵻ")
_IPA_CONSONANTS = tuple("βçðħŋɓɕɖɟɡɣɦɫɬɭɮɰɱɲɳɸɹɺɻɽɾʀʁʂʃʈʋʍʎʐʑʒʔʕʝχθʙʜʟɢɴ")
_IPA_LIGATURES = tuple("ʦʣʧʤ")
_IPA_MARKS = (
    "ˈ",  # primary stress
    "ˌ",  # secondary stress
    "ː",  # long
    "ˑ",  # half-long
    "\u0329",  # syllabic (n̩)
    "\u0303",  # nasalised (ɑ̃)
    "\u032a",  # dental (t̪, en-029)
    "\u032f",  # non-syllabic
    "\u0361",  # tie bar (espeak's tie option: d͡ʒ)
    "‿",  # linking undertie
    "ʰ",  # aspirated
    "ʲ",  # palatalised
    "ʷ",  # labialised
    "˞",  # rhotic hook
)

IPA_V1 = SymbolTable(
    name="ipa",
    version=1,
    symbols=(
        PAD,
        BLANK,
        " ",
        *PUNCTUATION,
        *_PHONE_LETTERS,
        *_IPA_VOWELS,
        *_IPA_CONSONANTS,
        *_IPA_LIGATURES,
        *_IPA_MARKS,
    ),
)

CHARS_V1 = SymbolTable(
    name="chars",
    version=1,
    symbols=(PAD, BLANK, " ", *PUNCTUATION, *"abcdefghijklmnopqrstuvwxyz"),
)

_TABLES: dict[str, tuple[SymbolTable, ...]] = {
    "ipa": (IPA_V1,),
    "chars": (CHARS_V1,),
}


def symbol_table(name: str, version: int | None = None) -> SymbolTable:
    """The published table ``name`` at ``version`` (the latest when None)."""
    if name not in _TABLES:
        raise KeyError(f"unknown symbol table {name!r}; known: {', '.join(_TABLES)}")
    versions = _TABLES[name]
    if version is None:
        return versions[-1]
    for table in versions:
        if table.version == version:
            return table
    known = ", ".join(str(t.version) for t in versions)
    raise KeyError(f"symbol table {name!r} has no version {version}; known versions: {known}")
