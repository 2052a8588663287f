"""Hostile and heavy clients against a real `tts-ebm serve` (API key, small queue, small text
limit) on a loopback port: each refusal is one line of JSON with the right status and leaves
the server unharmed; slow, vanishing and many clients hold up nobody and bound the memory."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from serving import Server, running_server

KEY = "s3cret-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
MAX_CHARS = 300
MAX_BODY = 6 * MAX_CHARS + 4096
MAX_QUEUE = 4
LONG = " ".join(f"Sentence {n} is here." for n in range(1, 5))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    args = ("--api-key", KEY, "--max-chars", str(MAX_CHARS), "--max-queue", str(MAX_QUEUE))
    with running_server(tmp_path_factory.mktemp("hostile"), *args) as server:
        yield server


def post(server: Server, body: object = None, *, raw: bytes | None = None, **kw) -> httpx.Response:
    content = raw if raw is not None else json.dumps(body).encode()
    headers = {**AUTH, "Content-Type": "application/json", **kw.pop("headers", {})}
    return httpx.post(
        f"{server.url}/v1/audio/speech", content=content, headers=headers, timeout=120, **kw
    )


def one_line_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert "\n" not in response.text.strip()
    return response.json()["error"]["message"]


def assert_unharmed(server: Server, speak: bool = False) -> None:
    """Healthy, nothing left queued, and (``speak``) still synthesising."""
    health = httpx.get(f"{server.url}/health").json()
    assert health["status"] == "ok"
    deadline = time.monotonic() + 30
    while httpx.get(f"{server.url}/health").json()["queued"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert httpx.get(f"{server.url}/health").json()["queued"] == 0
    if speak:
        answer = post(server, {"input": "Hi.", "response_format": "wav"})
        assert answer.status_code == 200 and len(answer.content) > 44 + 10_000


def test_api_key_is_required_everywhere_but_health(server) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        for path in ("/v1/models", "/v1/audio/voices", "/", "/voices"):
            r = httpx.get(f"{server.url}{path}", headers=headers)
            assert one_line_error(r, 401).startswith("a valid API key is required")
            assert r.headers["www-authenticate"] == "Bearer"
        r = httpx.post(f"{server.url}/v1/audio/speech", json={"input": "Hi."}, headers=headers)
        one_line_error(r, 401)
    assert httpx.get(f"{server.url}/health").status_code == 200
    assert httpx.get(f"{server.url}/v1/models", headers=AUTH).status_code == 200


def test_oversize_bodies_are_refused_with_413(server) -> None:
    big = json.dumps({"input": "a" * MAX_BODY}).encode()
    assert "over" in one_line_error(post(server, raw=big), 413)

    def chunked() -> Iterator[bytes]:  # no Content-Length: caught while reading
        yield b'{"input": "'
        for _ in range(MAX_BODY // 1000 + 1):
            yield b"a" * 1000
        yield b'"}'

    one_line_error(post(server, raw=chunked()), 413)  # type: ignore[arg-type]
    r = httpx.post(server.url, content=b"b" * (MAX_BODY + 1), headers=AUTH)  # Piper's route
    one_line_error(r, 413)
    assert_unharmed(server)


BAD = [
    (b"{not json", "malformed JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b"\xff\xfe\x00binary", "malformed JSON"),
    (b'{"input": "Hi.", "steps": NaN}', "NaN"),
    (b'{"input": "Hi.", "temperature": Infinity}', "Infinity"),
    (b'{"input": "Hi.", "step_size": 1e400}', "out of range"),
    ({"voice": "default"}, "input is missing"),
    ({"input": 5}, "input must be a string"),
    ({"input": ""}, "input is empty"),
    ({"input": "   \n "}, "input is empty"),
    ({"input": "a" * (MAX_CHARS + 1)}, f"at most {MAX_CHARS}"),
    ({"input": "Hi \x00\x01\x02 there"}, "control character"),
    (b'{"input": "Hi \\ud800 there"}', "surrogate"),
    ({"input": "Hi.", "voice": "alloy"}, "unknown voice 'alloy'; voices: default"),
    ({"input": "Hi.", "voice": ["default"]}, "unknown voice"),
    ({"input": "Hi.", "steps": "four"}, "steps must be an integer"),
    ({"input": "Hi.", "steps": 1.5}, "steps must be an integer"),
    ({"input": "Hi.", "steps": 10_001}, "steps must be >= 0 and <= 10000"),
    ({"input": "Hi.", "temperature": -1}, "temperature must be"),
    ({"input": "Hi.", "step_size": 0}, "step_size must be"),
    ({"input": "Hi.", "steps": 1, "step_size": [1.0, 0.5]}, "step_size"),
    ({"input": "Hi.", "speed": "fast"}, "speed must be a finite number"),
    ({"input": "Hi.", "speed": 0}, "speed must be"),
    ({"input": "Hi.", "speed": 100}, "speed must be"),
    ({"input": "Hi.", "response_format": "aac"}, "supported: wav, pcm, flac"),
    ({"input": "Hi.", "stream_format": "events"}, "stream_format must be one of"),
    ({"input": "Hi.", "model": 3}, "model must be"),
    ({"input": "Hi.", "batch_size": 1000}, "unknown field 'batch_size'"),
]


def test_bad_requests_get_one_line_400s_and_leave_the_server_unharmed(server) -> None:
    rss = server.rss_kib()
    for body, expected in BAD:
        r = post(server, raw=body) if isinstance(body, bytes) else post(server, body)
        assert r.status_code == 400, body
        assert expected in one_line_error(r, 400), body
    for text in ("", "\x00\x01"):
        one_line_error(httpx.get(server.url, params={"text": text}, headers=AUTH), 400)
    one_line_error(httpx.post(server.url, content=b"\xff\xfe", headers=AUTH), 400)
    one_line_error(httpx.get(f"{server.url}/nowhere", headers=AUTH), 404)
    one_line_error(httpx.delete(f"{server.url}/v1/audio/speech", headers=AUTH), 405)
    assert server.rss_kib() < rss + 50_000  # nothing kept
    assert_unharmed(server, speak=True)


def test_a_short_request_is_not_held_up_by_a_long_one_or_a_stalled_reader(server) -> None:
    t0 = time.perf_counter()
    alone = post(server, {"input": "Hi.", "response_format": "wav"})
    short_alone = time.perf_counter() - t0
    assert alone.status_code == 200

    # a client that sends a long request and never reads its answer
    stalled = socket.create_connection(("127.0.0.1", server.port))
    body = json.dumps({"input": LONG, "response_format": "wav"}).encode()
    stalled.sendall(
        b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    # a reading client with the same long text, from which the short one's wait is measured
    long_done: dict[str, float] = {}

    def long_reader() -> None:
        with httpx.stream(
            "POST", f"{server.url}/v1/audio/speech", json={"input": LONG, "response_format": "wav"},
            headers=AUTH, timeout=300,
        ) as r:  # fmt: skip
            for i, _ in enumerate(r.iter_raw()):
                if i == 0:
                    long_done["first"] = time.perf_counter()
        long_done["last"] = time.perf_counter()

    thread = threading.Thread(target=long_reader)
    thread.start()
    while "first" not in long_done:
        time.sleep(0.05)
    t0 = time.perf_counter()
    with httpx.stream(
        "POST", f"{server.url}/v1/audio/speech", json={"input": "Hi.", "response_format": "wav"},
        headers=AUTH, timeout=120,
    ) as short:  # fmt: skip
        parts = short.iter_raw()
        content = next(parts)
        first_audio = time.perf_counter() - t0
        content += b"".join(parts)
    short_end = time.perf_counter()
    thread.join()
    stalled.close()
    assert short.status_code == 200 and content == alone.content
    assert short_end < long_done["last"]  # served between the long answers' sentences
    # behind two four-sentence requests, a one-sentence one hears its first audio within
    # about two sentence-times (the vocoder chunk under way, then its own), not eight
    assert first_audio < 2 * short_alone + 1.0, (first_audio, short_alone)
    assert_unharmed(server)


def test_a_client_that_disconnects_mid_stream_frees_its_place(server) -> None:
    with httpx.stream(
        "POST", f"{server.url}/v1/audio/speech", json={"input": LONG, "response_format": "pcm"},
        headers=AUTH, timeout=120,
    ) as r:  # fmt: skip
        next(r.iter_raw())
        assert httpx.get(f"{server.url}/health").json()["queued"] == 1
    # gone after one sentence: its other three are dropped, not made
    deadline = time.monotonic() + 20
    while httpx.get(f"{server.url}/health").json()["queued"]:
        assert time.monotonic() < deadline, "the abandoned request is still queued"
        time.sleep(0.1)
    assert_unharmed(server)


def test_a_burst_of_1000_requests(server) -> None:
    rss = server.rss_kib()

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=300, headers=AUTH) as client:
            body = {"input": "Hi.", "response_format": "wav"}
            return await asyncio.gather(
                *(client.post(f"{server.url}/v1/audio/speech", json=body) for _ in range(1000))
            )

    start = time.perf_counter()
    answers = asyncio.run(burst())
    print(f"1000 requests in {time.perf_counter() - start:.1f} s")
    codes = [r.status_code for r in answers]
    accepted = [r for r in answers if r.status_code == 200]
    busy = [r for r in answers if r.status_code == 503]
    assert len(accepted) + len(busy) == 1000, set(codes)
    assert MAX_QUEUE <= len(accepted) < 200 and len(busy) > 800
    assert {r.headers["retry-after"] for r in busy} <= {"1", "2", "3", "5"}
    assert "busy" in one_line_error(busy[0], 503)
    # every accepted one answered in full (batched differently: equal up to float round-off)
    lengths = {len(r.content) for r in accepted}
    assert len(lengths) == 1 and lengths.pop() > 44 + 10_000
    assert server.rss_kib() < rss + 150_000
    assert_unharmed(server)
