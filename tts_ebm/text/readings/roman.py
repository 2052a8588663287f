"""Roman numerals where the context says they are numbers.

After a monarch's or pope's name they are ordinals ("George III" -> "George the Third"); after a
word that numbers its parts ("Chapter IV", "World War II", "Super Bowl LVII") they are cardinals.
A lone "I" is a numeral only after such a word ("Part I", but not "I think"); other capitals stay
as written ("Malcolm X", "Rocky II": a sequel's number or a family's "the Third" cannot be told
apart).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tts_ebm.text.readings.numbers import number_to_words, ordinal_to_words

__all__ = ["expand_roman_numerals"]

_VALID_RE = re.compile(r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})")
_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_COUNTING_WORDS = (
    "Act|Amendment|Appendix|Article|Book|Canto|Chapter|Class|Episode|Grade|Level|Part|Phase"
    r"|Psalm|Round|Scene|Season|Section|Stage|Super Bowl|Title|Type|Vol\.|Volume|World War"
)
_REGNAL_NAMES = (
    "Alexander|Alfonso|Benedict|Boniface|Catherine|Charles|Clement|Constantine|Edward"
    "|Elizabeth|Ferdinand|Francis|Frederick|George|Gregory|Henry|Innocent|Ivan|James|John"
    "|Leo|Louis|Mary|Napoleon|Nicholas|Otto|Paul|Peter|Philip|Pius|Ramses|Richard|Sixtus"
    "|Urban|Wilhelm|William"
)
_END = r"\b"
# A lone "C", "D", "L" or "M" is a letter there ("Appendix C", "Medicare Part D").
_COUNTED_RE = re.compile(rf"\b(?P<word>{_COUNTING_WORDS})\s+(?P<roman>[IVXLCDM]{{2,}}|[IVX]){_END}")
# A lone "V" or "X" followed by a full stop and a name is an initial ("Francis X. Kane").
_REGNAL_RE = re.compile(
    rf"\b(?P<word>{_REGNAL_NAMES})\s+(?P<roman>[IVX]{{2,}}|[VX](?!\.\s+[A-Z])){_END}"
)


def _value(roman: str) -> int | None:
    """The value of a well-formed numeral ("XIV" -> 14); None for other capitals ("IIV")."""
    if not _VALID_RE.fullmatch(roman):
        return None
    values = [_VALUES[c] for c in roman]
    return sum(-v if v < after else v for v, after in zip(values, [*values[1:], 0], strict=True))


def _reader(words_of: Callable[[int], str]) -> Callable[[re.Match[str]], str]:
    """Replace a numeral by ``words_of`` its value, keeping the word before it."""

    def read(m: re.Match[str]) -> str:
        value = _value(m["roman"])
        return m[0] if value is None else f"{m['word']} {words_of(value)}"

    return read


def _regnal(n: int) -> str:
    """3 -> "the Third", as in a monarch's name."""
    return "the " + ordinal_to_words(n).title()


def expand_roman_numerals(text: str) -> str:
    """Read numerals after counting words and regnal names: "Chapter IV" -> "Chapter four",
    "Henry VIII" -> "Henry the Eighth"."""
    text = _COUNTED_RE.sub(_reader(number_to_words), text)
    return _REGNAL_RE.sub(_reader(_regnal), text)
