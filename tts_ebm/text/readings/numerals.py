"""Digits in running text: cardinals, decimals, ordinals, decades, fractions, ranges, telephone
and version numbers.

Each reading is a pattern and a function of its match; ``tts_ebm.text.normalize`` decides the
order in which they apply (``NUM`` and ``MINUS`` are shared with the patterns of money and
units).
"""

from __future__ import annotations

import re

from tts_ebm.text.readings.numbers import (
    cardinal_text,
    decimal_text,
    digits_to_words,
    number_to_words,
    ordinal_to_words,
    plural,
    to_int,
    year_to_words,
)

NUM = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)"
# A minus sign only at the start of a token, so "5-10" and "COVID-19" keep their hyphen.
MINUS = r"(?:(?<![^\s(\[{\"'/])-)"

PHONE_RE = re.compile(r"(?<![\d-])(?:\(\d{3}\)\s?|\d{3}-)?\d{3}-\d{4}(?![\d-])")
DOTTED_RE = re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}(?![\d])")
RANGE_RE = re.compile(rf"(?<![\w.,-])(?P<a>{NUM})-(?P<b>{NUM})(?![\w.,-])")
ORDINAL_RE = re.compile(rf"\b(?P<int>{NUM})(?:st|nd|rd|th)\b", re.IGNORECASE)
PLURAL_RE = re.compile(r"(?<![\w'])'?(?P<int>\d+)s\b")
FRACTION_RE = re.compile(r"(?<![\d/.])(?P<num>\d+)[/⁄](?P<den>\d+)(?![\d/])")
NUMBER_RE = re.compile(
    rf"(?P<neg>{MINUS})?(?:(?P<int>{NUM})(?:\.(?P<frac>\d+))?|(?<![\w.])\.(?P<bare>\d+))"
)
_DIGIT_RE = re.compile(r"\d")
# Before NFKC, which would turn "3½" into "31⁄2".
_VULGAR_FRACTION_RE = re.compile(r"(\d?)\s*([½⅓⅔¼¾⅛])")
_VULGAR_FRACTIONS = {
    "½": "one half",
    "⅓": "one third",
    "⅔": "two thirds",
    "¼": "one quarter",
    "¾": "three quarters",
    "⅛": "one eighth",
}


def read_phone(m: re.Match[str]) -> str:
    """Telephone numbers are read digit by digit, one pause per group."""
    return ", ".join(digits_to_words(group) for group in re.findall(r"\d+", m[0]))


def read_dotted(m: re.Match[str]) -> str:
    """Version numbers and addresses ("1.2.3"), which would otherwise read as a decimal."""
    return " point ".join(cardinal_text(part) for part in m[0].split("."))


def read_range(m: re.Match[str]) -> str:
    a, b = to_int(m["a"]), to_int(m["b"])
    if len(m["a"]) == 4 and 1000 <= a <= 2099 and len(m["b"]) in (2, 4):
        return f"{year_to_words(a)} to {year_to_words(b) if b >= 1000 else cardinal_text(m['b'])}"
    return f"{number_to_words(a)} to {number_to_words(b)}"


def read_ordinal(m: re.Match[str]) -> str:
    return ordinal_to_words(to_int(m["int"]))


def read_plural(m: re.Match[str]) -> str:
    """Plural numbers: "1980s" -> "nineteen eighties", "'60s" -> "sixties"."""
    n = int(m["int"])
    return plural(year_to_words(n) if len(m["int"]) == 4 else number_to_words(n))


def read_fraction(m: re.Match[str]) -> str:
    num, den = int(m["num"]), int(m["den"])
    if den < 2:
        return f"{number_to_words(num)} over {number_to_words(den)}"
    if den == 2:
        name = "half" if num == 1 else "halves"
    elif den == 4:
        name = "quarter" if num == 1 else "quarters"
    else:
        name = ordinal_to_words(den) + ("" if num == 1 else "s")
    return f"{number_to_words(num)} {name}"


def read_number(m: re.Match[str]) -> str:
    """A plain number; four digits from 1000 to 2099 are read as a year."""
    integer, frac = m["int"], m["frac"] or m["bare"]
    minus = "minus " if m["neg"] else ""
    if not minus and not frac and len(integer) == 4 and 1000 <= int(integer) <= 2099:
        return year_to_words(int(integer))
    return minus + decimal_text(integer, frac)


def _vulgar_fraction(m: re.Match[str]) -> str:
    words = _VULGAR_FRACTIONS[m[2]]
    return f"{m[1]} and {words} " if m[1] else f" {words} "


def expand_vulgar_fractions(text: str) -> str:
    """ "3½" -> "3 and one half"; must run before NFKC folds the character apart."""
    return _VULGAR_FRACTION_RE.sub(_vulgar_fraction, text)


def read_leftover_digits(text: str) -> str:
    """Any digit no rule read (e.g. inside "3:1") is read out on its own rather than dropped."""
    return _DIGIT_RE.sub(lambda m: f" {digits_to_words(m[0])} ", text)
