"""English text normalisation: turn written text into words a phonemiser can speak.

Numbers, currency, times and abbreviations are expanded here (rather than left to espeak) so
that the IPA and the character front ends read text the same way, and so that training
transcripts and inference text go through one definition. The output keeps case and only the
sentence punctuation ``, . ! ? ; : - ' "``, which carries prosody.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from tts_ebm.text.validate import check_text

__all__ = [
    "normalize_text",
    "number_to_words",
    "ordinal_to_words",
    "split_sentences",
    "year_to_words",
]

# --------------------------------------------------------------------------------------------
# Numbers to words (American style, no "and": 105 -> "one hundred five").

_ONES = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = (
    "",
    "thousand",
    "million",
    "billion",
    "trillion",
    "quadrillion",
    "quintillion",
    "sextillion",
)
_DIGIT_NAMES = dict(zip("0123456789", _ONES[:10], strict=True))
_IRREGULAR_ORDINALS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens])
        if ones:
            words.append(_ONES[ones])
    elif rest:
        words.append(_ONES[rest])
    return words


def _digits_to_words(digits: str) -> str:
    """Read a digit string one digit at a time (IDs, decimals, leading zeros)."""
    return " ".join(_DIGIT_NAMES[d] for d in digits)


def number_to_words(n: int) -> str:
    """Cardinal number in words: 42 -> "forty two", -7 -> "minus seven".

    Numbers too large for the named scales are read digit by digit, which is how people read
    such strings (account numbers) anyway.
    """
    if n < 0:
        return "minus " + number_to_words(-n)
    if n == 0:
        return "zero"
    if n >= 1000 ** len(_SCALES):
        return _digits_to_words(str(n))
    words: list[str] = []
    for power in range(len(_SCALES) - 1, -1, -1):
        group, n = divmod(n, 1000**power)
        if group:
            words += _below_thousand(group)
            if _SCALES[power]:
                words.append(_SCALES[power])
    return " ".join(words)


def ordinal_to_words(n: int) -> str:
    """Ordinal number in words: 3 -> "third", 21 -> "twenty first", 100 -> "one hundredth"."""
    words = number_to_words(n).split()
    last = words[-1]
    if last in _IRREGULAR_ORDINALS:
        words[-1] = _IRREGULAR_ORDINALS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def year_to_words(n: int) -> str:
    """A year read the usual way: 1984 -> "nineteen eighty four", 2005 -> "two thousand five"."""
    if not 1000 <= n <= 9999 or 2000 <= n <= 2009 or n % 1000 == 0:
        return number_to_words(n)
    high, low = divmod(n, 100)
    if low == 0:
        return number_to_words(high) + " hundred"
    if low < 10:
        return f"{number_to_words(high)} oh {_ONES[low]}"
    return f"{number_to_words(high)} {number_to_words(low)}"


def _plural(words: str) -> str:
    """Pluralise the last number word: "nineteen eighty" -> "nineteen eighties"."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    if words.endswith("x"):
        return words + "es"
    return words + "s"


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def _cardinal_text(text: str) -> str:
    """Digits (maybe with thousands separators) to words; leading zeros are read out."""
    digits = text.replace(",", "")
    if len(digits) > 1 and digits.startswith("0"):
        return _digits_to_words(digits)
    return number_to_words(int(digits))


def _decimal_text(integer: str | None, fraction: str | None) -> str:
    words = _cardinal_text(integer) if integer else ""
    if fraction:
        words = f"{words} point {_digits_to_words(fraction)}".strip()
    return words


# --------------------------------------------------------------------------------------------
# Regular expressions for the number-like patterns, applied in this order.

