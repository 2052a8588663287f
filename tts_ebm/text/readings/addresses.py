"""Street addresses, as an American reader says them.

A house number is said in pairs ("1600 Pennsylvania Ave. NW" -> "sixteen hundred Pennsylvania
Avenue Northwest", "123 Main St" -> "one twenty three Main Street"), as are route, room, suite and
flight numbers of three or four digits ("Highway 101" -> "one oh one", "Room 215" -> "two
fifteen"); a state's postal code before a ZIP code is the state's name and the ZIP code is read
digit by digit ("Springfield, IL 62704" -> "Springfield, Illinois six two seven zero four"); "PO
Box" is "P-O Box". Runs before the units and the abbreviations,
which would read "W" as watts and a full stop as a sentence end.
"""

from __future__ import annotations

import re

from tts_ebm.text.readings.abbreviations import STREET_TYPES, ends_sentence
from tts_ebm.text.readings.numbers import digits_to_words, paired_to_words

__all__ = ["expand_addresses"]

_STREET_WORDS = {
    **STREET_TYPES,
    **{word: word for word in ("Street", "Avenue", "Road", "Boulevard", "Drive", "Lane")},
    **{word: word for word in ("Court", "Place", "Parkway", "Highway", "Way", "Terrace")},
    **{word: word for word in ("Circle", "Square")},
}
_DIRECTIONS = {"N": "North", "S": "South", "E": "East", "W": "West", "NE": "Northeast"}
_DIRECTIONS |= {"NW": "Northwest", "SE": "Southeast", "SW": "Southwest"}
_DIRECTION = r"NE|NW|SE|SW|N|S|E|W"
_ADDRESS_RE = re.compile(
    r"(?<![\w$.,-])(?P<num>\d{1,5})(?P<letter>[A-Z])?\s+"
    rf"(?:(?P<pre>{_DIRECTION}|North|South|East|West)\.?\s+)?"
    r"(?P<name>(?:[A-Z][a-z']+|\d+(?:st|nd|rd|th))(?:\s+[A-Z][a-z']+){0,2})\s+"
    rf"(?P<type>{'|'.join(_STREET_WORDS)})\b(?P<dot>\.)?"
    rf"(?:,?\s+(?P<post>{_DIRECTION})\b\.?)?"
)
# Numbered roads and places whose three or four digits are said in pairs ("Room 215" -> two
# fifteen, "Flight 1549" -> fifteen forty nine).
_NUMBERED = (
    r"Highway|Hwy\.?|Route|Rte\.?|Interstate|Room|Rm\.?|Suite|Ste\.?|Apartment|Apt\.?|Unit"
    r"|Gate|Flight|Exit|Bus|Platform"
)
_ROUTE_RE = re.compile(rf"\b(?P<road>{_NUMBERED})\s(?P<num>[1-9]\d{{2,3}})\b(?![.,]\d)")
_ROADS = {"Hwy": "Highway", "Rte": "Route", "Rm": "Room", "Ste": "Suite", "Apt": "Apartment"}
_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa",
    "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
    "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi",
    "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin",
    "WY": "Wyoming", "DC": "D-C", "PR": "Puerto Rico",
}  # fmt: skip
_STATE_ZIP_RE = re.compile(
    rf",\s(?P<state>{'|'.join(_STATES)})\.?\s+(?P<zip>\d{{5}})(?:-(?P<plus4>\d{{4}}))?\b"
)
_PO_BOX_RE = re.compile(r"\bP\.?\s?O\.?\s+Box\b", re.IGNORECASE)


def _address(m: re.Match[str]) -> str:
    words = [paired_to_words(m["num"])]
    if m["letter"]:
        words.append(m["letter"])
    if m["pre"]:
        words.append(_DIRECTIONS.get(m["pre"], m["pre"]))
    words += [m["name"], _STREET_WORDS[m["type"]]]
    if m["post"]:
        words.append(_DIRECTIONS[m["post"]])
    dot = "." if (m["dot"] or m["post"]) and m[0].endswith(".") else ""
    return " ".join(words) + (dot if dot and ends_sentence(m.string, m.end()) else "")


def _route(m: re.Match[str]) -> str:
    road = m["road"].rstrip(".")
    return f"{_ROADS.get(road, road)} {paired_to_words(m['num'])}"


def _state_zip(m: re.Match[str]) -> str:
    code = digits_to_words(m["zip"])
    if m["plus4"]:
        code += f", {digits_to_words(m['plus4'])}"
    return f", {_STATES[m['state']]} {code}"


def expand_addresses(text: str) -> str:
    """Read house and route numbers in pairs, street words, directions, states and ZIP codes."""
    text = _PO_BOX_RE.sub("P-O Box", text)
    text = _STATE_ZIP_RE.sub(_state_zip, text)
    text = _ROUTE_RE.sub(_route, text)
    return _ADDRESS_RE.sub(_address, text)
