"""Dates and times of day, American style.

A day after its month is an ordinal ("March 15" -> "March fifteenth"), a day before it is read
"the fifteenth of March"; numeric dates are month first, as in the US: "2024-01-03" and
"1/3/2024" are both "January third, twenty twenty four" (but "31/12/2023" can only be day
first). Times: "3:30 p.m." -> "three thirty P-M", "10:00" -> "ten o'clock", "14:05" ->
"fourteen oh five"; a time already in words but written with its colon, as in the LJSpeech
transcripts ("twelve:thirty"), loses the colon, which espeak would read as a pause."""

from __future__ import annotations

import re

from tts_ebm.text.readings.abbreviations import LOOKBACK, MONTH_NAMES, ends_sentence
from tts_ebm.text.readings.numbers import number_to_words, ordinal_to_words, year_to_words

__all__ = [
    "DAY_MONTH_RE",
    "HOUR_AMPM_RE",
    "ISO_DATE_RE",
    "MONTH_DAY_RE",
    "TIME_RE",
    "US_DATE_RE",
    "read_day_month",
    "read_hour_ampm",
    "read_month_day",
    "read_numeric_date",
    "read_time",
    "unglue_spelled_times",
]

_MONTHS = MONTH_NAMES.split("|")
# "p.m." arrives here already read as "P-M" by the dotted-acronym rule.
_AMPM = r"(?:\s*(?P<ampm>[ap])[.-]?\s?m\b(?P<dot>\.)?)"
TIME_RE = re.compile(rf"\b(?P<h>\d{{1,2}}):(?P<m>\d{{2}})\b{_AMPM}?", re.IGNORECASE)
HOUR_AMPM_RE = re.compile(rf"\b(?P<h>\d{{1,2}}){_AMPM}", re.IGNORECASE)
ISO_DATE_RE = re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\b(?!-)")
US_DATE_RE = re.compile(r"(?<![\d/])(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})\b(?!/)")
# Not "March 2,000" nor "May 3.5": the day is a whole number on its own.
MONTH_DAY_RE = re.compile(rf"\b(?P<month>{MONTH_NAMES})\s+(?P<d>\d{{1,2}})\b(?![,.:]?\d)")
DAY_MONTH_RE = re.compile(
    rf"(?<![\d,.:])\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<month>{MONTH_NAMES})\b"
)
_THE_BEFORE_RE = re.compile(r"\bthe\s+$", re.IGNORECASE)
# The last word of an hour ("twenty-one" ends in "one") and the first word of a minute as said
# after it: "oh" (five), ten to nineteen, the tens.
_HOUR_WORDS = sorted({number_to_words(h).split()[-1] for h in range(25)})
_MINUTE_WORDS = sorted({number_to_words(m).split()[0] for m in range(10, 60)} | {"oh"})
_SPELLED_TIME_RE = re.compile(
    rf"\b({'|'.join(_HOUR_WORDS)}):(?=(?:{'|'.join(_MINUTE_WORDS)})\b)", re.IGNORECASE
)


def _ampm(m: re.Match[str]) -> str:
    """Read "pm" as "P-M" (letters, as dotted acronyms are read), keeping a full stop if it
    also ended the sentence."""
    words = f" {m['ampm'].upper()}-M"
    return words + "." if m["dot"] and ends_sentence(m.string, m.end()) else words


def read_time(m: re.Match[str]) -> str:
    hour, minute = int(m["h"]), int(m["m"])
    if hour > 24 or minute > 59:
        return m[0]
    words = number_to_words(hour)
    if minute == 0:
        words += "" if m["ampm"] else " o'clock"
    elif minute < 10:
        words += f" oh {number_to_words(minute)}"
    else:
        words += " " + number_to_words(minute)
    return words + _ampm(m) if m["ampm"] else words


def read_hour_ampm(m: re.Match[str]) -> str:
    hour = int(m["h"])
    return m[0] if hour > 24 else number_to_words(hour) + _ampm(m)


def unglue_spelled_times(text: str) -> str:
    """Read "twelve:thirty" as "twelve thirty": the colon is no pause inside a time."""
    return _SPELLED_TIME_RE.sub(r"\1 ", text)


def read_numeric_date(m: re.Match[str]) -> str:
    """Year, month and day in digits; a first number above 12 can only be the day
    ("31/12/2023"); read as written if they cannot be a date."""
    month, day = int(m["m"]), int(m["d"])
    if month > 12 >= day:
        month, day = day, month
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return m[0]
    return f"{_MONTHS[month - 1]} {ordinal_to_words(day)}, {year_to_words(int(m['y']))}"


def read_month_day(m: re.Match[str]) -> str:
    day = int(m["d"])
    return f"{m['month']} {ordinal_to_words(day)}" if 1 <= day <= 31 else m[0]


def read_day_month(m: re.Match[str]) -> str:
    day = int(m["d"])
    if not 1 <= day <= 31:
        return m[0]
    said_the = _THE_BEFORE_RE.search(m.string, max(0, m.start() - LOOKBACK), m.start())
    the = "" if said_the else "the "
    return f"{the}{ordinal_to_words(day)} of {m['month']}"
