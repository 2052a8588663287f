"""Numbers to words, American style: no "and" (105 -> "one hundred five"), no hyphens."""

from __future__ import annotations

__all__ = [
    "cardinal_text",
    "decimal_text",
    "digits_to_words",
    "number_to_words",
    "ordinal_to_words",
    "paired_to_words",
    "plural",
    "to_int",
    "year_to_words",
]

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


def digits_to_words(digits: str) -> str:
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
        return digits_to_words(str(n))
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


def paired_to_words(digits: str) -> str:
    """A number said in pairs, as house, route and model numbers are: "123" -> "one twenty
    three", "305" -> "three oh five", "1600" -> "sixteen hundred", "2005" -> "twenty oh five"
    (but "2000" -> "two thousand")."""
    if len(digits) < 3 or digits.startswith("0") or int(digits) % 1000 == 0:
        return cardinal_text(digits)
    head, rest = digits[:-2], int(digits[-2:])
    words = paired_to_words(head) if len(head) > 2 else number_to_words(int(head))
    if rest == 0:
        return f"{words} hundred"
    return f"{words} {'oh ' if rest < 10 else ''}{number_to_words(rest)}"


def plural(words: str) -> str:
    """Pluralise the last number word: "nineteen eighty" -> "nineteen eighties"."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    if words.endswith("x"):
        return words + "es"
    return words + "s"


def to_int(text: str) -> int:
    """The value of digits written with or without thousands separators ("1,234")."""
    return int(text.replace(",", ""))


def cardinal_text(text: str) -> str:
    """Digits (maybe with thousands separators) to words; leading zeros are read out."""
    digits = text.replace(",", "")
    if len(digits) > 1 and digits.startswith("0"):
        return digits_to_words(digits)
    return number_to_words(int(digits))


def decimal_text(integer: str | None, fraction: str | None) -> str:
    """Integer and fraction digits as written ("3", "14") -> "three point one four"."""
    words = cardinal_text(integer) if integer else ""
    if fraction:
        words = f"{words} point {digits_to_words(fraction)}".strip()
    return words
