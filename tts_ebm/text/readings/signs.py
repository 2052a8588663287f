"""Signs read as words: currency amounts ("$42.50", "50¢"), "&", "@", "+", "=", "#"."""

from __future__ import annotations

import re

from tts_ebm.text.readings.numbers import cardinal_text, decimal_text, number_to_words, to_int
from tts_ebm.text.readings.numerals import MINUS, NUM, is_attributive

__all__ = [
    "CENTS_RE",
    "CURRENCY_RANGE_RE",
    "CURRENCY_RE",
    "expand_signs",
    "read_cents",
    "read_currency",
    "read_currency_range",
]

_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "", ""),
}
_SCALE_WORDS = {
    "thousand": "thousand",
    "million": "million",
    "billion": "billion",
    "trillion": "trillion",
    "k": "thousand",
    "m": "million",
    "b": "billion",
    "bn": "billion",
}
CURRENCY_RE = re.compile(
    rf"(?P<neg>{MINUS})?(?P<sym>[$£€¥])\s?(?P<int>{NUM})(?:\.(?P<frac>\d+))?"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion)\b|(?P<abbr>k|m|bn|b)\b)?",
    re.IGNORECASE,
)
CURRENCY_RANGE_RE = re.compile(
    rf"(?P<sym>[$£€¥])\s?(?P<a>{NUM})(?:\.(?P<af>\d{{2}}))?\s?-\s?(?P=sym)?\s?(?P<b>{NUM})"
    r"(?:\.(?P<bf>\d{2}))?(?:\s?(?P<scale>thousand|million|billion|trillion)\b|(?P<abbr>k|m|bn|b)\b)?"
    r"(?![\d.])",
    re.IGNORECASE,
)
CENTS_RE = re.compile(r"(?P<int>\d+)(?:\.(?P<frac>\d+))?\s?¢")
_SIGN_WORDS = (
    # Initials joined by "&" are spelled: "AT&T" -> "A-T and T", "R&D" -> "R and D".
    (re.compile(r"\b([A-Z]{1,3})&([A-Z]{1,3})\b"), lambda m: f"{_spell(m[1])} and {_spell(m[2])}"),
    (re.compile(r"&"), " and "),
    (re.compile(r"@"), " at "),
    (re.compile(r"\+"), " plus "),
    (re.compile(r"="), " equals "),
    (re.compile(r"\b([A-G])#"), r"\1 sharp"),
    (re.compile(r"#(?=[A-Za-z])"), "hashtag "),
)


def read_currency(m: re.Match[str]) -> str:
    """An amount with its currency in words; singular units where the amount describes a noun
    ("a $20 bill" -> "a twenty dollar bill")."""
    minus = "minus " if m["neg"] else ""
    scale = m["scale"] or m["abbr"]
    return minus + _amount(m["sym"], m["int"], m["frac"], scale, is_attributive(m))


def read_currency_range(m: re.Match[str]) -> str:
    """Two amounts joined by a dash, said with "to": "$250-$300" -> "two hundred fifty to three
    hundred dollars"; with cents each amount keeps its units ("$1.50-$2" -> "one dollar and fifty
    cents to two dollars")."""
    scale = m["scale"] or m["abbr"]
    sym = m["sym"]
    if m["af"] or m["bf"]:
        low = _amount(sym, m["a"], m["af"], scale, False)
        return f"{low} to {_amount(sym, m['b'], m['bf'], scale, False)}"
    return f"{cardinal_text(m['a'])} to {_amount(sym, m['b'], None, scale, is_attributive(m))}"


def _amount(sym: str, integer: str, frac: str | None, scale: str | None, single: bool) -> str:
    """The words of an amount: "42", "50" -> "forty two dollars and fifty cents"; ``single``
    gives singular units (an amount used as an adjective)."""
    unit, units, sub, subs = _CURRENCIES[sym]
    if single:
        units, subs = unit, sub
    if scale:
        return f"{decimal_text(integer, frac)} {_SCALE_WORDS[scale.lower()]} {units}"
    if frac and (len(frac) > 2 or not sub):
        return f"{decimal_text(integer, frac)} {units}"
    whole = to_int(integer)
    cents = int(frac.ljust(2, "0")) if frac else 0
    parts = []
    if whole or not cents:
        parts.append(f"{cardinal_text(integer)} {unit if whole == 1 else units}")
    if cents:
        parts.append(f"{number_to_words(cents)} {sub if cents == 1 else subs}")
    return " and ".join(parts)


def read_cents(m: re.Match[str]) -> str:
    unit = "cent" if m["int"] == "1" and not m["frac"] else "cents"
    return f"{decimal_text(m['int'], m['frac'])} {unit}"


def _spell(letters: str) -> str:
    """Letters read one by one, hyphenated as dotted acronyms are ("A-T")."""
    return "-".join(letters)


def expand_signs(text: str) -> str:
    """Read "&" as "and", "@" as "at", "+" as "plus", "=" as "equals", "C#" as "C sharp" and
    "#MeToo" as "hashtag MeToo" ("#1" is "number one", an abbreviation)."""
    for pattern, words in _SIGN_WORDS:
        text = pattern.sub(words, text)
    return text
