"""Symbol strings <-> id sequences, with optional Glow-TTS style blank interspersing."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from tts_ebm.text.symbols import SymbolTable

__all__ = ["Tokenizer"]

logger = logging.getLogger(__name__)


class Tokenizer:
    """Encodes one symbol per character; the pad and blank ids are never produced from text.

    With ``add_blank`` a blank goes before, between and after the symbols (blank, s1, blank,
    ..., sn, blank), which gives the aligner a place for transitions (Glow-TTS).
    """

    def __init__(self, table: SymbolTable, add_blank: bool = False) -> None:
        self.table = table
        self.add_blank = add_blank
        # "_" in text is not padding: only real symbols are encodable.
        self._encodable = {s: i for s, i in table.id_of.items() if i > table.blank_id}
        self._warned: set[str] = set()

    @property
    def vocab_size(self) -> int:
        return len(self.table)

    def encode(self, phonemes: str) -> list[int]:
        """Ids for ``phonemes``; unknown symbols are dropped (one warning per symbol)."""
        ids = []
        unknown = []
        for symbol in phonemes:
            i = self._encodable.get(symbol)
            if i is None:
                unknown.append(symbol)
            else:
                ids.append(i)
        new = sorted(set(unknown) - self._warned)
        if new:
            self._warned.update(new)
            logger.warning(
                "dropping symbols not in table %s v%d: %s",
                self.table.name,
                self.table.version,
                ", ".join(f"{s!r} (U+{ord(s):04X})" for s in new),
            )
        if not self.add_blank:
            return ids
        out = [self.table.blank_id] * (2 * len(ids) + 1)
        out[1::2] = ids
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Symbols for ``ids`` (ints, or numpy/torch scalars), skipping pad and blank."""
        skip = (self.table.pad_id, self.table.blank_id)
        return "".join(self.table.symbols[i] for i in map(int, ids) if i not in skip)

    def __repr__(self) -> str:
        return (
            f"Tokenizer({self.table.name} v{self.table.version}, "
            f"vocab_size={self.vocab_size}, add_blank={self.add_blank})"
        )
