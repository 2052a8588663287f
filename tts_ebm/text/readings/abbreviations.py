"""Abbreviations: titles, street words, Latin, calendar words and dotted acronyms.

Which abbreviation a full stop belongs to also decides whether it ends a sentence, so the tables
here serve both the reading (``expand_abbreviations``) and sentence splitting
(``NEVER_FINAL``, ``MAYBE_FINAL``, ``ends_sentence``).
"""

from __future__ import annotations

import re

__all__ = [
    "LOOKBACK",
    "MAYBE_FINAL",
    "MONTH_NAMES",
    "NEVER_FINAL",
    "STREET_TYPES",
    "ends_sentence",
    "expand_abbreviations",
]

# Titles stand before a name, so their full stop never ends a sentence.
_TITLES = {
    "Mr": "Mister",
    "Mrs": "Missus",
    "Ms": "Miz",
    "Messrs": "Messers",
    "Drs": "Doctors",
    "Hon": "Honorable",
    "Capt": "Captain",
    "Gen": "General",
    "Lt": "Lieutenant",
    "Col": "Colonel",
    "Maj": "Major",
    "Sgt": "Sergeant",
    "Rev": "Reverend",
    "Prof": "Professor",
    "Sen": "Senator",
    "Gov": "Governor",
    "Rep": "Representative",
    "Pres": "President",
    "Mt": "Mount",
    "Ft": "Fort",
}
_MONTHS = {
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
MONTH_NAMES = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
)
# These can close a sentence ("... and Co. The next day"): the full stop is then kept.
_TERMINAL = {
    "Jr": "Junior",
    "Sr": "Senior",
    "Esq": "Esquire",
    "Co": "Company",
    "Corp": "Corporation",
    "Inc": "Incorporated",
    "Ltd": "Limited",
    "Bros": "Brothers",
    "Ave": "Avenue",
    "Rd": "Road",
    "Blvd": "Boulevard",
    "Ln": "Lane",
    "Pkwy": "Parkway",
    "Hwy": "Highway",
    "Apt": "Apartment",
    "Ste": "Suite",
    "Bldg": "Building",
    "Dept": "Department",
    "Govt": "Government",
    "Univ": "University",
    "Fig": "Figure",
    "Vol": "Volume",
    "approx": "approximately",
    "etc": "et cetera",
    **_MONTHS,
}
# Street words after a street's name ("Main St", "Elm Ct."), read in addresses.
STREET_TYPES = {
    **{k: _TERMINAL[k] for k in ("Ave", "Rd", "Blvd", "Ln", "Pkwy", "Hwy")},
    **{"St": "Street", "Dr": "Drive", "Ct": "Court", "Pl": "Place", "Ter": "Terrace"},
    **{"Cir": "Circle", "Sq": "Square"},
}
# Numbered parts of an address, written out before their number with or without a full stop
# ("Apt 4B", "Ste. 200", "Rte 66").
_BEFORE_NUMBER = {"Apt": "Apartment", "Ste": "Suite", "Bldg": "Building", "Rm": "Room"}
_BEFORE_NUMBER |= {"Hwy": "Highway", "Rte": "Route"}
_BEFORE_NUMBER_RE = re.compile(rf"\b({'|'.join(_BEFORE_NUMBER)})\b\.?(?=\s*#?\d)")
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
# Words that start a phrase with a capital but are not part of a street name ("The St. Louis").
_NOT_NAMES = frozenset(
    {"A", "An", "The", "In", "At", "On", "To", "From", "Of", "By", "For", "Near", "And", "Or"}
    | {"But", "With", "Via", "Visit", "Visited"}
)

_ABBREVIATIONS = frozenset({*_TITLES, *_TERMINAL, *_WEEKDAYS, "Dr", "St", "No"})
# Words whose full stop never ends a sentence.
NEVER_FINAL = frozenset({*_TITLES, "Dr", "St", "vs", "viz"})
# Words whose full stop ends a sentence only when a capitalised word follows ("No. 5", "Jan. 3",
# but "He said no. Then").
MAYBE_FINAL = frozenset({*_TERMINAL, *_WEEKDAYS, "No", "no"})

