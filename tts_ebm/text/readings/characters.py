"""Characters: Unicode to plain English letters, markup, and the punctuation that is kept.

The output alphabet is ASCII letters, the Latin letters with diacritics (``ACCENTED``), digits,
spaces and the sentence punctuation ``, . ! ? ; : - ' "``, which carries prosody. Diacritics are
kept because espeak-ng reads them as a reader says the word ("Müller" -> /mˈuːlɚ/, "crème
brûlée", "jalapeño", where the stripped spelling reads "mull-er", "creem broolee", "jala-peeno");
the character front end folds them to plain letters (``strip_accents``).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "ACCENTED",
    "collapse_whitespace",
    "keep_speakable",
    "strip_accents",
    "strip_markup",
    "tidy_punctuation",
    "to_plain_letters",
]

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
# Loanwords whose accents tell them apart from another English word: respelled so that espeak
# does not read the other word ("resume", "expose", "rose", "pass"); and words that espeak reads
# worse with their diacritics than an English reader says them ("Zürich" as "zoo-ritch", "Chloë"
# as "cloh-eh", "bric-à-brac" with a full "a", "célèbre" stressed first).
_RESPELLED = {
    "résumé": "rezzumay",
    "resumé": "rezzumay",
    "exposé": "expohzay",
    "rosé": "rohzay",
    "passé": "passay",
    "zürich": "zurich",
    "chloë": "chloe",
    "bric-à-brac": "bric-a-brac",
    "célèbre": "celebre",
}
_RESPELLED_RE = re.compile(rf"\b({'|'.join(_RESPELLED)})(s?)\b", re.IGNORECASE)
# A tag starts with a letter, "/" or "!" ("<b>", "</p>", "<!-- -->"), not "< " or "<3".
_MARKUP_RE = re.compile(r"<[A-Za-z/!][^<>]{0,79}>")
_BRACKETS_RE = re.compile(r"[()\[\]{}]")
_FINAL_BRACKETS_RE = re.compile(r"[)\]}]+(?=[\s.!?\"']*$)")


def _is_accented(char: str) -> bool:
    """A precomposed Latin letter: an ASCII letter with diacritics ("é", "ñ", "ő")."""
    base = unicodedata.normalize("NFD", char)
    return len(base) > 1 and base[0].isascii() and base[0].isalpha()


# Latin-1, Latin Extended-A and -B, Latin Extended Additional (Vietnamese).
ACCENTED = "".join(
    c for r in ((0xC0, 0x250), (0x1E00, 0x1F00)) for c in map(chr, range(*r)) if _is_accented(c)
)
_UNSPEAKABLE_RE = re.compile(rf"[^A-Za-z{ACCENTED}0-9 ,.!?;:\-'\"]")
_DOUBLE_HYPHEN_RE = re.compile(r"\s*-{2,}\s*")
_SPACE_BEFORE_PUNCT_RE = re.compile(r"\s+([,.!?;:])")
# A pause mark followed by other marks keeps only the strongest: ", ." -> ".", ",," -> ",".
_PAUSE_RUN_RE = re.compile(r"[,;:](?:\s*[,;:])*(\s*[.!?]+)?")
_LEADING_MARKS_RE = re.compile(r"^[\s,;:.!?\-]+")
_TRAILING_DASH_RE = re.compile(r"[\s\-]+$")
_STRAY_MARKS_RE = re.compile(r"(?<![\w])['\-]+(?![\w])")
_DASH_RUN_RE = re.compile(r"\s-(?:\s+-)+(?=\s|$)")
_WHITESPACE_RE = re.compile(r"\s+")


def collapse_whitespace(text: str) -> str:
    """Every run of white space becomes one space."""
    return _WHITESPACE_RE.sub(" ", text)


def to_plain_letters(text: str) -> str:
    """Compatibility forms folded (full width, ligatures), curly quotes and dashes made plain,
    letters with diacritics composed ("Mu\u0308ller" -> "Müller") and kept; a diacritic that
    composes with no letter is dropped."""
    text = unicodedata.normalize("NFKC", text)
    text = _RESPELLED_RE.sub(_respell, text).translate(_CHAR_MAP)
    return "".join(c for c in text if not unicodedata.combining(c))


def strip_accents(text: str) -> str:
    """Plain letters for the character front end, whose table has no accents ("é" -> "e")."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _respell(m: re.Match[str]) -> str:
    spelling = _RESPELLED[m[1].lower()]
    return (spelling.capitalize() if m[1][0].isupper() else spelling) + m[2]


def strip_markup(text: str) -> str:
    """Drop markup tags ("<b>"), which are not read."""
    return _MARKUP_RE.sub(" ", text)


def keep_speakable(text: str) -> str:
    """Brackets become a pause (but a bracket that closes the text, no pause that would tell the
    model the phrase goes on); any other character outside the output alphabet a space."""
    text = _FINAL_BRACKETS_RE.sub("", text)
    text = _BRACKETS_RE.sub(" , ", text)
    return _UNSPEAKABLE_RE.sub(" ", text)


def tidy_punctuation(text: str) -> str:
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
