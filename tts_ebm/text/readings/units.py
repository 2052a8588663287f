"""Units: percentages, degrees and units of measurement after a number ("5 km", "10 mph")."""

from __future__ import annotations

import re

from tts_ebm.text.readings.numbers import decimal_text
from tts_ebm.text.readings.numerals import MINUS, NUM, is_attributive

__all__ = ["PERCENT_RE", "expand_degrees", "expand_units", "read_percent"]

# Written symbol -> (singular, plural). Only symbols that mean one thing after a number: not
# "m" (meters, minutes or million), "s", "h", "l" or "in".
_UNITS = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "yd": ("yard", "yards"),
    "yds": ("yard", "yards"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "g": ("gram", "grams"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "kW": ("kilowatt", "kilowatts"),
    "ms": ("millisecond", "milliseconds"),
    "sec": ("second", "seconds"),
    "min": ("minute", "minutes"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
}
# The number is left as digits for the numeral readings; it only decides singular or plural.
# Not after a currency sign ("$5m" is money).
_UNIT_RE = re.compile(
    r"(?<![$£€¥\w.,])(?P<num>\d[\d,]*(?:\.\d+)?)\s?"
    rf"(?P<unit>{'|'.join(re.escape(u).replace('°', '° ?') for u in _UNITS)})(?![\w/])"
)
PERCENT_RE = re.compile(rf"(?P<neg>{MINUS})?(?P<int>{NUM})?(?:\.(?P<frac>\d+))?\s?%")
_DEGREES = (
    (re.compile(r"\s?°\s?C\b"), " degrees Celsius "),
    (re.compile(r"\s?°\s?F\b"), " degrees Fahrenheit "),
    (re.compile(r"\s?°"), " degrees "),
)


def read_percent(m: re.Match[str]) -> str:
    if not (m["int"] or m["frac"]):
        return "percent"
    minus = "minus " if m["neg"] else ""
    return f"{minus}{decimal_text(m['int'], m['frac'])} percent"


def _unit(m: re.Match[str]) -> str:
    singular, plural = _UNITS[m["unit"].replace(" ", "")]
    one = m["num"] == "1" or is_attributive(m)
    return f"{m['num']} {singular if one else plural}"


def expand_units(text: str) -> str:
    """Name the unit after a number: "5 km" -> "5 kilometers", "1°" -> "1 degree", "a 5 km run"
    -> "a 5 kilometer run"; the digits are read later."""
    return _UNIT_RE.sub(_unit, text)


def expand_degrees(text: str) -> str:
    """A degree sign without a number before it: "°F" -> "degrees Fahrenheit"."""
    for pattern, words in _DEGREES:
        text = pattern.sub(words, text)
    return text