_TITLE_RE = re.compile(rf"\b({'|'.join(_TITLES)})\.\s*")
_TERMINAL_RE = re.compile(rf"\b({'|'.join(_TERMINAL)})\.")
_ANY_MONTH = f"(?:{'|'.join(_MONTHS)}|{MONTH_NAMES})\\b"
_ANY_WEEKDAY = f"(?:{'|'.join(_WEEKDAYS)})\\b"
# "Wed., Feb. 14", and without the full stop beside a date, a time or another weekday ("Fri, Jan
# 12", "Sat 10am", "Mon-Fri"); "Sun" alone is the star.
_WEEKDAY_RE = re.compile(
    rf"\b({'|'.join(_WEEKDAYS)})(?:\.(?=\s*,|\s+\d|\s+{_ANY_MONTH})"
    rf"|\b(?=,\s*(?:\d|{_ANY_MONTH})|\s+\d|\s*-\s*{_ANY_WEEKDAY}))"
)
_DAY_NAME = "(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
_WEEKDAY_RANGE_RE = re.compile(rf"\b({_DAY_NAME})\s*-\s*(?={_DAY_NAME}\b)")
_SAINT_OR_STREET_RE = re.compile(r"\b(St|Dr)\.")
_NUMBER_ABBR_RE = re.compile(r"\b([Nn])o\.(?=\s*\d)|#(?=\d)")
_LATIN_RE = re.compile(r"\b(e\.g|i\.e|vs|viz)\b\.?", re.IGNORECASE)
_LATIN = {"e.g": "for example", "i.e": "that is", "vs": "versus", "viz": "namely"}
_SENTENCE_STARTERS = frozenset(
    {"The", "A", "An", "He", "She", "It", "They", "We", "I", "You", "This", "That", "These"}
    | {"Those", "There", "In", "On", "At", "But", "And", "So", "Then", "When", "If", "As"}
    | {"His", "Her", "Its", "Their", "Our", "What", "Why", "How"}
)
_ACRONYM_RE = re.compile(r"\b(?:Ph\.D\.|(?:[A-Za-z]\.){2,})")
# A single initial before a name ("John F. Kennedy") loses its full stop; not "I" ("So do I.
# Then"), nor "A", which espeak would read as the article without it.
_INITIAL_RE = re.compile(r"(?<![\w.])([B-HJ-Z])\.(?=\s+[A-Z])")
# How far back the context of a match is looked at: the rules run once per match, on texts of
# any length.
LOOKBACK = 64
_AFTER_SENTENCE_END_RE = re.compile(r"[.!?]\W*$")
_PREVIOUS_WORD_RE = re.compile(r"([\w']+)\W*$")
_NEXT_WORD_RE = re.compile(r"\s*([\w']+)")
_NEXT_ABBREVIATION_RE = re.compile(r"([A-Za-z]+)\.")


def ends_sentence(text: str, end: int) -> bool:
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
    window_start = max(0, m.start() - LOOKBACK)
    prefix = m.string[window_start : m.start()]
    before = _PREVIOUS_WORD_RE.search(prefix)
    after = _NEXT_WORD_RE.match(m.string, m.end())
    # A capitalised word right before (not one that merely starts the sentence) or a house
    # number marks a street name.
    looks_like_name = bool(
        before
        and (before[1][0].isupper() or before[1][0].isdigit())
        and before[1] not in _NOT_NAMES
    )
    prev_is_name = False
    if before and looks_like_name:
        head = prefix[: before.start()]
        starts_sentence = _AFTER_SENTENCE_END_RE.search(head) or (
            window_start == 0 and not any(c.isalnum() for c in head)
        )
        prev_is_name = not starts_sentence
    next_is_name = bool(after and after[1][0].isupper() and after[1] not in _SENTENCE_STARTERS)
    # A title needs a name after it: "Dr." that ends the text after a name or a house number is
    # a street even when that word starts the sentence ("Smith Dr.").
    ends_text_after_name = after is None and looks_like_name
    if m[1] == "Dr" and (next_is_name or not prev_is_name) and not ends_text_after_name:
        return "Doctor " if after else "Doctor."
    if m[1] == "St" and next_is_name and not prev_is_name:
        return "Saint "
    street = "Street" if m[1] == "St" else "Drive"
    return street + ("." if ends_sentence(m.string, m.end()) else "")


def _acronym(m: re.Match[str]) -> str:
    """Spell out "U.S." as "U-S" ("Ph.D." as "P-H-D"), without full stops that would read as
    sentence ends.

    Hyphens, not spaces: espeak reads a lone "A" as the article, but "A-D" as letters. The last
    full stop is kept only before a word that usually starts a sentence, since acronyms are
    mostly followed by names ("the U.S. Army").
    """
    letters = "-".join(m[0].replace(".", "").upper())
    after = _NEXT_WORD_RE.match(m.string, m.end())
    ends = ends_sentence(m.string, m.end()) and (after is None or after[1] in _SENTENCE_STARTERS)
    return letters + ("." if ends else "")


def _terminal(m: re.Match[str]) -> str:
    return _TERMINAL[m[1]] + ("." if ends_sentence(m.string, m.end()) else "")


def expand_abbreviations(text: str) -> str:
    """Write out every abbreviation, keeping a full stop only where it also ends a sentence."""
    text = _BEFORE_NUMBER_RE.sub(lambda m: _BEFORE_NUMBER[m[1]], text)
    text = _NUMBER_ABBR_RE.sub(lambda m: "Number " if m[1] == "N" else "number ", text)
    text = _LATIN_RE.sub(lambda m: _LATIN[m[1].lower()], text)
    text = _INITIAL_RE.sub(r"\1", text)
    text = _ACRONYM_RE.sub(_acronym, text)
    text = _SAINT_OR_STREET_RE.sub(_saint_or_street, text)
    text = _TITLE_RE.sub(lambda m: _TITLES[m[1]] + " ", text)
    text = _WEEKDAY_RE.sub(lambda m: _WEEKDAYS[m[1]], text)
    text = _WEEKDAY_RANGE_RE.sub(r"\1 to ", text)
    return _TERMINAL_RE.sub(_terminal, text)