_NUM = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)"
# A minus sign only at the start of a token, so "5-10" and "COVID-19" keep their hyphen.
_MINUS = r"(?:(?<![^\s(\[{\"'/])-)"
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
_CURRENCY_RE = re.compile(
    rf"(?P<neg>{_MINUS})?(?P<sym>[$£€¥])\s?(?P<int>{_NUM})(?:\.(?P<frac>\d+))?"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion)\b|(?P<abbr>k|m|bn|b)\b)?",
    re.IGNORECASE,
)
_AMPM = r"(?:\s*(?P<ampm>[ap])\.?\s?m\b(?P<dot>\.)?)"
_TIME_RE = re.compile(rf"\b(?P<h>\d{{1,2}}):(?P<m>\d{{2}})\b{_AMPM}?", re.IGNORECASE)
_HOUR_AMPM_RE = re.compile(rf"\b(?P<h>\d{{1,2}}){_AMPM}", re.IGNORECASE)
_PHONE_RE = re.compile(r"(?<![\d-])(?:\(\d{3}\)\s?|\d{3}-)?\d{3}-\d{4}(?![\d-])")
_DOTTED_RE = re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}(?![\d])")
_RANGE_RE = re.compile(rf"(?<![\w.,-])(?P<a>{_NUM})-(?P<b>{_NUM})(?![\w.,-])")
_PERCENT_RE = re.compile(rf"(?P<neg>{_MINUS})?(?P<int>{_NUM})?(?:\.(?P<frac>\d+))?\s?%")
_ORDINAL_RE = re.compile(rf"\b(?P<int>{_NUM})(?:st|nd|rd|th)\b", re.IGNORECASE)
_PLURAL_RE = re.compile(r"(?<![\w'])'?(?P<int>\d+)s\b")
_FRACTION_RE = re.compile(r"(?<![\d/.])(?P<num>\d+)[/⁄](?P<den>\d+)(?![\d/])")
_NUMBER_RE = re.compile(
    rf"(?P<neg>{_MINUS})?(?:(?P<int>{_NUM})(?:\.(?P<frac>\d+))?|(?<![\w.])\.(?P<bare>\d+))"
)


def _currency(m: re.Match[str]) -> str:
    unit, units, sub, subs = _CURRENCIES[m["sym"]]
    integer, frac = m["int"], m["frac"]
    minus = "minus " if m["neg"] else ""
    scale = m["scale"] or m["abbr"]
    if scale:
        return f"{minus}{_decimal_text(integer, frac)} {_SCALE_WORDS[scale.lower()]} {units}"
    if frac and (len(frac) > 2 or not sub):
        return f"{minus}{_decimal_text(integer, frac)} {units}"
    whole = _int(integer)
    cents = int(frac.ljust(2, "0")) if frac else 0
    parts = []
    if whole or not cents:
        parts.append(f"{_cardinal_text(integer)} {unit if whole == 1 else units}")
    if cents:
        parts.append(f"{number_to_words(cents)} {sub if cents == 1 else subs}")
    return minus + ", ".join(parts)


def _ampm(m: re.Match[str]) -> str:
    """Read "p.m." as "P-M" (see ``_acronym``), keeping a full stop if it also ended the
    sentence."""
    words = f" {m['ampm'].upper()}-M"
    return words + "." if m["dot"] and _ends_sentence(m.string, m.end()) else words


def _time(m: re.Match[str]) -> str:
    hour, minute = int(m["h"]), int(m["m"])
    if hour > 24 or minute > 59:
        return m[0]
    words = number_to_words(hour)
    if minute == 0:
        words += "" if m["ampm"] else " o'clock"
    elif minute < 10:
        words += f" oh {_ONES[minute]}"
    else:
        words += " " + number_to_words(minute)
    return words + _ampm(m) if m["ampm"] else words


def _hour_ampm(m: re.Match[str]) -> str:
    hour = int(m["h"])
    return m[0] if hour > 24 else number_to_words(hour) + _ampm(m)


def _phone(m: re.Match[str]) -> str:
    """Telephone numbers are read digit by digit, one pause per group."""
    return ", ".join(_digits_to_words(group) for group in re.findall(r"\d+", m[0]))


def _dotted(m: re.Match[str]) -> str:
    """Version numbers and addresses ("1.2.3"), which would otherwise read as a decimal."""
    return " point ".join(_cardinal_text(part) for part in m[0].split("."))


def _range(m: re.Match[str]) -> str:
    a, b = _int(m["a"]), _int(m["b"])
    if len(m["a"]) == 4 and 1000 <= a <= 2099 and len(m["b"]) in (2, 4):
        return f"{year_to_words(a)} to {year_to_words(b) if b >= 1000 else _cardinal_text(m['b'])}"
    return f"{number_to_words(a)} to {number_to_words(b)}"


def _percent(m: re.Match[str]) -> str:
    if not (m["int"] or m["frac"]):
        return "percent"
    minus = "minus " if m["neg"] else ""
    return f"{minus}{_decimal_text(m['int'], m['frac'])} percent"


