"""Listening tests: build from real wavs, SQLite semantics, the HTTP server, statistics, browser.

Audio is real speech (the festival SLT utterance of conftest's ``speech_wav``) cut into short
utterances and degraded per "system"; servers run on 127.0.0.1 with an ephemeral port.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tts_ebm.commands import listen as listen_command
from tts_ebm.listening.analysis import analyse, holm
from tts_ebm.listening.build import BuildError, build_test, lowpass_anchor
from tts_ebm.listening.design import (
    ANCHOR,
    DATABASE,
    OPEN_REFERENCE,
    REFERENCE,
    Manifest,
    listener_plan,
)
from tts_ebm.listening.server import MAX_BODY_BYTES, ListeningServer, make_server
from tts_ebm.listening.storage import RatingStore, StorageError, UnknownListener

UTTERANCES = ("utt1", "utt2", "utt3", "utt4")
# Student t 97.5 % quantiles: 4 degrees of freedom from tables; 2 in closed form,
# t = (2p − 1) / √(2p(1 − p)) for ν = 2.
T_975 = {4: 2.7764451051977987, 2: 0.95 / math.sqrt(2 * 0.975 * 0.025)}


# Fixtures: real audio -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory, speech_wav: Path) -> dict[str, Path]:
    """Four 0.45 s utterances of real speech as three "systems" plus odd folders for errors."""
    import soxr

    speech, rate = sf.read(str(speech_wav), dtype="float64")
    root = tmp_path_factory.mktemp("systems")
    rng = np.random.default_rng(0)
    made = {name: root / name for name in ("ref", "noisy", "narrow", "ref16k", "other")}
    for folder in made.values():
        folder.mkdir()
    for i, utt in enumerate(UTTERANCES):
        start = int((0.3 + 1.1 * i) * rate)
        clean = speech[start : start + int(0.45 * rate)]
        sf.write(made["ref"] / f"{utt}.wav", clean, rate, subtype="PCM_16")
        noisy = clean + 0.01 * rng.standard_normal(clean.size)
        sf.write(made["noisy"] / f"{utt}.wav", noisy, rate, subtype="PCM_16")
        narrow = soxr.resample(soxr.resample(clean, rate, 8000), 8000, rate)[: clean.size]
        sf.write(made["narrow"] / f"{utt}.wav", narrow, rate, subtype="PCM_16")
        sf.write(made["ref16k"] / f"{utt}.wav", soxr.resample(clean, rate, 16000), 16000)
        sf.write(made["other"] / f"x{utt}.wav", clean, rate)  # no stem in common
    sf.write(made["noisy"] / "only-here.wav", speech[: rate // 2], rate)  # not in every folder
    return made


def build(folders: dict[str, Path], kind: str, out: Path, **kwargs) -> Manifest:
    systems = {"noisy": folders["noisy"], "narrow": folders["narrow"]}
    return build_test(kind, systems, out, reference=folders["ref"], **kwargs).manifest


def run_listen(*argv: str) -> int:
    """``tts-ebm listen ...`` through the command module's own parser."""
    parser = argparse.ArgumentParser(prog="tts-ebm")
    listen_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["listen", *argv])
    return args.handler(args)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# Build ----------------------------------------------------------------------------------------


def test_mos_build_blinds_stimuli_and_keeps_audio(folders, tmp_path: Path) -> None:
    report = build_test(
        "mos",
        {"noisy": folders["noisy"], "narrow": folders["narrow"]},
        tmp_path / "mos",
        reference=folders["ref"],
    )
    manifest = report.manifest
    assert manifest.systems == ("noisy", "narrow", REFERENCE)
    assert manifest.items == UTTERANCES
    assert report.incomplete == {"only-here": ("narrow", REFERENCE)}
    assert len(manifest.trials) == 3 * 4 and all(len(t.stimuli) == 1 for t in manifest.trials)
    files = sorted(p.name for p in (tmp_path / "mos" / "stimuli").iterdir())
    assert len(files) == 12 and all(re.fullmatch(r"[0-9a-f]{16}\.wav", f) for f in files)
    for stimulus in manifest.stimuli.values():
        source = folders["ref" if stimulus.system == REFERENCE else stimulus.system]
        original, rate = sf.read(str(source / f"{stimulus.utterance}.wav"), dtype="int16")
        copy, copy_rate = sf.read(str(tmp_path / "mos" / stimulus.file), dtype="int16")
        assert rate == copy_rate == manifest.sample_rate == 22050
        np.testing.assert_array_equal(copy, original)  # PCM_16 re-encoded bit for bit
    assert Manifest.load(tmp_path / "mos") == manifest
    assert [p.name for p in tmp_path.iterdir()] == ["mos"]  # no work folder left behind


