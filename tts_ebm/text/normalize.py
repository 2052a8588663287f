"""English text normalisation: turn written text into words a phonemiser can speak.

Numbers, currency, times and abbreviations are expanded here (rather than left to espeak) so
that the IPA and the character front ends read text the same way, and so that training
transcripts and inference text go through one definition. The output keeps case and only the
sentence punctuation ``, . ! ? ; : - ' "``, which carries prosody.

This module is the pipeline and sentence splitting; each kind of reading lives in its own module
under ``tts_ebm.text.readings``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tts_ebm.text.readings import (
    addresses,
    alphanumerics,
    characters,
    dates,
    digits,
    numerals,
    signs,
    times,
    units,
)
from tts_ebm.text.readings.abbreviations import (
    LOOKBACK,
    MAYBE_FINAL,
    NEVER_FINAL,
    ends_sentence,
    expand_abbreviations,
)
from tts_ebm.text.readings.roman import expand_roman_numerals
from tts_ebm.text.readings.web import expand_web_addresses
from tts_ebm.text.validate import check_text

__all__ = ["normalize_text", "split_sentences"]

Reading = Callable[[re.Match[str]], str]

# The number-like patterns, in the order they apply: a longer reading claims its digits first
# (a price range before a price before its decimal, a date before a range, a range before a
# percentage, a day before its month before an ordinal, a mixed number before its fraction);
# digit strings too long for any reading go first.
_NUMBER_RULES: tuple[tuple[re.Pattern[str], Reading], ...] = (
    (numerals.LONG_DIGITS_RE, numerals.read_long_digits),
    (signs.CURRENCY_RANGE_RE, signs.read_currency_range),
    (signs.CURRENCY_RE, signs.read_currency),
    (signs.CENTS_RE, signs.read_cents),
    (dates.YEAR_FIRST_DATE_RE, dates.read_numeric_date),
    (dates.US_DATE_RE, dates.read_numeric_date),
    (dates.DOTTED_DATE_RE, dates.read_numeric_date),
    (dates.MONTH_YEAR_RE, dates.read_month_year),
    (times.TIME_RE, times.read_time),
    (times.HOUR_AMPM_RE, times.read_hour_ampm),
    (numerals.DOTTED_RE, numerals.read_dotted),
    (dates.MONTH_DAY_RE, dates.read_month_day),
    (numerals.RANGE_RE, numerals.read_range),
    (numerals.PLURAL_RANGE_RE, numerals.read_plural_range),
    (units.PERCENT_RE, units.read_percent),
    (dates.DAY_MONTH_RE, dates.read_day_month),
    (numerals.ORDINAL_RE, numerals.read_ordinal),
    (numerals.PLURAL_RE, numerals.read_plural),
    (numerals.MIXED_FRACTION_RE, numerals.read_mixed_fraction),
    (numerals.FRACTION_RE, numerals.read_fraction),
    (numerals.NUMBER_RE, numerals.read_number),
)


def _spaced(words_of: Reading) -> Reading:
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
    return numerals.read_leftover_digits(text)


def normalize_text(text: str) -> str:
    """Written English -> speakable words with sentence punctuation, case kept; text that is
    not language (binary, control characters) raises NotLanguageError (:func:`check_text`).

    >>> normalize_text("Dr. Smith paid $42.50 on Jan. 3rd, 2024.")
    'Doctor Smith paid forty two dollars and fifty cents on January third, twenty twenty four.'
    """
    check_text(text)
    text = numerals.separate_vulgar_fractions(text)
    text = units.mark_powers(text)
    text = characters.to_plain_letters(text)
    text = characters.collapse_whitespace(text)
    # Addresses and codes first: their "@", "+", "." and "-" are not signs, decimals or ranges
    # (and a code's digits are read one by one); then street addresses, whose "W" is no watt and
    # "St." no sentence end, and dimensions, whose "x" would hide a unit's number; units before
    # abbreviations, which would take the "C." of "30°C." for an initial.
    text = expand_web_addresses(text)
    text = digits.expand_digit_strings(text)
    text = characters.strip_markup(text)
    text = addresses.expand_addresses(text)
    text = numerals.mark_dimensions(text)
    text = units.expand_units(text)
    text = units.expand_degrees(text)
    text = signs.expand_signs(text)
    text = alphanumerics.expand_alphanumerics(text)
    text = expand_roman_numerals(text)
    text = dates.name_months(text)
    text = expand_abbreviations(text)
    text = times.unglue_spelled_times(text)
    text = times.mark_time_ranges(text)
    text = _expand_numbers(text)
    text = characters.keep_speakable(text)
    return characters.tidy_punctuation(text)


# --------------------------------------------------------------------------------------------
# Sentence splitting.

_SENTENCE_END_RE = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)|\n\s*\n")
_WORD_BEFORE_RE = re.compile(r"([A-Za-z][\w.]*)\.$")
# "U.S", "e.g", "Ph.D", but not "www.example.com".
_DOTTED_ACRONYM_RE = re.compile(r"(?:[A-Za-z]{1,2}\.)+[A-Za-z]{1,2}")
_MAX_CHARS = 300


def _is_sentence_end(text: str, m: re.Match[str]) -> bool:
    mark = m[0]
    if not mark.startswith(".") or mark.startswith(".."):
        return True
    word = _WORD_BEFORE_RE.search(text[max(0, m.start() - LOOKBACK) : m.start() + 1])
    if word is None:
        return True
    token = word[1]
    # Titles, initials ("J. Smith") and dotted acronyms ("the U.S. Army") do not end sentences.
    if (
        token in NEVER_FINAL
        or (len(token) == 1 and token.isupper())
        or _DOTTED_ACRONYM_RE.fullmatch(token)
    ):
        return False
    if token in MAYBE_FINAL:
        return ends_sentence(text, m.end())
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
        sentence = characters.collapse_whitespace(sentence).strip()
        if sentence:
            out += _split_long(sentence, max_chars)
    return out
