"""Hostile request bodies to the listening server: every one is a 400 that writes nothing, and
the server keeps serving (issue 16, class 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_listening import build, call, count, folders, serving  # noqa: F401 (fixture)

from tts_ebm.listening.server import MAX_BODY_BYTES


@pytest.fixture()
def rating(folders, tmp_path: Path):  # noqa: F811 (the imported fixture)
    """A MOS server with listener ann started, and a raw body rating trial 0 with ``score``."""
    build(folders, "mos", tmp_path / "mos")
    with serving(tmp_path / "mos") as server:
        assert call(server, "POST", "/api/session", {"listener": "ann"})[0] == 200
        trial = server.manifest.trials[0]
        head = f'{{"listener": "ann", "trial": "{trial.id}", "ratings": {{"{trial.stimuli[0]}": '

        def body(score: str) -> bytes:
            return f"{head}{score}}}}}".encode()

        yield server, body


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("score", "fragment"),
    [
        ("1" + "0" * 400, "out of range"),  # 10**400: overflowed the float range check (500)
        ("-" + "9" * 400, "out of range"),
        ("1e400", "out of range"),  # parsed as inf before the range check
        ("-1e400", "out of range"),
        ("1" + "0" * 400 + ".0", "out of range"),
        ("9" * 5000, "out of range"),  # beyond Python's 4300-digit int conversion limit
        ("9007199254740993", "out of range"),
        ("Infinity", "not allowed"),
        (deep(5000), "nested too deeply"),  # RecursionError in the parser (500)
        (f'{{"a": {deep(3000)}}}', "nested too deeply"),
    ],
)
def test_hostile_scores_are_client_errors(rating, score: str, fragment: str) -> None:
    server, body = rating
    raw = body(score)
    assert len(raw) <= MAX_BODY_BYTES  # reaches the parser, not the size limit
    db = server.store.path
    before = (count(db), count(db, "responses"))
    status, answer = call(server, "POST", "/api/rate", raw=raw)
    assert status == 400 and fragment in answer["error"], answer
    assert "\n" not in answer["error"] and len(answer["error"]) < 200
    assert (count(db), count(db, "responses")) == before
    assert call(server, "POST", "/api/rate", raw=body("4"))[1]["stored"] is True


def test_deep_nesting_in_any_field_of_any_route(rating) -> None:
    server, _ = rating
    for path in ("/api/session", "/api/finish", "/api/rate"):
        raw = f'{{"listener": {deep(4000)}}}'.encode()
        status, answer = call(server, "POST", path, raw=raw)
        assert (status, answer["error"]) == (400, "malformed JSON: nested too deeply")
    raw = json.dumps({"listener": "ann", "extra": 2**53}).encode()  # the largest allowed number
    assert call(server, "POST", "/api/finish", raw=raw)[0] == 409  # parsed; ann is not done