def _ordinal(m: re.Match[str]) -> str:
    return ordinal_to_words(_int(m["int"]))


def _plural_number(m: re.Match[str]) -> str:
    """Plural numbers: "1980s" -> "nineteen eighties", "'60s" -> "sixties"."""
    n = int(m["int"])
    return _plural(year_to_words(n) if len(m["int"]) == 4 else number_to_words(n))


def _fraction(m: re.Match[str]) -> str:
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


def _number(m: re.Match[str]) -> str:
    integer, frac = m["int"], m["frac"] or m["bare"]
    minus = "minus " if m["neg"] else ""
    if not minus and not frac and len(integer) == 4 and 1000 <= int(integer) <= 2099:
        return year_to_words(int(integer))
    return minus + _decimal_text(integer, frac)


_NUMBER_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (_CURRENCY_RE, _currency),
    (_TIME_RE, _time),
    (_HOUR_AMPM_RE, _hour_ampm),
    (_PHONE_RE, _phone),
    (_DOTTED_RE, _dotted),
    (_RANGE_RE, _range),
    (_PERCENT_RE, _percent),
    (_ORDINAL_RE, _ordinal),
    (_PLURAL_RE, _plural_number),
    (_FRACTION_RE, _fraction),
    (_NUMBER_RE, _number),
)


def _spaced(words_of: Callable[[re.Match[str]], str]) -> Callable[[re.Match[str]], str]:
    """Separate the words from letters they touch ("mp3" -> "mp three"), but not from
    punctuation ("3rd," -> "third,", "COVID-19" -> "COVID-nineteen")."""

    def replace(m: re.Match[str]) -> str:
        text, start, end = m.string, m.start(), m.end()
        left = " " if start > 0 and text[start - 1].isalnum() else ""
        right = " " if end < len(text) and text[end].isalnum() else ""
        return left + words_of(m) + right

    return replace


def _expand_numbers(text: str) -> str:
    for pattern, words_of in _NUMBER_RULES:
        text = pattern.sub(_spaced(words_of), text)
    return text


# --------------------------------------------------------------------------------------------
# Abbreviations.

# Titles stand before a name, so their full stop never ends a sentence.
_TITLES = {
    "Mr": "Mister",
    "Mrs": "Missus",
    "Ms": "Miz",
    "Messrs": "Messieurs",
    "Capt": "Captain",
    "Gen": "General",
    "Lt": "Lieutenant",
    "Col": "Colonel",
    "Maj": "Major",
    "Sgt": "Sergeant",
    "Rev": "Reverend",
    "Prof": "Professor",
    "Mt": "Mount",
    "Ft": "Fort",
}
# These can close a sentence ("... and Co. The next day"): the full stop is then kept.
_TERMINAL = {
    "Jr": "Junior",
    "Sr": "Senior",
    "Co": "Company",
    "Corp": "Corporation",
    "Inc": "Incorporated",
    "Ltd": "Limited",
    "Bros": "Brothers",
    "Ave": "Avenue",
    "Rd": "Road",
    "Blvd": "Boulevard",
    "etc": "et cetera",
    "Jan": "January",
    "Feb": "February",
    "Mar": "March",
    "Apr": "April",
    "Jun": "June",
    "Jul": "July",
    "Aug": "August",
    "Sep": "September",
    "Sept": "September",
    "Oct": "October",
    "Nov": "November",
    "Dec": "December",
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec")
_WEEKDAYS = {
    "Mon": "Monday",
    "Tue": "Tuesday",
    "Tues": "Tuesday",
    "Wed": "Wednesday",
    "Thu": "Thursday",
    "Thur": "Thursday",
    "Thurs": "Thursday",
    "Fri": "Friday",
    "Sat": "Saturday",
    "Sun": "Sunday",
}
_MONTH_NAMES = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
)
# Words that start a phrase with a capital but are not part of a street name ("The St. Louis").
_NOT_NAMES = frozenset(
    {"A", "An", "The", "In", "At", "On", "To", "From", "Of", "By", "For", "Near", "And", "Or"}
    | {"But", "With", "Via", "Visit", "Visited"}
)

_ABBREVIATIONS = frozenset({*_TITLES, *_TERMINAL, *_WEEKDAYS, "Dr", "St", "No"})

