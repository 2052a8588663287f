"""What the front end accepts as text: refuse input that is not language before reading it.

Normalisation would otherwise turn binary data into something speakable: undecodable bytes and
control characters become spaces and the stray ASCII letters between them are spelled out one by
one. Refused: control characters other than tab, newline and carriage return (NUL, escape, DEL,
the C1 range), lone surrogates (the bytes that were not UTF-8, as Python decodes command lines and
standard input with ``surrogateescape``) and, in texts of at least ``SOUP_MIN_CHARS`` counted
characters, symbol soup where fewer than ``SOUP_MIN_WORD_SHARE`` of them are letters or digits, and
a run of more than ``MAX_WORD_CHARS`` Latin letters and digits without a space or a mark (a word
that long cannot be language: the longest place name has 85 letters, a SHA-512 in hex 128
characters); a run of digits alone is a number, read digit by digit.
Emoji, other pictographs, combining marks and format characters (zero-width joiners, the byte
order mark) are not counted either way, so emoji-only text is still "nothing to pronounce".
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["EmptyTextError", "NotLanguageError", "check_text"]

SOUP_MIN_CHARS = 16
SOUP_MIN_WORD_SHARE = 0.25
MAX_WORD_CHARS = 160
_LONG_RUN_RE = re.compile(rf"[A-Za-z0-9\u00c0-\u024f]{{{MAX_WORD_CHARS + 1},}}")
_CONTROL_OR_SURROGATE_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_ESCAPED_BYTES = range(0xDC80, 0xDD00)  # surrogateescape's stand-ins for the bytes 0x80-0xFF
_UNCOUNTED = frozenset({"So", "Mn", "Me", "Cf"})


class EmptyTextError(ValueError):
    """The text has nothing to pronounce (empty, blank, or only symbols such as emoji)."""


class NotLanguageError(EmptyTextError):
    """The text is not language at all (binary data, control characters, symbol soup)."""


def check_text(text: str) -> None:
    """Raise NotLanguageError, naming the first reason, unless ``text`` can be language."""
    bad = _CONTROL_OR_SURROGATE_RE.search(text)
    if bad:
        raise NotLanguageError(f"text is not language: it holds {_describe(bad[0])}")
    for run in _LONG_RUN_RE.finditer(text):
        if not run[0].isdigit():
            raise NotLanguageError(
                f"text is not language: it holds a word of {len(run[0])} letters and digits "
                f"without a space (at most {MAX_WORD_CHARS} can be one)"
            )
    counted = [c for c in text if not c.isspace() and unicodedata.category(c) not in _UNCOUNTED]
    words = sum(unicodedata.category(c)[0] in "LN" for c in counted)
    if len(counted) >= SOUP_MIN_CHARS and words < SOUP_MIN_WORD_SHARE * len(counted):
        raise NotLanguageError(
            f"text is not language: only {words} of its {len(counted)} characters are letters "
            f"or digits (at least {SOUP_MIN_WORD_SHARE:.0%} must be)"
        )


def _describe(char: str) -> str:
    code = ord(char)
    if code in _ESCAPED_BYTES:
        return f"the byte 0x{code - 0xDC00:02X}, which is not UTF-8 (binary data?)"
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate U+{code:04X}, which is not valid Unicode"
    return f"the control character U+{code:04X} (binary data?)"
