"""Digits in running text: cardinals, decimals, ordinals, decades, fractions, ranges and version
numbers (codes read digit by digit are ``digits``).

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

__all__ = [
    "DOTTED_RE",
    "FRACTION_RE",
    "LONG_DIGITS_RE",
    "MINUS",
    "MIXED_FRACTION_RE",
    "NUM",
    "NUMBER_RE",
    "ORDINAL_RE",
    "PLURAL_RANGE_RE",
    "PLURAL_RE",
    "RANGE_RE",
    "is_attributive",
    "mark_dimensions",
    "read_dotted",
    "read_fraction",
    "read_leftover_digits",
    "read_long_digits",
    "read_mixed_fraction",
    "read_number",
    "read_ordinal",
    "read_plural",
    "read_plural_range",
    "read_range",
    "separate_vulgar_fractions",
]

NUM = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)"
# A minus sign only at the start of a token, so "5-10" and "COVID-19" keep their hyphen.
MINUS = r"(?:(?<![^\s(\[{\"'/])-)"

# More digits than the named scales reach (and than Python converts to int): read one by one.
LONG_DIGITS_RE = re.compile(r"(?<![\d,])\d(?:,?\d){24,}")
PHONE_RE = re.compile(r"(?<![\d-])(?:(?:1-)?\d{3}-|\(\d{3}\)\s?)?\d{3}-\d{4}(?![\d-])")
# Toll-free area codes said as hundreds: "1-800-..." -> "one, eight hundred, ...".
_HUNDRED_AREA_CODES = frozenset({"800", "900"})
# A post-office box number of three digits or more is read digit by digit, as LJSpeech's reader
# reads "P.O. Box 2915".
BOX_NUMBER_RE = re.compile(r"(?<=\bBox )\d{3,}\b")
DOTTED_RE = re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}(?![\d])")
RANGE_RE = re.compile(rf"(?<![\w.,-])(?P<a>{NUM})-(?P<b>{NUM})(?![\w.,-])")
ORDINAL_RE = re.compile(rf"\b(?P<int>{NUM})(?:st|nd|rd|th)\b", re.IGNORECASE)
PLURAL_RE = re.compile(r"(?<![\w'])'?(?P<int>\d+)s\b")
PLURAL_RANGE_RE = re.compile(r"(?<![\w'])(?P<a>'?\d+s)\s?-\s?(?P<b>'?\d+s)\b")
FRACTION_RE = re.compile(r"(?<![\d/.])(?P<num>\d+)[/⁄](?P<den>\d+)(?![\d/])")
MIXED_FRACTION_RE = re.compile(r"(?<![\d/.,])(?P<whole>\d+)\s(?P<num>\d+)[/⁄](?P<den>\d+)(?![\d/])")
NUMBER_RE = re.compile(
    rf"(?P<neg>{MINUS})?(?:(?P<int>{NUM})(?:\.(?P<frac>\d+))?|(?<![\w.])\.(?P<bare>\d+))"
)
# Fractions said by name; any other "a/b" is a pairing or a code ("9/11", "7/16" is by name).
_COMMON_DENOMINATORS = frozenset({*range(2, 11), 12, 16, 32, 64, 100, 1000})
_DIGIT_RE = re.compile(r"\d")
# "2x4", "10 x 12 ft", "3×5": a dimension is said "by", a product before "=" "times"; "2x faster"
# is "two times"; not a hexadecimal "0x1F".
_DIMENSION_RE = re.compile(
    r"(?<!\b0)(?<=\d)(?P<unit>\s?[A-Za-z]{1,3}\.?(?=\s[x×]\s\d))?\s?[x×X]\s?(?=\d)"
    r"|(?<=\d)x(?=\s+[a-z])"
)
_EQUALS_AFTER_RE = re.compile(r"\s*[\d.,]+\s*=")
_ARTICLE_BEFORE_RE = re.compile(r"\b(?:a|an)\s+$", re.IGNORECASE)
# The Unicode vulgar fractions ("½", "⅜"); NFKC spells them out as "1⁄2".
_VULGAR_AFTER_DIGIT_RE = re.compile(r"(?<=\d)(?=[\u00bc-\u00be\u2150-\u215e\u2189])")


def is_attributive(m: re.Match[str]) -> bool:
    """An amount right after "a" or "an" describes the next noun ("a $20 bill", "a 5 km run"),
    so its unit is said in the singular."""
    return bool(_ARTICLE_BEFORE_RE.search(m.string, max(0, m.start() - 4), m.start()))


def read_long_digits(m: re.Match[str]) -> str:
    return digits_to_words(m[0].replace(",", ""))


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


def read_plural_range(m: re.Match[str]) -> str:
    """Decades from one to another: "the 1960s-70s" -> "the nineteen sixties to seventies"."""
    a, b = (PLURAL_RE.fullmatch(side) for side in (m["a"], m["b"]))
    return f"{read_plural(a)} to {read_plural(b)}" if a and b else m[0]


def _fraction_name(num: int, den: int) -> str:
    """The denominator as a noun: "half", "quarters", "eighths"."""
    if den == 2:
        return "half" if num == 1 else "halves"
    if den == 4:
        return "quarter" if num == 1 else "quarters"
    return ordinal_to_words(den) + ("" if num == 1 else "s")


def read_fraction(m: re.Match[str]) -> str:
    """A proper fraction with a common denominator by name ("3/4" -> "three quarters", "5/16" ->
    "five sixteenths"); other pairs of numbers are read with a silent slash ("24/7", "50/50",
    "9/11"): nobody says "nine elevenths"."""
    num, den = int(m["num"]), int(m["den"])
    if den < 2:
        return f"{number_to_words(num)} over {number_to_words(den)}"
    if num >= den or den not in _COMMON_DENOMINATORS:
        return f"{number_to_words(num)} {number_to_words(den)}"
    return f"{number_to_words(num)} {_fraction_name(num, den)}"


def read_mixed_fraction(m: re.Match[str]) -> str:
    """A whole number and a proper fraction: "1 1/2" -> "one and a half", "2 3/4" -> "two and
    three quarters"; "5 6/5" is left to be read as two numbers."""
    num, den = int(m["num"]), int(m["den"])
    if not 0 < num < den:
        return m[0]
    name = _fraction_name(num, den)
    count = ("an" if name.startswith("e") else "a") if num == 1 else number_to_words(num)
    return f"{cardinal_text(m['whole'])} and {count} {name}"