_TITLE_RE = re.compile(rf"\b({'|'.join(_TITLES)})\.\s*")
_TERMINAL_RE = re.compile(rf"\b({'|'.join(_TERMINAL)})\.")
_MONTH_BEFORE_DAY_RE = re.compile(rf"\b({'|'.join(_MONTHS)})\b(?=\s+\d)")
_WEEKDAY_RE = re.compile(
    rf"\b({'|'.join(_WEEKDAYS)})\.(?=\s*,|\s+\d|\s+(?:{'|'.join(_MONTHS)}|{_MONTH_NAMES})\b)"
)
_SAINT_OR_STREET_RE = re.compile(r"\b(St|Dr)\.")
_NUMBER_ABBR_RE = re.compile(r"\b([Nn])o\.(?=\s*\d)|#(?=\d)")
_LATIN_RE = re.compile(r"\b(e\.g|i\.e|vs|viz)\b\.?", re.IGNORECASE)
_LATIN = {"e.g": "for example", "i.e": "that is", "vs": "versus", "viz": "namely"}
_SENTENCE_STARTERS = frozenset(
    {"The", "A", "An", "He", "She", "It", "They", "We", "I", "You", "This", "That", "These"}
    | {"Those", "There", "In", "On", "At", "But", "And", "So", "Then", "When", "If", "As"}
    | {"His", "Her", "Its", "Their", "Our", "What", "Why", "How"}
)
_ACRONYM_RE = re.compile(r"\b(?:[A-Za-z]\.){2,}")
# A single initial before a name ("John F. Kennedy") loses its full stop; not "I" ("So do I.
# Then"), nor "A", which espeak would read as the article without it.
_INITIAL_RE = re.compile(r"(?<![\w.])([B-HJ-Z])\.(?=\s+[A-Z])")
_LOOKBACK = 64
_AFTER_SENTENCE_END_RE = re.compile(r"[.!?]\W*$")
_PREVIOUS_WORD_RE = re.compile(r"([\w']+)\W*$")
_NEXT_WORD_RE = re.compile(r"\s*([\w']+)")
_NEXT_ABBREVIATION_RE = re.compile(r"([A-Za-z]+)\.")


def _ends_sentence(text: str, end: int) -> bool:
    """A full stop at ``end`` ends a sentence if nothing, or a capitalised word, follows
    (another abbreviation, as in "Co. Ltd.", does not count)."""
    rest = text[end:].lstrip()
    if not rest or rest[0] in "\"'":
        return True
    next_abbreviation = _NEXT_ABBREVIATION_RE.match(rest)
    return rest[0].isupper() and not (next_abbreviation and next_abbreviation[1] in _ABBREVIATIONS)


def _saint_or_street(m: re.Match[str]) -> str:
    """Guess "St. Louis" -> Saint, "Baker St." -> Street, "Dr. Smith" -> Doctor, "Elm Dr." ->
    Drive, from the capitalisation of the neighbouring words."""
    # Look back a bounded window only: this runs once per match, on texts of any length.
    window_start = max(0, m.start() - _LOOKBACK)
    prefix = m.string[window_start : m.start()]
    before = _PREVIOUS_WORD_RE.search(prefix)
    after = _NEXT_WORD_RE.match(m.string, m.end())
    # A capitalised word right before (not one that merely starts the sentence) or a house
    # number marks a street name.
    prev_is_name = False
    if before and (before[1][0].isupper() or before[1][0].isdigit()):
        head = prefix[: before.start()]
        starts_sentence = _AFTER_SENTENCE_END_RE.search(head) or (
            window_start == 0 and not any(c.isalnum() for c in head)
        )
        prev_is_name = before[1] not in _NOT_NAMES and not starts_sentence
    next_is_name = bool(after and after[1][0].isupper() and after[1] not in _SENTENCE_STARTERS)
    if m[1] == "Dr" and (next_is_name or not prev_is_name):
        return "Doctor " if after else "Doctor."
    if m[1] == "St" and next_is_name and not prev_is_name:
        return "Saint "
    street = "Street" if m[1] == "St" else "Drive"
    return street + ("." if _ends_sentence(m.string, m.end()) else "")