def test_mushra_build_has_hidden_reference_open_reference_and_lowpass_anchor(
    folders, tmp_path: Path
) -> None:
    manifest = build(folders, "mushra", tmp_path / "mushra")
    assert manifest.systems == ("noisy", "narrow", REFERENCE, ANCHOR)
    assert manifest.anchor == "lowpass-3500Hz"
    assert len(manifest.trials) == 4
    for trial in manifest.trials:
        systems = sorted(manifest.stimuli[s].system for s in trial.stimuli)
        assert systems == sorted(manifest.systems)
        assert {manifest.stimuli[s].utterance for s in trial.stimuli} == {trial.utterance}
        open_ref = manifest.stimuli[trial.open_reference]
        assert (open_ref.role, open_ref.system) == (OPEN_REFERENCE, REFERENCE)
        hidden = next(s for s in trial.stimuli if manifest.stimuli[s].system == REFERENCE)
        assert hidden != trial.open_reference
        hidden_audio, _ = sf.read(str(tmp_path / "mushra" / manifest.stimuli[hidden].file))
        open_audio, _ = sf.read(str(tmp_path / "mushra" / open_ref.file))
        np.testing.assert_array_equal(hidden_audio, open_audio)
        anchor = next(s for s in trial.stimuli if manifest.stimuli[s].system == ANCHOR)
        anchor_audio, rate = sf.read(str(tmp_path / "mushra" / manifest.stimuli[anchor].file))
        freqs = np.fft.rfftfreq(hidden_audio.size, 1 / rate)
        window = np.hanning(hidden_audio.size)  # no leakage from the cut at the ends
        ref_power = np.abs(np.fft.rfft(window * hidden_audio)) ** 2
        anchor_power = np.abs(np.fft.rfft(window * anchor_audio)) ** 2
        high, low = freqs > 5000, freqs < 2500
        assert anchor_power[high].sum() < 1e-3 * ref_power[high].sum()
        assert anchor_power[low].sum() == pytest.approx(ref_power[low].sum(), rel=0.05)


def test_lowpass_anchor_is_zero_phase() -> None:
    rate = 22050
    t = np.arange(rate) / rate
    low, high = np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 6000 * t)
    out = lowpass_anchor((low + high)[:, None], rate)[:, 0]
    middle = slice(2000, -2000)  # away from the edges' transients
    np.testing.assert_allclose(out[middle], low[middle], atol=2e-3)


def test_ab_build_pairs_every_two_systems_on_the_same_utterance(folders, tmp_path: Path) -> None:
    manifest = build(folders, "ab", tmp_path / "ab", items=2, seed=3)
    assert len(manifest.items) == 2
    assert manifest == Manifest.load(tmp_path / "ab")
    pairs = Counter()
    for trial in manifest.trials:
        a, b = (manifest.stimuli[s] for s in trial.stimuli)
        assert a.utterance == b.utterance == trial.utterance and a.system != b.system
        pairs[tuple(sorted((a.system, b.system)))] += 1
    assert pairs == {
        ("narrow", "noisy"): 2,
        ("noisy", REFERENCE): 2,
        ("narrow", REFERENCE): 2,
    }
    again = build(folders, "ab", tmp_path / "ab2", items=2, seed=3)
    assert again.items == manifest.items  # the draw of utterances is seeded


def test_listener_order_is_blinded_per_listener_and_stable(folders, tmp_path: Path) -> None:
    manifest = build(folders, "mushra", tmp_path / "t")
    plan = listener_plan(manifest, "alice")
    assert plan == listener_plan(Manifest.load(tmp_path / "t"), "alice")  # reload, restart
    assert sorted(p.trial.id for p in plan) == sorted(t.id for t in manifest.trials)
    for planned in plan:
        assert sorted(planned.stimuli) == sorted(planned.trial.stimuli)
    orders = {
        tuple(s for p in listener_plan(manifest, f"L{i}") for s in p.stimuli) for i in range(20)
    }
    assert len(orders) == 20


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"systems": {"noisy": Path("/nonexistent/folder")}}, "is not a folder"),
        ({"systems": {"noisy": "narrow"}, "reference": "other"}, "no utterance"),
        ({"systems": {"noisy": "noisy"}, "reference": "ref16k"}, "sample rates differ"),
        ({"kind": "mushra", "reference": None}, "needs --reference"),
        ({"kind": "ab", "reference": None}, "at least two systems"),
        ({"systems": {"anchor": "noisy"}}, "reserved"),
        ({"systems": {"a/b": "noisy"}}, "system name"),
        ({"items": 9}, "only 4 utterances"),
        ({"kind": "bws"}, "unknown test kind"),
    ],
)
def test_build_refuses_bad_input(folders, tmp_path: Path, change: dict, message: str) -> None:
    def folder(value):
        return folders[value] if isinstance(value, str) else value

    kind = change.get("kind", "mos")
    systems = {k: folder(v) for k, v in change.get("systems", {"noisy": "noisy"}).items()}
    reference = folder(change.get("reference", "ref"))
    with pytest.raises(BuildError, match=message):
        build_test(kind, systems, tmp_path / "out", reference=reference, items=change.get("items"))
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.iterdir())


def test_build_command_errors_are_one_line(folders, tmp_path: Path, capsys) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    from tts_ebm.cli import main

    args = ["listen", "build", "--kind", "mos", "--system", f"a={folders['noisy']}"]
    assert main([*args, "--out", str(tmp_path / "busy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tts-ebm: error:") and "not empty" in err and "\n" not in err
    assert main([*args, "--system", f"a={folders['narrow']}", "--out", str(tmp_path / "x")]) == 2
    assert "given twice" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "ok"), "--items", "2"]) == 0
    assert "MOS test: 1 systems" in capsys.readouterr().out


# Storage --------------------------------------------------------------------------------------