def read_number(m: re.Match[str]) -> str:
    """A plain number; four digits from 1000 to 2099 are read as a year."""
    integer, frac = m["int"], m["frac"] or m["bare"]
    minus = "minus " if m["neg"] else ""
    if not minus and not frac and len(integer) == 4 and 1000 <= int(integer) <= 2099:
        return year_to_words(int(integer))
    return minus + decimal_text(integer, frac)


def mark_dimensions(text: str) -> str:
    """Say "by" for the "x" of a dimension ("2x4" -> "2 by 4", "5 cm x 10 cm" -> "5 cm by 10
    cm"), "times" for a product."""

    def by(m: re.Match[str]) -> str:
        product = m[0].strip() == "x" and m.string[m.end() : m.end() + 1].isspace()
        if product or _EQUALS_AFTER_RE.match(m.string, m.end()):
            return " times "
        return f"{m['unit'] or ''} by "

    return _DIMENSION_RE.sub(by, text)


def separate_vulgar_fractions(text: str) -> str:
    """Put a space between a number and a vulgar fraction ("3½" -> "3 ½"), so that once NFKC
    spells out "½" it reads as the mixed number "3 1/2" rather than "31⁄2"."""
    return _VULGAR_AFTER_DIGIT_RE.sub(" ", text)


def read_leftover_digits(text: str) -> str:
    """Any digit no rule read (e.g. inside "3:1") is read out on its own rather than dropped."""
    return _DIGIT_RE.sub(lambda m: f" {digits_to_words(m[0])} ", text)
