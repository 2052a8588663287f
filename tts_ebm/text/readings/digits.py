"""Codes read one digit at a time: telephone numbers, social security style groups, account and
serial numbers, IPv4 addresses and post-office boxes.

A reader says such digits one by one, with a pause between written groups ("(212) 555-0147" ->
"two one two, five five five, zero one four seven"); a toll-free area code is said as hundreds
("1-800" -> "one, eight hundred"). These run before the signs and the numbers, whose readings
would take their "+", "." and "-" for a plus, a decimal point and a range.
"""

from __future__ import annotations

import re

from tts_ebm.text.readings.numbers import digits_to_words, number_to_words

__all__ = ["expand_digit_strings"]

# North American numbers: an optional "+1"/"1", an area code in brackets or before the same
# separator as the exchange, and an extension. Without an area code only "555-0147" (an exchange
# never starts with 0 or 1, so "100-1000" stays a range).
_EXTENSION = r"(?:\s?,?\s?(?:ext\.?|extension|x)\s?(?P<ext>\d{1,6})\b)?"
_US_PHONE_RE = re.compile(
    r"(?<![\w+.-])(?:(?P<cc>\+?1)[\s.-]?(?=[(\d]))?"
    r"(?:\((?P<area>\d{3})\)\s?\d{3}[-.\s]|(?P<area2>\d{3})(?P<sep>[-. ])\d{3}(?P=sep)"
    r"|(?<![\d(])[2-9]\d{2}-)\d{4}(?![\w-]|\.\d)" + _EXTENSION,
    re.IGNORECASE,
)
# Other countries: "+44 20 7946 0958", each written group its own phrase.
_INTERNATIONAL_PHONE_RE = re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s.-]\(?\d{1,5}\)?){2,5}(?![\w-])")
_HUNDRED_AREA_CODES = frozenset({"800", "900"})
# "123-45-6789", and card numbers written in four groups of four ("4111 1111 1111 1111").
_GROUPED_RE = re.compile(
    r"(?<![\w.-])(?:\d{3}-\d{2}-\d{4}|\d{4}(?P<sep>[ -])\d{4}(?:(?P=sep)\d{4}){2})(?![\w-]|\.\d)"
)
_IPV4_RE = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
# Digits after a word that names a code ("account 12345678", "PIN: 4321", "card ending in 0042");
# words that also count things ("order 500 copies") only with "number", "no." or "#" after them.
_CODE_WORDS = (
    r"account|acct|serial|S/N|confirmation|tracking|routing|PIN|policy|invoice|passport|ID"
    r"|ZIP(?:\s+code)?|postal\s+code|ending\s+in"
)
_NUMBERED_WORDS = (
    r"order|ticket|card|member|customer|claim|transaction|booking|reservation|licen[cs]e"
    r"|reference|ref|case"
)
_CODE_RE = re.compile(
    rf"\b(?:(?P<word>{_CODE_WORDS})|(?P<numbered>{_NUMBERED_WORDS}))"
    r"(?P<sep>\s+(?:number|num|no)\b\.?\s?|\s?#\s?)?(?P<colon>\s?:)?\s?"
    r"(?P<code>\d(?:[ -]?\d){3,})(?![\w.,]\d|\w)",
    re.IGNORECASE,
)
# Service numbers: "call 911", "a 911 operator" (but "Porsche 911" is "nine eleven").
_SERVICE_RE = re.compile(
    r"(?<=\b(?:call|dial|text)\s)[2-9]11\b|(?:(?<=\bcalled\s)|(?<=\bdialed\s))[2-9]11\b"
    r"|\b911(?=\s+(?:calls?|operators?|dispatchers?|emergency|center)\b)",
    re.IGNORECASE,
)
# A post-office box number of three digits or more is read digit by digit, as LJSpeech's reader
# reads "P.O. Box 2915".
_BOX_NUMBER_RE = re.compile(r"(?<=\bBox )\d{3,}\b")


def _groups(digits: str, hundreds: bool = False) -> str:
    """Each group of digits one by one, a pause between groups."""
    return ", ".join(
        number_to_words(int(g)) if hundreds and g in _HUNDRED_AREA_CODES else digits_to_words(g)
        for g in re.findall(r"\d+", digits)
    )


def _us_phone(m: re.Match[str]) -> str:
    start = m.end("cc") if m["cc"] else m.start()
    end = m.start("ext") if m["ext"] else m.end()
    words = _groups(m.string[start:end], hundreds=True)
    if m["cc"]:
        words = ("plus one, " if m["cc"].startswith("+") else "one, ") + words
    if m["ext"]:
        words += f", extension {digits_to_words(m['ext'])}"
    return f" {words} "


def _international_phone(m: re.Match[str]) -> str:
    return f" plus {_groups(m[0])} "


def _code(m: re.Match[str]) -> str:
    if m["numbered"] and not m["sep"]:
        return m[0]
    number = " number" if m["sep"] else ""
    return f"{m['word'] or m['numbered']}{number}{m['colon'] or ''} {_groups(m['code'])}"


def _ipv4(m: re.Match[str]) -> str:
    parts = m[0].split(".")
    if any(int(p) > 255 for p in parts):
        return m[0]
    return " " + " dot ".join(digits_to_words(p) for p in parts) + " "


def expand_digit_strings(text: str) -> str:
    """Read telephone numbers, grouped codes, IPv4 addresses, numbers after a word that names a
    code, service numbers ("911") and box numbers digit by digit."""
    text = _US_PHONE_RE.sub(_us_phone, text)
    text = _INTERNATIONAL_PHONE_RE.sub(_international_phone, text)
    text = _GROUPED_RE.sub(lambda m: f" {_groups(m[0])} ", text)
    text = _IPV4_RE.sub(_ipv4, text)
    text = _CODE_RE.sub(_code, text)
    text = _SERVICE_RE.sub(lambda m: digits_to_words(m[0]), text)
    return _BOX_NUMBER_RE.sub(lambda m: digits_to_words(m[0]), text)
