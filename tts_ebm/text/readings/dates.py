"""Dates, American style.

A day after its month is an ordinal ("March 15" -> "March fifteenth", "January 5-7" -> "January
fifth to seventh"), a day before it is read "the fifteenth of March". Month names are read in any
case and abbreviated with or without a full stop ("jan. 15", "SEPT 15", "15-Jan-2020") when a day
stands beside them; lower-case "may", "march" and "mar" are verbs more often than months and stay
words. Numeric dates are month first with slashes and dashes, as in the US ("1/3/2024",
"2024-01-03": January third), day first with dots, as in Europe ("15.01.2020"); a number above 12
can only be the day, whichever place it takes ("31/12/2023"); a month and a year are read so
("12/2025" -> "December twenty twenty five"). A two-digit year is read as written
("1/15/99" -> "January fifteenth, ninety nine").
"""

from __future__ import annotations

import re

from tts_ebm.text.readings.abbreviations import LOOKBACK, MONTH_NAMES, ends_sentence
from tts_ebm.text.readings.numbers import number_to_words, ordinal_to_words, year_to_words

__all__ = [
    "DAY_MONTH_RE",
    "DOTTED_DATE_RE",
    "MONTH_DAY_RE",
    "MONTH_YEAR_RE",
    "US_DATE_RE",
    "YEAR_FIRST_DATE_RE",
    "name_months",
    "read_day_month",
    "read_month_day",
    "read_month_year",
    "read_numeric_date",
]

_MONTHS = MONTH_NAMES.split("|")
_MONTH_WORD = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_VERBS = frozenset({"may", "march", "mar"})
_MONTH_BEFORE_DAY_RE = re.compile(
    rf"\b(?P<mon>{_MONTH_WORD})\b(?P<dot>\.)?(?=[\s-]?\d{{1,2}}(?!\d))", re.IGNORECASE
)
_DAY_BEFORE_MONTH_RE = re.compile(
    rf"\b(?P<d>\d{{1,2}}(?:st|nd|rd|th)?)(?:\s|-(?=[A-Za-z]+-\d))(?P<mon>{_MONTH_WORD})\b"
    r"(?P<dot>\.)?(?:-(?P<y>\d{4})\b)?",
    re.IGNORECASE,
)
YEAR_FIRST_DATE_RE = re.compile(
    r"(?<![\d.\-/])(?P<y>\d{4})(?P<s>[-/.])(?P<m>\d{1,2})(?P=s)(?P<d>\d{1,2})(?!\d|(?P=s)\d)"
)
US_DATE_RE = re.compile(
    r"(?<![\d.\-/])(?P<m>\d{1,2})(?P<s>[/-])(?P<d>\d{1,2})(?P=s)(?P<y>\d{4}|\d{2})"
    r"(?!\d|(?P=s)\d|\.\d)"
)
# "12/2025", "03/2024": a month and a year (not "1/1000", whose second number is no year).
MONTH_YEAR_RE = re.compile(r"(?<![\d/.])(?P<m>0?[1-9]|1[0-2])/(?P<y>(?:19|20)\d{2})(?![\d/]|\.\d)")
DOTTED_DATE_RE = re.compile(r"(?<![\d.])(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})(?!\d|\.\d)")
# Not "March 2,000" nor "May 3.5": the day is a whole number on its own.
MONTH_DAY_RE = re.compile(
    rf"\b(?P<month>{MONTH_NAMES})[\s-]+(?P<d>\d{{1,2}})\b(?:\s?-\s?(?P<d2>\d{{1,2}})\b)?"
    r"(?![,.:]?\d)"
)
DAY_MONTH_RE = re.compile(
    rf"(?<![\d,.:])\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<month>{MONTH_NAMES})\b"
)
_THE_BEFORE_RE = re.compile(r"\bthe\s+$", re.IGNORECASE)


def _month_name(written: str) -> str | None:
    """The month a written word names ("SEPT" -> "September"), or None for a verb."""
    if written in _VERBS:
        return None
    return next(name for name in _MONTHS if name.lower().startswith(written[:3].lower()))


def name_months(text: str) -> str:
    """Month words beside a day, in any case or abbreviated, become the month's name: "jan. 15"
    -> "January 15", "15-JAN-2020" -> "15 January 2020"."""

    def before_day(m: re.Match[str]) -> str:
        name = _month_name(m["mon"])
        return m[0] if name is None else name + " "

    def after_day(m: re.Match[str]) -> str:
        name = _month_name(m["mon"])
        if name is None:
            return m[0]
        year = f" {m['y']}" if m["y"] else ""
        dot = "." if m["dot"] and not year and ends_sentence(m.string, m.end()) else ""
        return f"{m['d']} {name}{year}{dot}"

    text = _DAY_BEFORE_MONTH_RE.sub(after_day, text)
    return _MONTH_BEFORE_DAY_RE.sub(before_day, text)


def _year(written: str) -> str:
    """A four-digit year as a year; two digits as written ("99", "05" -> "oh five")."""
    if len(written) == 4:
        return year_to_words(int(written))
    tens = int(written)
    return f"oh {number_to_words(tens)}" if written.startswith("0") else number_to_words(tens)


def read_numeric_date(m: re.Match[str]) -> str:
    """Read as "January third, twenty twenty four". The pattern names its numbers by the order
    of its format (month first, or day first with dots); a month above 12 can only be the day.
    Read as written if the numbers cannot be a date, or with dashes and a two-digit year."""
    month, day = int(m["m"]), int(m["d"])
    if month > 12 >= day:
        month, day = day, month
    short_dashed = m.groupdict().get("s") == "-" and len(m["y"]) == 2
    if not (1 <= month <= 12 and 1 <= day <= 31) or short_dashed:
        return m[0]
    return f"{_MONTHS[month - 1]} {ordinal_to_words(day)}, {_year(m['y'])}"


def read_month_year(m: re.Match[str]) -> str:
    """ "12/2025" -> "December twenty twenty five"."""
    return f"{_MONTHS[int(m['m']) - 1]} {year_to_words(int(m['y']))}"


def read_month_day(m: re.Match[str]) -> str:
    day = int(m["d"])
    if not 1 <= day <= 31:
        return m[0]
    words = f"{m['month']} {ordinal_to_words(day)}"
    if m["d2"]:
        last = int(m["d2"])
        if not day < last <= 31:
            return m[0]
        words += f" to {ordinal_to_words(last)}"
    return words


def read_day_month(m: re.Match[str]) -> str:
    day = int(m["d"])
    if not 1 <= day <= 31:
        return m[0]
    said_the = _THE_BEFORE_RE.search(m.string, max(0, m.start() - LOOKBACK), m.start())
    the = "" if said_the else "the "
    return f"{the}{ordinal_to_words(day)} of {m['month']}"
