"""Times of day, American style: "3:30 p.m." -> "three thirty P-M", "10:00" -> "ten o'clock",
"14:05" -> "fourteen oh five", "17:00" -> "seventeen hundred", "14:10:30" -> "fourteen ten and
thirty seconds"; a.m. and p.m. in any spelling ("1:00a.m.", "9AM", "7:30p"), a time zone after a
time spelled out ("E-S-T"), and a dash between two times read "to" ("2pm-5pm").

A time already in words but written with its colon, as in the LJSpeech transcripts
("twelve:thirty"), loses the colon, which espeak would read as a pause.
"""

from __future__ import annotations

import re

from tts_ebm.text.readings.abbreviations import ends_sentence
from tts_ebm.text.readings.numbers import number_to_words

__all__ = [
    "HOUR_AMPM_RE",
    "TIME_RE",
    "mark_time_ranges",
    "read_hour_ampm",
    "read_time",
    "unglue_spelled_times",
]

# "p.m." arrives here already read as "P-M" by the dotted-acronym rule, unless it touched the
# digits ("1:00p.m."); a bare "a"/"p" only right after minutes ("7:30p").
_AMPM = r"(?:\s?(?P<ampm>[ap])[.-]?\s?m\b(?P<dot>\.)?)"
_BARE_AMPM = r"(?P<bare>[ap])\b(?![.'-]\w)"
_ZONES = "UTC|GMT|AKST|AKDT|HST|[ECMP][SD]?T"
_ZONE = rf"(?:\s(?-i:(?P<zone>{_ZONES})\b))?"
TIME_RE = re.compile(
    rf"(?<![\d:.])(?P<h>\d{{1,2}}):(?P<m>\d{{2}})(?::(?P<s>\d{{2}}))?(?![\d:])"
    rf"(?:{_AMPM}|{_BARE_AMPM})?{_ZONE}",
    re.IGNORECASE,
)
HOUR_AMPM_RE = re.compile(rf"\b(?P<h>\d{{1,2}}){_AMPM}{_ZONE}", re.IGNORECASE)
# One side of a time range: at least one side has a.m./p.m. or both have minutes.
_SIDE = r"\d{1,2}(?::\d{2})?(?:\s?[ap][.-]?\s?m\b\.?)?"
_TIME_RANGE_RE = re.compile(
    rf"(?<![\w:.])(?P<a>{_SIDE})\s?-\s?(?P<b>{_SIDE})(?![\w:])(?!-\d)", re.IGNORECASE
)
_HAS_AMPM_RE = re.compile(r"[ap][.-]?\s?m\b", re.IGNORECASE)
# The last word of an hour ("twenty-one" ends in "one") and the first word of a minute as said
# after it: "oh" (five), ten to nineteen, the tens.
_HOUR_WORDS = sorted({number_to_words(h).split()[-1] for h in range(25)})
_MINUTE_WORDS = sorted({number_to_words(m).split()[0] for m in range(10, 60)} | {"oh"})
_SPELLED_TIME_RE = re.compile(
    rf"\b({'|'.join(_HOUR_WORDS)}):(?=(?:{'|'.join(_MINUTE_WORDS)})\b)", re.IGNORECASE
)


def _ampm(m: re.Match[str]) -> str:
    """Read "pm" as "P-M" (letters, as dotted acronyms are read), keeping a full stop if it
    also ended the sentence; then the time zone, letter by letter ("E-S-T")."""
    groups = m.groupdict()
    letter = groups["ampm"] or groups.get("bare")
    words = f" {letter.upper()}-M" if letter else ""
    if m["zone"]:
        return words + " " + "-".join(m["zone"])
    return words + "." if m["dot"] and ends_sentence(m.string, m.end()) else words


def read_time(m: re.Match[str]) -> str:
    hour, minute = int(m["h"]), int(m["m"])
    second = int(m["s"]) if m["s"] else 0
    if hour > 24 or minute > 59 or second > 59:
        return m[0]
    words = number_to_words(hour)
    said_ampm = m["ampm"] or m["bare"]
    if minute == 0:
        if not said_ampm:
            words += " hundred" if hour > 12 else " o'clock"
    elif minute < 10:
        words += f" oh {number_to_words(minute)}"
    else:
        words += " " + number_to_words(minute)
    if second:
        words += f" and {number_to_words(second)} second{'s' if second > 1 else ''}"
    return words + _ampm(m)


def read_hour_ampm(m: re.Match[str]) -> str:
    hour = int(m["h"])
    return m[0] if hour > 24 else number_to_words(hour) + _ampm(m)


def mark_time_ranges(text: str) -> str:
    """A dash between two times is said "to": "2pm-5pm", "9:30-11:00 a.m."."""

    def to(m: re.Match[str]) -> str:
        a, b = m["a"], m["b"]
        timed = bool(_HAS_AMPM_RE.search(a) or _HAS_AMPM_RE.search(b))
        return f"{a} to {b}" if timed or (":" in a and ":" in b) else m[0]

    return _TIME_RANGE_RE.sub(to, text)


def unglue_spelled_times(text: str) -> str:
    """Read "twelve:thirty" as "twelve thirty": the colon is no pause inside a time."""
    return _SPELLED_TIME_RE.sub(r"\1 ", text)