def count(db: Path, table: str = "ratings") -> int:
    with sqlite3.connect(db) as connection:
        return connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_first_write_wins_and_duplicates_change_nothing(tmp_path: Path) -> None:
    store = RatingStore(tmp_path / DATABASE, "test-1")
    assert store.start_listener("ann") is True
    assert store.start_listener("ann") is False  # a returning listener
    assert store.submit("ann", "t1", [("s1", 0, 4.0)]) is True
    assert store.submit("ann", "t1", [("s1", 0, 2.0)]) is False  # double submission
    assert store.submit("ann", "t1", [("s9", 0, 1.0)]) is False  # even with other content
    assert [(r.stimulus, r.score) for r in store.ratings()] == [("s1", 4.0)]
    assert store.answered("ann") == {"t1"}
    with pytest.raises(UnknownListener):
        store.submit("bob", "t1", [("s1", 0, 3.0)])
    store.close()
    assert count(tmp_path / DATABASE) == 1 and count(tmp_path / DATABASE, "responses") == 1
    with pytest.raises(StorageError, match="another test"):
        RatingStore(tmp_path / DATABASE, "test-2")


def test_a_failing_trial_is_rolled_back_completely(tmp_path: Path) -> None:
    store = RatingStore(tmp_path / DATABASE, "test-1")
    store.start_listener("ann")
    # The second row repeats the first stimulus: UNIQUE fails after the response row and the
    # first rating were inserted; the transaction must leave no trace of either.
    with pytest.raises(sqlite3.IntegrityError):
        store.submit("ann", "t1", [("s1", 0, 50.0), ("s1", 1, 60.0)])
    assert store.answered("ann") == set() and store.count() == 0
    assert store.submit("ann", "t1", [("s1", 0, 50.0), ("s2", 1, 60.0)]) is True
    assert store.count() == 2
    store.close()


_CRASH_WRITER = """
import sys
from tts_ebm.listening.storage import RatingStore
store = RatingStore(sys.argv[1], "crash-test")
store.start_listener("L1")
for i in range(1_000_000):
    rows = [(f"s{i}-{k}", k, float(k)) for k in range(5)]
    store.submit("L1", f"t{i}", rows)
    print(i, flush=True)
"""


