"""Web addresses and e-mail addresses, read the way people say them aloud.

"www.example.com/about" -> "w w w dot example dot com slash about" and "jane.doe@example.org"
-> "jane dot doe at example dot org": the scheme ("https://") and a trailing slash are not
said, country codes and "edu" are spelled ("dot U-K", "dot E-D-U"). Runs before the signs and
numbers so that "@", "." and "-" inside an address are not read as prices, decimals or ranges.
"""

from __future__ import annotations

import re

__all__ = ["expand_web_addresses"]

# Without a scheme or "www.", a domain is recognised only by a common top-level domain, so that
# "e.g.", "3.14" and "U.S." are never taken for one.
_COMMON_TLDS = "com|org|net|edu|gov|mil|info|io|co|uk|us|ca|de|fr|au|ai|dev|app"
# Bounded repeats (the limits of DNS and of a mailbox) keep each attempt short: an unbounded
# "(label.)+" is tried again from every word of "a.a.a.a...", quadratic in its length.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_LABELS = rf"(?:{_LABEL}\.){{1,8}}"
_PATH = r"(?:/[^\s<>\"]*[^\s<>\".,;:!?)'\]])?/?"
_URL_RE = re.compile(
    rf"\b(?:https?://{_LABELS}[A-Za-z]{{2,24}}"
    rf"|(?:https?://)?www\.{_LABELS}[A-Za-z]{{2,24}}"
    rf"|{_LABELS}(?:{_COMMON_TLDS})\b(?![.-]\w)){_PATH}",
    re.IGNORECASE,
)
_EMAIL_RE = re.compile(
    rf"\b[A-Za-z0-9](?:[A-Za-z0-9._+-]{{0,62}}[A-Za-z0-9])?@{_LABELS}[A-Za-z]{{2,24}}\b"
)
_SCHEME_RE = re.compile(r"^https?://", re.IGNORECASE)
_SPOKEN_TLDS = frozenset({"com", "org", "net", "gov", "mil", "info", "app", "dev"})
_MARKS = {
    ".": "dot",
    "/": "slash",
    "-": "dash",
    "_": "underscore",
    "@": "at",
    "+": "plus",
    "?": "question mark",
    "=": "equals",
    "&": "and",
    "#": "hash",
    "~": "tilde",
    ":": "colon",
    "%": "percent",
}
_MARK_RE = re.compile("|".join(map(re.escape, _MARKS)))


def _read_label(label: str) -> str:
    """Spell "www" ("w w w"); other labels are said as written."""
    return " ".join(label) if label.lower() == "www" else label


def _read_tld(tld: str) -> str:
    """Say "com" as a word, "edu" and country codes letter by letter ("U-K")."""
    return tld if tld.lower() in _SPOKEN_TLDS else "-".join(tld.upper())


def _read_address(address: str) -> str:
    """Words and marks of a host name, path or mailbox: "my-site.com" -> "my dash site dot
    com"."""
    parts = _MARK_RE.split(address)
    marks = _MARK_RE.findall(address)
    words = [_read_label(parts[0])]
    for mark, part in zip(marks, parts[1:], strict=True):
        words += [_MARKS[mark], _read_label(part)]
    return " ".join(w for w in words if w)


def _read_host(host: str) -> str:
    name, _, tld = host.rpartition(".")
    return f"{_read_address(name)} dot {_read_tld(tld)}"


def _read_url(m: re.Match[str]) -> str:
    url = _SCHEME_RE.sub("", m[0]).rstrip("/")
    host, slash, path = url.partition("/")
    words = _read_host(host)
    return f" {words} slash {_read_address(path)} " if slash else f" {words} "


def _read_email(m: re.Match[str]) -> str:
    mailbox, _, host = m[0].partition("@")
    return f" {_read_address(mailbox)} at {_read_host(host)} "


def expand_web_addresses(text: str) -> str:
    """Read e-mail addresses, then URLs and bare domains ("example.com"), as words."""
    text = _EMAIL_RE.sub(_read_email, text)
    return _URL_RE.sub(_read_url, text)