def _acronym(m: re.Match[str]) -> str:
    """Spell out "U.S." as "U-S", without full stops that would read as sentence ends.

    Hyphens, not spaces: espeak reads a lone "A" as the article, but "A-D" as letters. The last
    full stop is kept only before a word that usually starts a sentence, since acronyms are
    mostly followed by names ("the U.S. Army").
    """
    letters = "-".join(m[0].replace(".", "").upper())
    after = _NEXT_WORD_RE.match(m.string, m.end())
    ends = _ends_sentence(m.string, m.end()) and (after is None or after[1] in _SENTENCE_STARTERS)
    return letters + ("." if ends else "")


def _terminal(m: re.Match[str]) -> str:
    return _TERMINAL[m[1]] + ("." if _ends_sentence(m.string, m.end()) else "")


def _expand_abbreviations(text: str) -> str:
    text = _NUMBER_ABBR_RE.sub(lambda m: "Number " if m[1] == "N" else "number ", text)
    text = _LATIN_RE.sub(lambda m: _LATIN[m[1].lower()], text)
    text = _INITIAL_RE.sub(r"\1", text)
    text = _ACRONYM_RE.sub(_acronym, text)
    text = _SAINT_OR_STREET_RE.sub(_saint_or_street, text)
    text = _TITLE_RE.sub(lambda m: _TITLES[m[1]] + " ", text)
    text = _WEEKDAY_RE.sub(lambda m: _WEEKDAYS[m[1]], text)
    text = _MONTH_BEFORE_DAY_RE.sub(lambda m: _TERMINAL[m[1]], text)
    return _TERMINAL_RE.sub(_terminal, text)


# --------------------------------------------------------------------------------------------
# Characters.

_CHAR_MAP = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "′": "'",
        "`": "'",
        "´": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "″": '"',
        "«": '"',
        "»": '"',
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "–": "-",
        "—": " - ",
        "―": " - ",
        "−": "-",
        "…": "...",
        "ß": "ss",
        "æ": "ae",
        "Æ": "Ae",
        "œ": "oe",
        "Œ": "Oe",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "þ": "th",
        "Þ": "Th",
        "ı": "i",
    }
)
_SYMBOL_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"<[^<>]{1,80}>"), " "),  # markup tags
    (re.compile(r"\s?°\s?C\b"), " degrees Celsius "),
    (re.compile(r"\s?°\s?F\b"), " degrees Fahrenheit "),
    (re.compile(r"\s?°"), " degrees "),
    (re.compile(r"&"), " and "),
    (re.compile(r"@"), " at "),
    (re.compile(r"\+"), " plus "),
    (re.compile(r"="), " equals "),
]
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


def _vulgar_fraction(m: re.Match[str]) -> str:
    words = _VULGAR_FRACTIONS[m[2]]
    return f"{m[1]} and {words} " if m[1] else f" {words} "


_BRACKETS_RE = re.compile(r"[()\[\]{}]")
_UNSPEAKABLE_RE = re.compile(r"[^A-Za-z0-9 ,.!?;:\-'\"]")
_DOUBLE_HYPHEN_RE = re.compile(r"\s*-{2,}\s*")
_SPACE_BEFORE_PUNCT_RE = re.compile(r"\s+([,.!?;:])")
# A pause mark followed by other marks keeps only the strongest: ", ." -> ".", ",," -> ",".
_PAUSE_RUN_RE = re.compile(r"[,;:](?:\s*[,;:])*(\s*[.!?]+)?")
_LEADING_MARKS_RE = re.compile(r"^[\s,;:.!?\-]+")
_TRAILING_DASH_RE = re.compile(r"[\s\-]+$")
_STRAY_MARKS_RE = re.compile(r"(?<![\w])['\-]+(?![\w])")
_DASH_RUN_RE = re.compile(r"\s-(?:\s+-)+(?=\s|$)")
_WHITESPACE_RE = re.compile(r"\s+")


def _to_ascii_letters(text: str) -> str:
    """Strip accents ("café" -> "cafe"): both front ends then see plain English letters."""
    text = text.translate(_CHAR_MAP)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _tidy_punctuation(text: str) -> str:
    """Spaced dashes, no stray quotes, no space before a mark, one mark per pause.

    A trailing comma is kept: in a fragment it tells the model the phrase continues.
    """
    text = _DOUBLE_HYPHEN_RE.sub(" - ", text)
    text = _STRAY_MARKS_RE.sub(lambda m: " - " if "-" in m[0] else " ", text)
    text = _WHITESPACE_RE.sub(" ", text)
    text = _DASH_RUN_RE.sub(" -", text)
    text = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", text)
    text = _PAUSE_RUN_RE.sub(lambda m: m[1].strip() if m[1] else m[0][0], text)
    text = _LEADING_MARKS_RE.sub("", text)
    return _TRAILING_DASH_RE.sub("", text).strip()


