"""Dates and times of day: "3:30 p.m." -> "three thirty P-M", "10:00" -> "ten o'clock"."""

from __future__ import annotations

import re

from tts_ebm.text.readings.abbreviations import ends_sentence
from tts_ebm.text.readings.numbers import number_to_words

_AMPM = r"(?:\s*(?P<ampm>[ap])\.?\s?m\b(?P<dot>\.)?)"
TIME_RE = re.compile(rf"\b(?P<h>\d{{1,2}}):(?P<m>\d{{2}})\b{_AMPM}?", re.IGNORECASE)
HOUR_AMPM_RE = re.compile(rf"\b(?P<h>\d{{1,2}}){_AMPM}", re.IGNORECASE)


def _ampm(m: re.Match[str]) -> str:
    """Read "p.m." as "P-M" (letters, as dotted acronyms are read), keeping a full stop if it
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