def test_a_killed_writer_loses_no_acknowledged_trial_and_leaves_none_half(tmp_path: Path) -> None:
    db = tmp_path / DATABASE
    writer = subprocess.Popen(
        [sys.executable, "-c", _CRASH_WRITER, str(db)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    acknowledged = []
    assert writer.stdout is not None
    for line in writer.stdout:
        acknowledged.append(int(line))
        if len(acknowledged) == 40:
            writer.send_signal(signal.SIGKILL)  # mid-write of later trials
            break
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    with sqlite3.connect(db) as connection:
        per_trial = dict(
            connection.execute("SELECT trial, COUNT(*) FROM ratings GROUP BY trial").fetchall()
        )
        responses = {t for (t,) in connection.execute("SELECT trial FROM responses")}
    assert {f"t{i}" for i in acknowledged} <= responses  # nothing acknowledged is lost
    assert set(per_trial) == responses and set(per_trial.values()) == {5}  # nothing half-stored
    store = RatingStore(db, "crash-test")  # the database opens and accepts writes again
    assert store.submit("L1", "after-crash", [("x", 0, 1.0)]) is True
    assert store.submit("L1", "t0", [("x", 0, 1.0)]) is False
    store.close()


# Server ---------------------------------------------------------------------------------------


@contextmanager
def serving(test_dir: Path) -> Iterator[ListeningServer]:
    server = make_server(test_dir, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def call(
    server: ListeningServer,
    method: str,
    path: str,
    body: object = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, object]:
    """One request on a fresh connection; JSON answers are decoded."""
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        connection.request(method, path, body=data, headers=headers or {})
        response = connection.getresponse()
        payload = response.read()
        if response.getheader("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(payload)
        return response.status, payload
    finally:
        connection.close()


@pytest.fixture()
def mos_server(folders, tmp_path: Path) -> Iterator[ListeningServer]:
    build(folders, "mos", tmp_path / "mos")
    with serving(tmp_path / "mos") as server:
        yield server


def test_a_reset_connection_is_one_log_line_not_a_traceback(folders, tmp_path, capsys) -> None:
    """A browser dropping a keep-alive connection (a RST while the handler waits for the next
    request) must not print socketserver's traceback; the server keeps serving."""
    build(folders, "mos", tmp_path / "mos")
    lines: list[str] = []
    server = make_server(tmp_path / "mos", "127.0.0.1", 0, log=lines.append)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        client = socket.create_connection(server.server_address[:2], timeout=10)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        response = http.client.HTTPResponse(client)
        response.begin()
        response.read()  # answered in full: the handler now waits on the kept-alive connection
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # linger 0: the peer sees a reset
        deadline = time.monotonic() + 10
        while not lines and time.monotonic() < deadline:
            time.sleep(0.02)
        assert call(server, "GET", "/")[0] == 200
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
    assert any("closed" in line for line in lines), lines
    assert "Traceback" not in capsys.readouterr().err


def strings(data: object) -> list[str]:
    """Every string value in decoded JSON (keys such as "reference" are not data)."""
    if isinstance(data, dict):
        return [s for value in data.values() for s in strings(value)]
    if isinstance(data, list):
        return [s for value in data for s in strings(value)]
    return [data] if isinstance(data, str) else []


def test_session_order_is_stable_and_leaks_no_system(mos_server: ListeningServer) -> None:
    status, page = call(mos_server, "GET", "/")
    assert status == 200 and b"Listening test" in page
    status, first = call(mos_server, "POST", "/api/session", {"listener": "ann"})
    assert status == 200 and first["resumed"] is False and first["total"] == 12
    _, again = call(mos_server, "POST", "/api/session", {"listener": "ann"})
    assert again["resumed"] is True and again["trials"] == first["trials"]  # a reload
    _, other = call(mos_server, "POST", "/api/session", {"listener": "bob"})
    assert [t["id"] for t in other["trials"]] != [t["id"] for t in first["trials"]]
    served = " ".join(strings(first)) + " ".join(strings(call(mos_server, "GET", "/api/test")[1]))
    for name in (*mos_server.manifest.systems, *UTTERANCES):
        assert name not in served
    status, fresh = call(mos_server, "POST", "/api/session", {})
    assert status == 200 and re.fullmatch(r"L[0-9a-f]{8}", fresh["listener"])


def test_ratings_resume_after_restart_and_duplicates_are_acknowledged(
    folders, tmp_path: Path
) -> None:
    test_dir = tmp_path / "mos"
    build(folders, "mos", test_dir)
    with serving(test_dir) as server:
        _, session = call(server, "POST", "/api/session", {"listener": "ann"})
        for done, trial in enumerate(session["trials"][:3], start=1):
            stimulus = trial["stimuli"][0]["id"]
            body = {"listener": "ann", "trial": trial["id"], "ratings": {stimulus: 3}}
            assert call(server, "POST", "/api/rate", body)[1]["stored"] is True
            body["ratings"][stimulus] = 5  # a second click, a retry: first write wins
            status, answer = call(server, "POST", "/api/rate", body)
            assert status == 200 and answer == {
                "stored": False, "duplicate": True, "answered": done, "total": 12
            }  # fmt: skip
            assert call(server, "POST", "/api/finish", {"listener": "ann"})[0] == 409
    assert count(test_dir / DATABASE) == 3
    with serving(test_dir) as server:  # a new server process: the listener resumes
        _, resumed = call(server, "POST", "/api/session", {"listener": "ann"})
        assert resumed["resumed"] is True and resumed["trials"] == session["trials"]
        assert sorted(resumed["answered"]) == sorted(t["id"] for t in session["trials"][:3])
    with sqlite3.connect(test_dir / DATABASE) as connection:
        assert {s for (s,) in connection.execute("SELECT score FROM ratings")} == {3.0}


def _bad_rate(server: ListeningServer) -> list[tuple[dict, int, str]]:
    """(body, status, error fragment) of submissions that must be refused."""
    manifest = server.manifest
    trial = manifest.trials[0]
    stimulus = trial.stimuli[0]
    other = manifest.trials[1].stimuli[0]

    def rate(**changes) -> dict:
        return {"listener": "ann", "trial": trial.id, "ratings": {stimulus: 4}, **changes}

    return [
        (rate(ratings={stimulus: 6}), 400, "from 1 to 5"),
        (rate(ratings={stimulus: 0}), 400, "from 1 to 5"),
        (rate(ratings={stimulus: 3.5}), 400, "whole numbers"),
        (rate(ratings={stimulus: "4"}), 400, "not a number"),
        (rate(ratings={stimulus: True}), 400, "not a number"),
        (rate(ratings={stimulus: None}), 400, "not a number"),
        (rate(ratings={other: 4}), 400, "not part of trial"),
        (rate(ratings={stimulus: 4, other: 4}), 400, "not part of trial"),
        (rate(ratings={}), 400, "no rating"),
        (rate(ratings=[4]), 400, "must be an object"),
        (rate(listener="nobody"), 404, "unknown listener"),
        (rate(listener="../etc"), 400, "listener id"),
        (rate(listener="x" * 65), 400, "listener id"),
        (rate(listener=None), 400, "listener id"),
        (rate(trial="0000000000000000"), 404, "unknown trial"),
        (rate(trial=["x"]), 404, "unknown trial"),
    ]


def test_server_refuses_invalid_submissions_and_writes_nothing(
    mos_server: ListeningServer,
) -> None:
    db = mos_server.store.path
    call(mos_server, "POST", "/api/session", {"listener": "ann"})
    before = (count(db), count(db, "responses"), count(db, "listeners"))
    for body, status, fragment in _bad_rate(mos_server):
        got, answer = call(mos_server, "POST", "/api/rate", body)
        assert (got, fragment in answer["error"]) == (status, True), (body, answer)
    raw_cases = [
        (b'{"listener": "ann", "trial": ', 400, "malformed JSON"),
        (b'{"listener": "ann", "ratings": {"x": NaN}}', 400, "malformed JSON"),
        (b"\xff\xfe", 400, "malformed JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b" " * (MAX_BODY_BYTES + 1), 413, "over the limit"),
    ]
    for raw, status, fragment in raw_cases:
        got, answer = call(mos_server, "POST", "/api/rate", raw=raw)
        assert (got, fragment in answer["error"]) == (status, True), (raw[:40], answer)
    assert call(mos_server, "POST", "/api/session", {"listener": "a b"})[0] == 400
    assert call(mos_server, "POST", "/api/nothing", {})[0] == 404
    assert call(mos_server, "POST", "/api/finish", {"listener": "ghost"})[0] == 404
    assert (count(db), count(db, "responses"), count(db, "listeners")) == before


def test_server_refuses_bodies_without_length_and_huge_ones(mos_server: ListeningServer) -> None:
    def raw_request(head: bytes) -> bytes:
        with socket.create_connection(mos_server.server_address[:2], timeout=30) as sock:
            sock.sendall(head)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    answer = raw_request(b"POST /api/session HTTP/1.1\r\nHost: x\r\n\r\n{}")
    assert answer.startswith(b"HTTP/1.1 411")
    answer = raw_request(
        b"POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n{}"
    )
    assert answer.startswith(b"HTTP/1.1 413") and b"over the limit" in answer
    assert count(mos_server.store.path, "listeners") == 0


def test_audio_is_served_by_id_only(mos_server: ListeningServer) -> None:
    stimulus = next(iter(mos_server.manifest.stimuli.values()))
    expected = (mos_server.test_dir / stimulus.file).read_bytes()
    status, body = call(mos_server, "GET", f"/audio/{stimulus.id}.wav")
    assert status == 200 and body == expected
    status, part = call(
        mos_server, "GET", f"/audio/{stimulus.id}.wav", headers={"Range": "bytes=4-11"}
    )
    assert status == 206 and part == expected[4:12]
    status, _ = call(
        mos_server, "GET", f"/audio/{stimulus.id}.wav", headers={"Range": "bytes=99999999-"}
    )
    assert status == 416
    secret = (mos_server.test_dir / "test.json").read_bytes()[:40]
    for path in [
        "/audio/..%2ftest.json",
        "/audio/..%2F..%2F..%2Fetc%2Fpasswd",
        "/audio/../test.json",
        f"/audio/{stimulus.id}.wav/../../test.json",
        "/audio/%2e%2e/test.json",
        "/static/../test.json",
        "/static/..%2f..%2ftest.json",
        "/test.json",
        "/ratings.sqlite",
        f"/stimuli/{stimulus.id}.wav",
        "/audio/0000000000000000.wav",
    ]:
        status, body = call(mos_server, "GET", path)
        assert status == 404, path
        assert secret not in json.dumps(body).encode()


def test_mushra_and_ab_submissions_are_validated(folders, tmp_path: Path) -> None:
    build(folders, "mushra", tmp_path / "mushra")
    with serving(tmp_path / "mushra") as server:
        _, session = call(server, "POST", "/api/session", {"listener": "ann"})
        trial = session["trials"][0]
        assert trial["reference"]["url"].startswith("/audio/")
        ids = [s["id"] for s in trial["stimuli"]]
        body = {"listener": "ann", "trial": trial["id"], "ratings": dict.fromkeys(ids, 50)}
        body["ratings"][ids[0]] = 101
        assert call(server, "POST", "/api/rate", body)[0] == 400
        del body["ratings"][ids[0]]
        assert "no rating" in call(server, "POST", "/api/rate", body)[1]["error"]
        body["ratings"][ids[0]] = 72.5  # sliders may be continuous
        assert call(server, "POST", "/api/rate", body)[1]["stored"] is True
        positions = dict(
            sqlite3.connect(server.store.path).execute("SELECT stimulus, position FROM ratings")
        )
        assert positions == {sid: i for i, sid in enumerate(ids)}  # the listener's order
    build(folders, "ab", tmp_path / "ab")
    with serving(tmp_path / "ab") as server:
        _, session = call(server, "POST", "/api/session", {"listener": "ann"})
        first, second = session["trials"][:2]
        bad = {"listener": "ann", "trial": first["id"], "preference": second["stimuli"][0]["id"]}
        assert call(server, "POST", "/api/rate", bad)[0] == 400
        ok = {"listener": "ann", "trial": first["id"], "preference": "none"}
        assert call(server, "POST", "/api/rate", ok)[1]["stored"] is True
        choice = second["stimuli"][1]["id"]
        ok = {"listener": "ann", "trial": second["id"], "preference": choice}
        assert call(server, "POST", "/api/rate", ok)[1]["stored"] is True
        rows = dict(
            sqlite3.connect(server.store.path).execute("SELECT stimulus, score FROM ratings")
        )
        assert rows == {
            first["stimuli"][0]["id"]: 0.5,
            first["stimuli"][1]["id"]: 0.5,
            second["stimuli"][0]["id"]: 0.0,
            choice: 1.0,
        }


def test_load_many_concurrent_listeners_lose_and_duplicate_nothing(folders, tmp_path: Path) -> None:
    """50 listeners answer all 12 trials at once; some double-submit, some race a twin."""
    build(folders, "mos", tmp_path / "mos")
    n_listeners = 50
    stored_by: dict[tuple[str, str], list[int]] = defaultdict(list)
    lock = threading.Lock()
    errors: list[str] = []
    requests = Counter()

    def listener(index: int, twin: int = 0) -> None:
        name = f"load{index:02d}"
        connection = http.client.HTTPConnection(*server.server_address[:2], timeout=60)

        def post(path: str, body: dict) -> dict:
            connection.request("POST", path, body=json.dumps(body))
            response = connection.getresponse()
            answer = json.loads(response.read())
            with lock:
                requests[path] += 1
            if response.status != 200:
                errors.append(f"{name}: {response.status} {answer}")
            return answer

        try:
            session = post("/api/session", {"listener": name})
            for trial in session["trials"]:
                stimulus = trial["stimuli"][0]["id"]
                score = 1 + (index + twin + len(trial["id"]) + int(trial["id"], 16)) % 5
                body = {"listener": name, "trial": trial["id"], "ratings": {stimulus: score}}
                submissions = 2 if index % 5 == 0 else 1  # double clicks / retries
                for _ in range(submissions):
                    if post("/api/rate", body)["stored"]:
                        with lock:
                            stored_by[name, trial["id"]].append(score)
            if not twin:
                post("/api/finish", {"listener": name})
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(f"{name}: {exc!r}")
        finally:
            connection.close()

    with serving(tmp_path / "mos") as server:
        threads = [threading.Thread(target=listener, args=(i,)) for i in range(n_listeners)]
        # Every 7th listener is answered twice at once (two tabs), with different scores.
        threads += [
            threading.Thread(target=listener, args=(i, 1)) for i in range(0, n_listeners, 7)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        elapsed = time.perf_counter() - start
        db = server.store.path
    assert not errors, errors[:5]
    n_trials = len(server.manifest.trials)
    expected = n_listeners * n_trials
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT listener, trial, score FROM ratings ORDER BY listener, trial"
        ).fetchall()
        finished = connection.execute(
            "SELECT COUNT(*) FROM listeners WHERE finished_at IS NOT NULL"
        ).fetchone()[0]
    assert len(rows) == expected == count(db, "responses")
    assert len({(who, trial) for who, trial, _ in rows}) == expected  # no duplicates
    assert {who for who, _, _ in rows} == {f"load{i:02d}" for i in range(n_listeners)}
    assert all(len(v) == 1 for v in stored_by.values()) and len(stored_by) == expected
    assert {(w, t): s for w, t, s in rows} == {k: float(v[0]) for k, v in stored_by.items()}
    assert finished == n_listeners
    total = sum(requests.values())
    print(
        f"\nload test: {len(threads)} client threads ({n_listeners} listeners), {total} requests "
        f"({requests['/api/rate']} ratings submitted) in {elapsed:.2f} s = "
        f"{total / elapsed:.0f} requests/s; {len(rows)} rows stored"
    )


# Results ------------------------------------------------------------------------------------


def test_holm_matches_hand_computation() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])


def _store_ratings(test_dir: Path, answers: dict[str, dict[str, float]]) -> None:
    """Write listener -> {system: score} for a one-utterance test straight into the store."""
    manifest = Manifest.load(test_dir)
    store = RatingStore(test_dir / DATABASE, manifest.test_id)
    for listener, scores in answers.items():
        store.start_listener(listener)
        for trial in manifest.trials:
            if manifest.kind != "ab":
                rows = [
                    (sid, i, scores[manifest.stimuli[sid].system])
                    for i, sid in enumerate(trial.stimuli)
                ]
            else:  # "winner" names the preferred system, or "none"
                winner = scores["winner"]
                rows = [
                    (
                        sid,
                        i,
                        0.5 if winner == "none" else float(manifest.stimuli[sid].system == winner),
                    )
                    for i, sid in enumerate(trial.stimuli)
                ]
            assert store.submit(listener, trial.id, rows)
        store.finish(listener)
    store.close()


def test_mos_results_match_hand_computed_values(folders, tmp_path: Path, capsys) -> None:
    test_dir = tmp_path / "mos"
    systems = {"good": folders["ref"], "bad": folders["noisy"]}
    build_test("mos", systems, test_dir, items=1)
    good, bad = [5, 4, 4, 5, 3], [1, 1, 2, 4, 3]  # differences 4, 3, 2, 1, 0
    _store_ratings(
        test_dir,
        {f"L{i}": {"good": g, "bad": b} for i, (g, b) in enumerate(zip(good, bad, strict=True))},
    )
    assert run_listen("results", str(test_dir), "--out", str(tmp_path / "res")) == 0
    printed = capsys.readouterr().out
    assert "good" in printed and "wilcoxon" in printed
    summary = {row["system"]: row for row in read_csv(tmp_path / "res" / "summary.csv")}
    assert float(summary["good"]["mean"]) == pytest.approx(4.2)
    assert float(summary["good"]["ci95_half"]) == pytest.approx(T_975[4] * math.sqrt(0.7 / 5))
    assert float(summary["bad"]["mean"]) == pytest.approx(2.2)
    assert float(summary["bad"]["std"]) == pytest.approx(math.sqrt(1.7))
    assert float(summary["bad"]["ci95_low"]) == pytest.approx(2.2 - T_975[4] * math.sqrt(1.7 / 5))
    (pair,) = read_csv(tmp_path / "res" / "pairwise.csv")
    # Exact signed-rank test: the zero difference is dropped; all 4 others positive, so the
    # two-sided p is 2 · P(W+ = 10) = 2/16 (one of the 2^4 sign patterns).
    assert (pair["system_a"], pair["system_b"], pair["test"]) == ("good", "bad", "wilcoxon")
    assert float(pair["p"]) == pytest.approx(2 / 16) and float(pair["p_holm"]) == pytest.approx(
        2 / 16
    )
    assert float(pair["mean_difference"]) == pytest.approx(2.0)
    raw = read_csv(tmp_path / "res" / "ratings.csv")
    assert len(raw) == 10 and sorted(float(r["score"]) for r in raw) == sorted(good + bad)
    assert (tmp_path / "res" / "scores.png").stat().st_size > 1000


def test_mushra_results_apply_post_screening(folders, tmp_path: Path, capsys) -> None:
    test_dir = tmp_path / "mushra"
    build_test("mushra", {"sys": folders["noisy"]}, test_dir, reference=folders["ref"], items=1)
    answers = {
        "keep1": {REFERENCE: 100, "sys": 60, ANCHOR: 20},
        "keep2": {REFERENCE: 90, "sys": 70, ANCHOR: 10},
        "keep3": {REFERENCE: 95, "sys": 80, ANCHOR: 30},
        "drop": {REFERENCE: 89, "sys": 100, ANCHOR: 90},  # 1 of 1 items < 90: 100 % > 15 %
    }
    _store_ratings(test_dir, answers)
    results = analyse(test_dir)
    assert results.excluded == ["drop"]
    scores = {s.system: s for s in results.scores}
    assert scores["sys"].mean == pytest.approx(70.0) and scores["sys"].n == 3
    assert scores["sys"].ci_half == pytest.approx(T_975[2] * 10 / math.sqrt(3))  # s = 10
    assert scores[REFERENCE].mean == pytest.approx(95.0)
    unscreened = analyse(test_dir, post_screening=False)
    assert {s.system: s.mean for s in unscreened.scores}["sys"] == pytest.approx(77.5)
    assert run_listen("results", str(test_dir)) == 0
    printed = capsys.readouterr().out
    assert "1 of 4 listeners excluded" in printed and "drop: 1/1 items" in printed
    listeners = {r["listener"]: r for r in read_csv(test_dir / "results" / "listeners.csv")}
    assert listeners["drop"]["excluded"] == "1" and listeners["keep1"]["excluded"] == "0"


def test_ab_results_sign_test_matches_hand_computation(folders, tmp_path: Path, capsys) -> None:
    test_dir = tmp_path / "ab"
    build_test("ab", {"new": folders["ref"], "old": folders["noisy"]}, test_dir, items=1)
    winners = ["new"] * 9 + ["old"] + ["none"] * 2
    _store_ratings(test_dir, {f"L{i:02d}": {"winner": w} for i, w in enumerate(winners)})
    assert run_listen("results", str(test_dir), "--out", str(tmp_path / "res")) == 0
    (row,) = read_csv(tmp_path / "res" / "summary.csv")
    assert (row["system_a"], row["prefer_a"], row["prefer_b"], row["no_preference"]) == (
        "new", "9", "1", "2"
    )  # fmt: skip
    # Two-sided sign test, ties dropped: 2 · P(X ≥ 9 | n = 10, ½) = 2 · 11 / 1024.
    assert float(row["p_binomial"]) == pytest.approx(22 / 1024) and row["significant"] == "1"
    assert float(row["share_a"]) == pytest.approx(0.9)
    low = float(row["ci95_low"])  # Clopper-Pearson: P(X ≥ 9 | p = low) = 2.5 %
    assert sum(math.comb(10, k) * low**k * (1 - low) ** (10 - k) for k in (9, 10)) == (
        pytest.approx(0.025)
    )
    assert "new" in capsys.readouterr().out


def test_results_without_ratings_is_a_clear_error(folders, tmp_path: Path) -> None:
    build(folders, "mos", tmp_path / "mos")
    with pytest.raises(ValueError, match="no ratings yet"):
        analyse(tmp_path / "mos")


# Browser --------------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing (apt-get install chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium through Debian's chromedriver, with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMEDRIVER.exists(), "chromium without chromedriver: apt-get install chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """The few browser actions a listener performs."""

    def __init__(self, driver, url: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.url, self.by = driver, url, By
        self.wait = WebDriverWait(driver, 30)

    def __call__(self, element_id: str):
        return self.driver.find_element(self.by.ID, element_id)

    def open(self) -> None:
        self.driver.get(self.url)
        self.wait.until(lambda d: self("listener") and d.execute_script(
            "return document.body.dataset.ready === 'true'"
        ))  # fmt: skip

    def start(self, listener: str | None = None) -> None:
        if listener is not None:
            self("listener").clear()
            self("listener").send_keys(listener)
        self("start").click()
        self.wait.until(lambda d: self("trial").is_displayed())

    def until_enabled(self, element_id: str) -> None:
        self.wait.until(lambda d: self(element_id).is_enabled())

    def next(self) -> None:
        trial = self("trial-body").get_attribute("data-trial")
        self.until_enabled("next")
        self("next").click()
        self.wait.until(
            lambda d: (
                self("finish").is_displayed()
                or self("trial-body").get_attribute("data-trial") != trial
            )
        )

    def finished(self) -> None:
        self.wait.until(lambda d: "answers are saved" in self("finish-text").text)
        problems = [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not problems, problems


@pytest.mark.browser
@needs_chromium
def test_browser_listener_rates_everything_and_results_match(
    browser, folders, tmp_path: Path
) -> None:
    test_dir = tmp_path / "mos"
    build_test("mos", {"noisy": folders["noisy"], "narrow": folders["narrow"]}, test_dir,
               reference=folders["ref"], items=2)  # fmt: skip
    clicked: dict[str, int] = {}
    with serving(test_dir) as server:
        page = Page(browser, server.url)

        def rate_current() -> None:
            stimulus = page("play").get_attribute("data-stimulus")
            assert not page("score-3").is_enabled()  # rating needs listening first
            page("play").click()
            page.until_enabled("score-1")  # heard to the end
            score = 1 + len(clicked) % 5
            page(f"score-{score}").click()
            page.next()
            clicked[stimulus] = score

        page.open()
        page.start("browser1")
        assert page("progress").text == "Item 1 of 6"
        for _ in range(3):
            rate_current()
        page.open()  # a reload: the id is remembered and the listener resumes at item 4
        assert page("listener").get_attribute("value") == "browser1"
        page.start()
        assert page("progress").text == "Item 4 of 6"
        for _ in range(3):
            rate_current()
        page.finished()
    assert len(clicked) == 6
    assert run_listen("results", str(test_dir), "--out", str(tmp_path / "res")) == 0
    reported = read_csv(tmp_path / "res" / "ratings.csv")
    assert {r["stimulus"]: float(r["score"]) for r in reported} == clicked
    assert {r["listener"] for r in reported} == {"browser1"}
    manifest = Manifest.load(test_dir)
    by_system = defaultdict(list)
    for stimulus, score in clicked.items():
        by_system[manifest.stimuli[stimulus].system].append(score)
    summary = {r["system"]: float(r["mean"]) for r in read_csv(tmp_path / "res" / "summary.csv")}
    assert summary == {system: pytest.approx(np.mean(v)) for system, v in by_system.items()}
    (listener,) = read_csv(tmp_path / "res" / "listeners.csv")
    assert listener["finished_at"] and listener["trials"] == "6"


@pytest.mark.browser
@needs_chromium
def test_browser_mushra_and_ab_pages_store_what_was_chosen(
    browser, folders, tmp_path: Path
) -> None:
    from selenium.webdriver.common.keys import Keys

    build(folders, "mushra", tmp_path / "mushra", items=1)
    with serving(tmp_path / "mushra") as server:
        page = Page(browser, server.url)
        page.open()
        page.start("mushra1")
        page("play-reference").click()
        chosen = {}
        for index in (1, 2, 3, 4):
            page(f"play-{index}").click()
            slider = page(f"slider-{index}")
            slider.click()  # a real pointer click moves the slider
            slider.send_keys(Keys.HOME, *[Keys.ARROW_RIGHT] * (3 * index))
            chosen[slider.get_attribute("data-stimulus")] = float(slider.get_attribute("value"))
        assert sorted(chosen.values()) == [3.0, 6.0, 9.0, 12.0]
        page.next()
        page.finished()
        stored = dict(
            sqlite3.connect(server.store.path).execute("SELECT stimulus, score FROM ratings")
        )
        assert stored == chosen

    build(folders, "ab", tmp_path / "ab", items=1)
    with serving(tmp_path / "ab") as server:
        page = Page(browser, server.url)
        page.open()
        page("random-id").click()  # no id typed: the server assigns one
        page.wait.until(lambda d: page("trial").is_displayed())
        assert re.fullmatch(r"L[0-9a-f]{8}", page("listener-label").text)
        expected = {}
        for choice in ("pref-a", "pref-none", "pref-b"):
            assert page("progress").text.endswith("of 3")
            page("play-a").click()
            page.wait.until(lambda d: "played" in page("play-a").get_attribute("class"))
            page("play-b").click()
            page.until_enabled(choice)
            page(choice).click()
            a = page("play-a").get_attribute("data-stimulus")
            b = page("play-b").get_attribute("data-stimulus")
            expected.update(
                {a: 1.0, b: 0.0} if choice == "pref-a"
                else {a: 0.0, b: 1.0} if choice == "pref-b"
                else {a: 0.5, b: 0.5}
            )  # fmt: skip
            page.next()
        page.finished()
        stored = dict(
            sqlite3.connect(server.store.path).execute("SELECT stimulus, score FROM ratings")
        )
        assert stored == expected


# The serve command ------------------------------------------------------------------------------


def _as_from_a_terminal() -> None:
    """Ctrl-C reaches a server started in a terminal. A runner that starts the test suite in
    the background (a non-interactive shell's ``cmd &``) ignores SIGINT, and an ignored signal
    stays ignored across exec, so the child would never see it: give it the default back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_serve_command_prints_the_url_and_stops_cleanly_on_ctrl_c(folders, tmp_path: Path) -> None:
    build(folders, "mos", tmp_path / "mos", items=1)
    with socket.socket() as probe:  # a free port for the child to bind
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    child = subprocess.Popen(
        [sys.executable, "-m", "tts_ebm.cli", "listen", "serve", str(tmp_path / "mos"),
         "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"},
        preexec_fn=_as_from_a_terminal,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        lines = []
        for line in child.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        assert f"serving at http://127.0.0.1:{port}/" in "".join(lines), lines
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/api/session", body=json.dumps({"listener": "ann"}))
        assert connection.getresponse().status == 200
        connection.close()
        child.send_signal(signal.SIGINT)
        rest, _ = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, rest
    assert "stopped; 0 ratings" in rest and "Traceback" not in rest
    assert count(tmp_path / "mos" / DATABASE, "listeners") == 1