def normalize_text(text: str) -> str:
    """Written English -> speakable words with sentence punctuation, case kept; text that is
    not language (binary, control characters) raises NotLanguageError (:func:`check_text`).

    >>> normalize_text("Dr. Smith paid $42.50 on Jan. 3rd, 2024.")
    'Doctor Smith paid forty two dollars, fifty cents on January third, twenty twenty four.'
    """
    check_text(text)
    text = _VULGAR_FRACTION_RE.sub(_vulgar_fraction, text)
    text = unicodedata.normalize("NFKC", text)
    text = _to_ascii_letters(text)
    text = _WHITESPACE_RE.sub(" ", text)
    for pattern, words in _SYMBOL_WORDS:
        text = pattern.sub(words, text)
    text = _expand_abbreviations(text)
    text = _expand_numbers(text)
    # Any digit left (e.g. inside "3:1") is read out on its own rather than dropped.
    text = re.sub(r"\d", lambda m: f" {_DIGIT_NAMES[m[0]]} ", text)
    text = _BRACKETS_RE.sub(" , ", text)  # a parenthesis is read as a pause
    text = _UNSPEAKABLE_RE.sub(" ", text)
    return _tidy_punctuation(text)


# --------------------------------------------------------------------------------------------
# Sentence splitting.

# Words whose full stop never ends a sentence.
_NO_BREAK_AFTER = frozenset({*_TITLES, "Dr", "St", "vs", "viz"})
# Words whose full stop ends a sentence only when a capitalised word follows ("No. 5", "Jan. 3",
# but "He said no. Then").
_MAYBE_BREAK_AFTER = frozenset({*_TERMINAL, *_WEEKDAYS, "No", "no"})
_SENTENCE_END_RE = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)|\n\s*\n")
_WORD_BEFORE_RE = re.compile(r"([A-Za-z][\w.]*)\.$")
_MAX_CHARS = 300


def _is_sentence_end(text: str, m: re.Match[str]) -> bool:
    mark = m[0]
    if not mark.startswith(".") or mark.startswith(".."):
        return True
    word = _WORD_BEFORE_RE.search(text[max(0, m.start() - _LOOKBACK) : m.start() + 1])
    if word is None:
        return True
    token = word[1]
    # Titles, initials ("J. Smith") and dotted acronyms ("the U.S. Army") do not end sentences.
    if token in _NO_BREAK_AFTER or (len(token) == 1 and token.isupper()) or "." in token:
        return False
    if token in _MAYBE_BREAK_AFTER:
        return _ends_sentence(text, m.end())
    return True


def _cut_point(sentence: str, max_chars: int) -> int:
    """Length of the first chunk: up to the last strong pause, comma, or space that fits in
    ``max_chars`` (but not in the first half, to avoid tiny chunks); a hard cut otherwise."""
    lowest = max_chars // 2
    for marks in (";:", ","):
        cut = max(sentence.rfind(mark, lowest, max_chars) for mark in marks)
        if cut >= 0:
            return cut + 1
    cut = sentence.rfind(" ", lowest, max_chars + 1)
    return cut if cut >= 0 else max_chars


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """Cut a run-on sentence into chunks of at most ``max_chars``."""
    chunks = []
    while len(sentence) > max_chars:
        cut = _cut_point(sentence, max_chars)
        chunks.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    return [c for c in [*chunks, sentence] if c]


def split_sentences(text: str, max_chars: int = _MAX_CHARS) -> list[str]:
    """Split text into sentences, each at most ``max_chars`` long.

    Breaks after ``. ! ?`` (not after "Dr.", initials or inside "3.14") and at blank lines;
    over-long sentences are cut further so no downstream step gets an unbounded chunk.
    """
    sentences: list[str] = []
    start = 0
    for m in _SENTENCE_END_RE.finditer(text):
        if _is_sentence_end(text, m):
            sentences.append(text[start : m.end()])
            start = m.end()
    sentences.append(text[start:])
    out: list[str] = []
    for sentence in sentences:
        sentence = _WHITESPACE_RE.sub(" ", sentence).strip()
        if sentence:
            out += _split_long(sentence, max_chars)
    return out
