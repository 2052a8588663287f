"""Units: percentages, degrees and units of measurement after a number ("5 km", "10 mph").

A unit is read in any case where its lower case means one thing ("12KG", "3 MPH"), but "MB"
(megabytes) and "Mb" (megabits), "mW" and "MW" keep their case, and "G" after a number is a
generation ("5G"), not grams. Compounds are said with "per" ("m/s" -> meters per second, "3 mbps"
-> three megabits per second, "$3/lb" -> three dollars per pound), powers of a length with
"square" and "cubic" ("km²", "50 m2" -> square meters, "km³" -> cubic kilometers), other powers
with "squared" and "cubed" ("m/s²" -> meters per second squared).
"""

from __future__ import annotations

import re

from tts_ebm.text.readings.abbreviations import ends_sentence
from tts_ebm.text.readings.numbers import decimal_text
from tts_ebm.text.readings.numerals import MINUS, NUM, is_attributive

__all__ = ["PERCENT_RE", "expand_degrees", "expand_units", "mark_powers", "read_percent"]

# Written symbol -> (singular, plural). Only symbols that mean one thing after a number: not
# "m" (meters, minutes or million), "s", "h", "l" or "in" (these are read inside compounds).
_UNITS = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "mpg": ("mile per gallon", "miles per gallon"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "μm": ("micrometer", "micrometers"),
    "nm": ("nanometer", "nanometers"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "in.": ("inch", "inches"),
    "yd": ("yard", "yards"),
    "yds": ("yard", "yards"),
    "sq ft": ("square foot", "square feet"),
    "sq. ft.": ("square foot", "square feet"),
    "sqft": ("square foot", "square feet"),
    "sq mi": ("square mile", "square miles"),
    "cu ft": ("cubic foot", "cubic feet"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "μg": ("microgram", "micrograms"),
    "g": ("gram", "grams"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "fl oz": ("fluid ounce", "fluid ounces"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "L": ("liter", "liters"),
    "gal": ("gallon", "gallons"),
    "qt": ("quart", "quarts"),
    "tsp": ("teaspoon", "teaspoons"),
    "tbsp": ("tablespoon", "tablespoons"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "kb": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "mb": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "gb": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "tb": ("terabyte", "terabytes"),
    "KiB": ("kibibyte", "kibibytes"),
    "MiB": ("mebibyte", "mebibytes"),
    "GiB": ("gibibyte", "gibibytes"),
    "Kb": ("kilobit", "kilobits"),
    "Mb": ("megabit", "megabits"),
    "Gb": ("gigabit", "gigabits"),
    "Tb": ("terabit", "terabits"),
    "bps": ("bit per second", "bits per second"),
    "kbps": ("kilobit per second", "kilobits per second"),
    "mbps": ("megabit per second", "megabits per second"),
    "gbps": ("gigabit per second", "gigabits per second"),
    "MBps": ("megabyte per second", "megabytes per second"),
    "GBps": ("gigabyte per second", "gigabytes per second"),
    "hz": ("hertz", "hertz"),
    "khz": ("kilohertz", "kilohertz"),
    "mhz": ("megahertz", "megahertz"),
    "ghz": ("gigahertz", "gigahertz"),
    "W": ("watt", "watts"),
    "kw": ("kilowatt", "kilowatts"),
    "MW": ("megawatt", "megawatts"),
    "mW": ("milliwatt", "milliwatts"),
    "kwh": ("kilowatt hour", "kilowatt hours"),
    "V": ("volt", "volts"),
    "mAh": ("milliamp hour", "milliamp hours"),
    "ms": ("millisecond", "milliseconds"),
    "μs": ("microsecond", "microseconds"),
    "ns": ("nanosecond", "nanoseconds"),
    "sec": ("second", "seconds"),
    "min": ("minute", "minutes"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "rpm": ("R-P-M", "R-P-M"),
    "fps": ("frame per second", "frames per second"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
}
# Read in any case by their lower-case key, except these ("5G", "2 L" but not "2 l").
_CASE_KEPT = frozenset({"g", "l"})
# Symbols read only inside a compound or with a power ("m/s", "m2"), with the units above.
_BASES = {
    **_UNITS,
    "m": ("meter", "meters"),
    "in": ("inch", "inches"),
    "s": ("second", "seconds"),
    "h": ("hour", "hours"),
    "l": ("liter", "liters"),
}
_LENGTHS = frozenset({"km", "cm", "mm", "μm", "nm", "m", "mi", "ft", "in", "yd"})


def _alternation(symbols: list[str]) -> str:
    """Longest first, so that "kmh" is not read as "km"."""
    return "|".join(
        re.escape(u).replace("°", "° ?") for u in sorted(symbols, key=len, reverse=True)
    )


_BASE = _alternation([u for u in _BASES if "/" not in u and " " not in u and "°" not in u])
_AMOUNT = r"(?<![$£€¥\w.,])(?P<num>\d[\d,]*(?:\.\d+)?)\s?"
# A power is "^2" (a superscript, marked by ``mark_powers``) or, after a number, a bare "2".
_COMPOUND = (
    rf"(?P<u1>{_BASE})(?P<p1>\^[23]|[23](?!\d))?(?:/(?P<u2>{_BASE})(?P<p2>\^[23]|[23](?!\d))?)?"
    r"(?![\w/^])"
)
_COMPOUND_RE = re.compile(rf"(?:{_AMOUNT}|(?<![\w/]))(?-i:{_COMPOUND})")
_UNIT_RE = re.compile(rf"{_AMOUNT}(?P<unit>{_alternation(list(_UNITS))})(?![\w/^])", re.IGNORECASE)
# "$3/lb", "$15/hr": per one of the unit after the slash.
_PER = {"lb": "pound", "kg": "kilogram", "oz": "ounce", "hr": "hour", "hour": "hour"}
_PER |= {"day": "day", "night": "night", "week": "week", "wk": "week", "month": "month"}
_PER |= {"mo": "month", "year": "year", "yr": "year", "person": "person", "gal": "gallon"}
_PER |= {"mi": "mile", "km": "kilometer", "sq ft": "square foot", "ft": "foot"}
_PER_RE = re.compile(rf"(?<=\d)/(?P<unit>{'|'.join(sorted(_PER, key=len, reverse=True))})\b")
_FEET_INCHES_RE = re.compile(
    r"(?<![\w'])(?P<ft>\d{1,2})(?:'|\s?ft\.?)\s?(?P<inch>\d{1,2})(?:\"|''|\s?in\b(?P<dot>\.)?)(?!\w)"
)
_BEARING_RE = re.compile(r"(?P<num>\d+(?:\.\d+)?)\s?°\s?(?P<dir>[NSEW])\b")
_DIRECTIONS = {"N": "north", "S": "south", "E": "east", "W": "west"}
_SUPERSCRIPTS = str.maketrans({"²": "^2", "³": "^3"})
_POWER_WORDS = ((re.compile(r"\^2\b"), " squared"), (re.compile(r"\^3\b"), " cubed"))
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


def _names(symbol: str, table: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """(singular, plural) of a written symbol: as written, else by its lower case."""
    for written in (symbol, symbol.replace(" ", "")):
        found = table.get(written)
        if found is None and written.lower() not in _CASE_KEPT:
            found = table.get(written.lower())
        if found is not None:
            return found
    return None


def _is_one(m: re.Match[str]) -> bool:
    return m["num"] == "1" or is_attributive(m)


def _unit(m: re.Match[str]) -> str:
    names = _names(m["unit"], _UNITS)
    if names is None:
        return m[0]
    # A symbol's full stop ("in.", "sq. ft.") may also end the sentence.
    dot = "." if m["unit"].endswith(".") and ends_sentence(m.string, m.end()) else ""
    return f"{m['num']} {names[1 - _is_one(m)]}{dot}"


def _powered(symbol: str, power: str | None, plural: bool) -> str:
    """ "km", "^2" -> "square kilometers"; "s", "^2" -> "seconds squared"."""
    name = _BASES[symbol][plural]
    if not power:
        return name
    n = power[-1]
    if symbol in _LENGTHS:
        return ("square " if n == "2" else "cubic ") + name
    return name + (" squared" if n == "2" else " cubed")


def _compound(m: re.Match[str]) -> str:
    """A unit with a power or a "per": only these forms, since a bare "m" or "in" is a word."""
    u1, u2 = m["u1"], m["u2"]
    if not (u2 or m["p1"]) or (m["p1"] and m["p1"][0] != "^" and not m["num"]):
        return m[0]
    words = _powered(u1, m["p1"], plural=not (m["num"] and _is_one(m)))
    if u2:
        words += " per " + _powered(u2, m["p2"], plural=False)
    return f"{m['num']} {words}" if m["num"] else words


def _feet_inches(m: re.Match[str]) -> str:
    feet = "foot" if m["ft"] == "1" else "feet"
    inches = "inch" if m["inch"] == "1" else "inches"
    dot = "." if m["dot"] and ends_sentence(m.string, m.end()) else ""
    return f"{m['ft']} {feet} {m['inch']} {inches}{dot}"


def mark_powers(text: str) -> str:
    """Keep superscript powers apart from digits ("km³" -> "km^3") before compatibility
    folding would make them plain digits ("km3")."""
    return text.translate(_SUPERSCRIPTS)


def expand_units(text: str) -> str:
    """Name the unit after a number: "5 km" -> "5 kilometers", "1°" -> "1 degree", "a 5 km run"
    -> "a 5 kilometer run", "40°N" -> "40 degrees north", "5'10\"" and "5 ft 10 in" -> "5 feet 10
    inches"; the digits are read later."""
    text = _FEET_INCHES_RE.sub(_feet_inches, text)
    text = _BEARING_RE.sub(lambda m: f"{m['num']} degrees {_DIRECTIONS[m['dir']]}", text)
    text = _PER_RE.sub(lambda m: f" per {_PER[m['unit']]}", text)
    text = _COMPOUND_RE.sub(_compound, text)
    text = _UNIT_RE.sub(_unit, text)
    for pattern, words in _POWER_WORDS:
        text = pattern.sub(words, text)
    return text


def expand_degrees(text: str) -> str:
    """A degree sign without a number before it: "°F" -> "degrees Fahrenheit"."""
    for pattern, words in _DEGREES:
        text = pattern.sub(words, text)
    return text
