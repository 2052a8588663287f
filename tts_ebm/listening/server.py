"""The listening-test web server: standard library only (``http.server``), no build step.

Listeners' browsers see opaque ids, never system names: the manifest stays on the server, audio
is looked up by id in it (a request path never becomes a file path, so ``..%2f`` cannot reach
other files), and the trial order is each listener's own. Every request body is size-limited
and validated in full before anything is written; a refused request writes nothing.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import socketserver
import sys
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from tts_ebm.listening.design import DATABASE, Manifest, PlannedTrial, listener_plan
from tts_ebm.listening.storage import RatingStore, UnknownListener

MAX_BODY_BYTES = 16 * 1024
MAX_JSON_INT = 2**53  # no field needs larger numbers; integers up to it are exact floats
# Bodies up to this size are read and discarded before answering 413, so the client sees the
# answer instead of a reset connection; larger ones just close the connection after it.
_DRAIN_LIMIT = 1024 * 1024
LISTENER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_AUDIO_PATH = re.compile(r"/audio/([0-9a-f]{16})\.wav")
_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}


class HttpError(Exception):
    """A refused request: status and a message for the listener's page."""

    def __init__(self, status: int, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close


def _static(name: str) -> bytes:
    return resources.files("tts_ebm.listening").joinpath("static", name).read_bytes()


def _reject_constant(value: str) -> float:
    raise ValueError(f"{value} is not allowed")


def _out_of_range(text: str) -> ValueError:
    shown = text if len(text) <= 24 else f"{text[:12]}... ({len(text)} characters)"
    return ValueError(f"number {shown} is out of range (at most {MAX_JSON_INT} in size)")


def _finite_float(text: str) -> float:
    """A JSON number with a fraction or exponent; ``1e400`` would silently become inf."""
    value = float(text)
    if not abs(value) <= MAX_JSON_INT:
        raise _out_of_range(text)
    return value


def _bounded_int(text: str) -> int:
    """A JSON integer; ``10**400`` overflows float comparisons (and long digit strings cost
    quadratic time), so its length is checked before it is converted."""
    if len(text.lstrip("-")) > len(str(MAX_JSON_INT)):
        raise _out_of_range(text)
    value = int(text)
    if abs(value) > MAX_JSON_INT:
        raise _out_of_range(text)
    return value


def parse_json_object(raw: bytes) -> dict:
    """A request body as a JSON object of finite numbers, or ValueError saying what is wrong.

    The one gate every POST body passes: bad UTF-8, NaN/Infinity, numbers beyond
    ``MAX_JSON_INT`` (``1e400`` would be inf) and nesting deep enough to exhaust the parser's
    recursion are the client's error (HTTP 400), never the server's.
    """
    try:
        data = json.loads(
            raw.decode("utf-8"),
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except RecursionError:
        raise ValueError("malformed JSON: nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


class ListeningServer(ThreadingHTTPServer):
    """Serves one test folder; ``store`` holds its ratings. ``port=0`` picks a free port."""

    daemon_threads = True  # idle keep-alive connections must not block shutdown
    # socketserver's default backlog of 5 resets connections when a class of listeners
    # starts at once (measured by the load test).
    request_queue_size = 128

    def __init__(
        self,
        test_dir: Path,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        log: Callable[[str], None] | None = None,
        access_log: bool = False,
    ) -> None:
        self.test_dir = Path(test_dir).resolve()
        self.manifest = Manifest.load(self.test_dir)
        self.store = RatingStore(self.test_dir / DATABASE, self.manifest.test_id)
        self.log = log
        self.access_log = access_log
        self.static = {path: _static(name) for path, (name, _) in _STATIC.items()}
        try:
            super().__init__((host, port), ListeningHandler)
        except BaseException:
            self.store.close()
            raise

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS look-up that can hang
        # for seconds on machines without a resolver; the name is not needed.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def handle_error(self, request: object, client_address: tuple) -> None:
        """A browser that drops a keep-alive connection (closed tab, reload) is routine: one
        log line, not socketserver's traceback. Anything else keeps the traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            if self.log is not None:
                self.log(f"connection from {client_address[0]} closed: {error.strerror}")
            return
        super().handle_error(request, client_address)

    def server_close(self) -> None:
        super().server_close()
        self.store.close()

    def stimulus_path(self, stimulus_id: str) -> Path | None:
        """The file of a stimulus id, or None: ids, not request paths, select files."""
        stimulus = self.manifest.stimuli.get(stimulus_id)
        if stimulus is None:
            return None
        path = (self.test_dir / stimulus.file).resolve()
        if not path.is_relative_to(self.test_dir) or not path.is_file():
            return None
        return path


def _trial_json(planned: PlannedTrial) -> dict:
    trial = planned.trial
    return {
        "id": trial.id,
        "stimuli": [{"id": sid, "url": f"/audio/{sid}.wav"} for sid in planned.stimuli],
        "reference": (
            {"url": f"/audio/{trial.open_reference}.wav"} if trial.open_reference else None
        ),
    }


class ListeningHandler(BaseHTTPRequestHandler):
    """Routes: the page, its script and style, ``/audio/ID.wav`` and a small JSON API."""

    protocol_version = "HTTP/1.1"
    server_version = "tts-ebm-listen/1"
    timeout = 120  # seconds an idle keep-alive connection keeps its thread
    server: ListeningServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        if self.server.access_log:
            super().log_message(format, *args)

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        self._dispatch(self._get)

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch(self._post)

    def _dispatch(self, route: Callable[[str], None]) -> None:
        try:
            route(urlsplit(self.path).path)
        except HttpError as exc:
            self._json({"error": exc.message}, exc.status, close=exc.close)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug must not take the server down; tell the page
            print(f"listen serve: internal error on {self.path}: {exc!r}", file=sys.stderr)
            self._json({"error": "internal server error"}, HTTPStatus.INTERNAL_SERVER_ERROR)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: dict, status: int = HTTPStatus.OK, *, close: bool = False) -> None:
        body = json.dumps(data).encode()
        headers = {"Cache-Control": "no-store"}
        self._send(status, body, "application/json", headers, close=close)

    # GET ---------------------------------------------------------------------------------

    def _get(self, path: str) -> None:
        if path in _STATIC:
            headers = {"Cache-Control": "no-cache"}
            if path in ("/", "/index.html"):
                headers["Content-Security-Policy"] = "default-src 'self'"
            self._send(HTTPStatus.OK, self.server.static[path], _STATIC[path][1], headers)
        elif path == "/favicon.ico":
            self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        elif path == "/api/test":
            manifest = self.server.manifest
            low, high = manifest.scale
            self._json({"kind": manifest.kind, "total": len(manifest.trials), "scale": [low, high]})
        elif match := _AUDIO_PATH.fullmatch(path):
            self._audio(match.group(1))
        else:
            raise HttpError(HTTPStatus.NOT_FOUND, f"not found: {path}")

    def _audio(self, stimulus_id: str) -> None:
        file = self.server.stimulus_path(stimulus_id)
        if file is None:
            raise HttpError(HTTPStatus.NOT_FOUND, "no such audio")
        data = file.read_bytes()
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-cache"}
        wanted = self.headers.get("Range")
        if wanted is None:
            self._send(HTTPStatus.OK, data, "audio/wav", headers)
            return
        # One byte range, as browsers ask for when seeking: "bytes=START-[END]" or "bytes=-N".
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", wanted.strip())
        size = len(data)
        start = end = None
        if match and (match.group(1) or match.group(2)):
            if match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            else:
                start, end = max(size - int(match.group(2)), 0), size - 1
        if start is None or end is None or start > end or start >= size:
            headers["Content-Range"] = f"bytes */{size}"
            self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", "audio/wav", headers)
            return
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self._send(HTTPStatus.PARTIAL_CONTENT, data[start : end + 1], "audio/wav", headers)

    # POST --------------------------------------------------------------------------------

    def _post(self, path: str) -> None:
        handler = {
            "/api/session": self._session,
            "/api/rate": self._rate,
            "/api/finish": self._finish,
        }.get(path)
        if handler is None:
            raise HttpError(HTTPStatus.NOT_FOUND, f"not found: {path}")
        handler(self._body())

    def _body(self) -> dict:
        if "Transfer-Encoding" in self.headers:
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length", close=True)
        length = self.headers.get("Content-Length")
        if length is None:
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length", close=True)
        try:
            size = int(length)
            if size < 0:
                raise ValueError(length)
        except ValueError:
            raise HttpError(HTTPStatus.BAD_REQUEST, "bad Content-Length", close=True) from None
        if size > MAX_BODY_BYTES:
            if size <= _DRAIN_LIMIT:
                self.rfile.read(size)
            raise HttpError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"request body of {size} bytes is over the limit of {MAX_BODY_BYTES}",
                close=True,
            )
        try:
            return parse_json_object(self.rfile.read(size))
        except ValueError as exc:
            raise HttpError(HTTPStatus.BAD_REQUEST, str(exc)) from None

    def _listener(self, data: dict, *, known: bool = True) -> str:
        listener = data.get("listener")
        if not isinstance(listener, str) or not LISTENER_ID.fullmatch(listener):
            raise HttpError(
                HTTPStatus.BAD_REQUEST,
                "listener id: 1-64 letters, digits and _.@- (starting with a letter or digit)",
            )
        if known and not self.server.store.has_listener(listener):
            raise HttpError(HTTPStatus.NOT_FOUND, f"unknown listener {listener}; start again")
        return listener

    def _session(self, data: dict) -> None:
        store = self.server.store
        agent = self.headers.get("User-Agent", "")[:300]
        if data.get("listener") in (None, ""):
            # A fresh random id; registering it is the uniqueness check (atomic, unlike a
            # look-up followed by an insert).
            while not store.start_listener(listener := f"L{secrets.token_hex(4)}", agent):
                pass
            new = True
        else:
            listener = self._listener(data, known=False)
            new = store.start_listener(listener, agent)
        plan = listener_plan(self.server.manifest, listener)
        answered = store.answered(listener)
        if self.server.log:
            verb = "started" if new else f"resumed ({len(answered)}/{len(plan)} answered)"
            self.server.log(f"listener {listener} {verb}")
        self._json(
            {
                "listener": listener,
                "resumed": not new,
                "kind": self.server.manifest.kind,
                "total": len(plan),
                "answered": sorted(answered),
                "trials": [_trial_json(p) for p in plan],
            }
        )

    def _rate(self, data: dict) -> None:
        manifest = self.server.manifest
        listener = self._listener(data)
        trial_id = data.get("trial")
        trial = manifest.trials_by_id.get(trial_id) if isinstance(trial_id, str) else None
        if trial is None:
            raise HttpError(HTTPStatus.NOT_FOUND, f"unknown trial {trial_id!r}")
        planned = next(p for p in listener_plan(manifest, listener) if p.trial.id == trial.id)
        scores = self._scores(trial.id, planned.stimuli, data)
        rows = [(sid, planned.stimuli.index(sid), scores[sid]) for sid in planned.stimuli]
        try:
            stored = self.server.store.submit(listener, trial.id, rows)
        except UnknownListener:
            raise HttpError(HTTPStatus.NOT_FOUND, f"unknown listener {listener}") from None
        answered = len(self.server.store.answered(listener))
        if self.server.log and stored:
            self.server.log(f"listener {listener}: {answered}/{len(manifest.trials)} answered")
        self._json(
            {
                "stored": stored,
                "duplicate": not stored,
                "answered": answered,
                "total": len(manifest.trials),
            }
        )

    def _scores(self, trial_id: str, stimuli: tuple[str, ...], data: dict) -> dict[str, float]:
        """Validate a trial's answer completely; returns the score of every stimulus."""
        kind = self.server.manifest.kind
        if kind == "ab":
            choice = data.get("preference")
            if choice == "none":
                return dict.fromkeys(stimuli, 0.5)
            if not isinstance(choice, str) or choice not in stimuli:
                raise HttpError(
                    HTTPStatus.BAD_REQUEST,
                    f'preference must be one of trial {trial_id}\'s two stimuli or "none"',
                )
            return {sid: 1.0 if sid == choice else 0.0 for sid in stimuli}
        ratings = data.get("ratings")
        if not isinstance(ratings, dict):
            raise HttpError(HTTPStatus.BAD_REQUEST, "ratings must be an object {stimulus: score}")
        unknown = sorted(set(ratings) - set(stimuli))
        if unknown:
            raise HttpError(
                HTTPStatus.BAD_REQUEST, f"stimulus {unknown[0]} is not part of trial {trial_id}"
            )
        missing = [sid for sid in stimuli if sid not in ratings]
        if missing:
            raise HttpError(HTTPStatus.BAD_REQUEST, f"no rating for stimulus {missing[0]}")
        low, high = self.server.manifest.scale
        scores = {}
        for sid, value in ratings.items():
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or not math.isfinite(value) or not low <= value <= high:
                raise HttpError(
                    HTTPStatus.BAD_REQUEST, f"rating {value!r} is not a number from {low} to {high}"
                )
            if kind == "mos" and value != int(value):
                raise HttpError(HTTPStatus.BAD_REQUEST, f"MOS ratings are whole numbers: {value}")
            scores[sid] = float(value)
        return scores

    def _finish(self, data: dict) -> None:
        listener = self._listener(data)
        answered = len(self.server.store.answered(listener))
        total = len(self.server.manifest.trials)
        if answered < total:
            raise HttpError(HTTPStatus.CONFLICT, f"{total - answered} of {total} items unanswered")
        self.server.store.finish(listener)
        if self.server.log:
            self.server.log(f"listener {listener} finished")
        self._json({"answered": answered, "total": total})


def make_server(
    test_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    log: Callable[[str], None] | None = None,
    access_log: bool = False,
) -> ListeningServer:
    """A bound, not yet running server; call ``serve_forever()`` (in a thread for tests)."""
    return ListeningServer(test_dir, host, port, log=log, access_log=access_log)
