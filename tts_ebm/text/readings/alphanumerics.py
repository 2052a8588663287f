"""Names made of letters and digits: model and route numbers, and letters glued to a number.

Three digits after capitals are said in pairs, as model and interstate numbers are ("F-150" ->
"F-one fifty", "A380" -> "A-three eighty", "I-405" -> "I-four oh five"), a lone capital before
one or two digits takes a hyphen ("A1" -> "A-one", "B12" -> "B-twelve"): the hyphen keeps a lone
"A" a letter for espeak, not the article. A letter glued after a number is a capital letter
("1080p" -> "1080P", read "ten eighty P"; "4k" -> "4K"), and "401(k)" is "four oh one K". Two
digits or fewer are read as a number already ("B-52" -> "B-fifty two", "AK-47").
"""

from __future__ import annotations

import re

from tts_ebm.text.readings.numbers import paired_to_words

__all__ = ["expand_alphanumerics"]

_MODEL_RE = re.compile(r"\b(?P<letters>[A-Z]{1,3})-?(?P<num>[1-9]\d{2})\b(?![.,]\d|-\d)")
_PLAN_RE = re.compile(r"\b(?P<num>\d{3})\(k\)", re.IGNORECASE)
# A lone capital glued before one or two digits takes a hyphen ("A1" -> "A-1", read "A-one"), as
# "B-52" has: espeak reads a lone "A" as the article.
_LETTER_NUMBER_RE = re.compile(r"\b(?P<letter>[A-Z])(?P<num>\d{1,2})\b(?![.,]\d)")
# Not "s" (a plural, "1990s") nor "x" (a dimension or a product, read before).
_GLUED_LETTER_RE = re.compile(r"(?<=\d)(?P<letter>[a-rt-wyz])\b(?!['.-]\w)")


def expand_alphanumerics(text: str) -> str:
    """Read model numbers in pairs and say glued letters as letters."""
    text = _PLAN_RE.sub(lambda m: f"{paired_to_words(m['num'])} K", text)
    text = _MODEL_RE.sub(lambda m: f"{m['letters']}-{paired_to_words(m['num'])}", text)
    text = _LETTER_NUMBER_RE.sub(r"\g<letter>-\g<num>", text)
    return _GLUED_LETTER_RE.sub(lambda m: m["letter"].upper(), text)
