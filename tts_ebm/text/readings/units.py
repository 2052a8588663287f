"""Units: percentages and degrees."""

from __future__ import annotations

import re

from tts_ebm.text.readings.numbers import decimal_text
from tts_ebm.text.readings.numerals import MINUS, NUM

PERCENT_RE = re.compile(rf"(?P<neg>{MINUS})?(?P<int>{NUM})?(?:\.(?P<frac>\d+))?\s?%")
_DEGREES = (
    (re.compile(r"\s?°\s?C\b"), " degrees Celsius "),
    (re.compile(r"\s?°\s?F\b"), " degrees Fahrenheit "),
    (re.compile(r"\s?°"), " degrees "),
)


def read_percent(m: re.Match[str]) -> str:
    if not (m["int"] or m["frac"]):
        return "percent"
    minus = "minus " if m["neg"] else ""
    return f"{minus}{decimal_text(m['int'], m['frac'])} percent"


def expand_degrees(text: str) -> str:
    """ "100°F" -> "100 degrees Fahrenheit"."""
    for pattern, words in _DEGREES:
        text = pattern.sub(words, text)
    return text
