"""Ratings in SQLite: one transaction per answered trial, first write wins.

Semantics (tested): a trial's ratings are committed together or not at all, and the first
committed answer of a listener to a trial is final. A later submission of the same trial — a
double click, a reload, a browser retry after a lost response — is acknowledged as a duplicate
and changes nothing, so a retry can never silently rewrite data and a listener cannot revise an
answer after hearing later stimuli. ``PRIMARY KEY (listener, trial)`` and ``UNIQUE (listener,
trial, stimulus)`` enforce it in the database itself, not only in this code. WAL journal with
``synchronous=FULL``: an answer acknowledged to the browser survives a crash or power cut.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS listeners (
    listener TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    user_agent TEXT
);
CREATE TABLE IF NOT EXISTS responses (
    listener TEXT NOT NULL REFERENCES listeners (listener),
    trial TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    PRIMARY KEY (listener, trial)
);
CREATE TABLE IF NOT EXISTS ratings (
    listener TEXT NOT NULL,
    trial TEXT NOT NULL,
    stimulus TEXT NOT NULL,
    position INTEGER NOT NULL CHECK (position >= 0),
    score REAL NOT NULL,
    UNIQUE (listener, trial, stimulus),
    FOREIGN KEY (listener, trial) REFERENCES responses (listener, trial)
);
"""


class StorageError(ValueError):
    """A ratings database that belongs to another test or cannot be opened."""


class UnknownListener(KeyError):
    """A submission for a listener who never started a session."""


@dataclass(frozen=True)
class StoredRating:
    """One row of ``ratings`` with its response's timestamp."""

    listener: str
    trial: str
    stimulus: str
    position: int
    score: float
    submitted_at: str


@dataclass(frozen=True)
class ListenerRecord:
    listener: str
    started_at: str
    finished_at: str | None
    user_agent: str | None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class RatingStore:
    """Thread-safe access to ``ratings.sqlite`` for one test (identified by its ``test_id``).

    One connection behind a lock: the server's threads write one short transaction each, and
    serialising them here avoids SQLITE_BUSY handling; other processes (``listen results``
    while the test runs) read concurrently thanks to WAL.
    """

    def __init__(self, path: Path, test_id: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {self.path}: {exc}") from exc
        self._init_schema(test_id)

    def _init_schema(self, test_id: str) -> None:
        try:
            with self._transaction() as db:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('test_id', ?), ('schema', ?)",
                    (test_id, str(SCHEMA_VERSION)),
                )
                stored = db.execute("SELECT value FROM meta WHERE key = 'test_id'").fetchone()[0]
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {self.path}: {exc}") from exc
        if stored != test_id:
            self.close()
            raise StorageError(
                f"{self.path} holds ratings of another test (test_id {stored}, not {test_id})"
            )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT under the lock; any exception rolls everything back."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def start_listener(self, listener: str, user_agent: str | None = None) -> bool:
        """Register a listener; False when they already exist (a returning listener)."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO listeners (listener, started_at, user_agent) "
                "VALUES (?, ?, ?)",
                (listener, _now(), user_agent),
            )
            return cursor.rowcount == 1

    def has_listener(self, listener: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM listeners WHERE listener = ?", (listener,)
            ).fetchone()
        return row is not None

    def submit(self, listener: str, trial: str, ratings: Iterable[tuple[str, int, float]]) -> bool:
        """Store (stimulus, position, score) rows of one trial atomically.

        Returns True when stored, False when this listener had already answered the trial
        (first write wins: nothing is changed). Raises :class:`UnknownListener` for a listener
        without a session, and sqlite3 errors (nothing stored) for rows the schema refuses.
        """
        rows = [(listener, trial, s, int(p), float(v)) for s, p, v in ratings]
        with self._transaction() as db:
            known = db.execute("SELECT 1 FROM listeners WHERE listener = ?", (listener,)).fetchone()
            if known is None:
                raise UnknownListener(listener)
            cursor = db.execute(
                "INSERT INTO responses (listener, trial, submitted_at) VALUES (?, ?, ?) "
                "ON CONFLICT (listener, trial) DO NOTHING",
                (listener, trial, _now()),
            )
            if cursor.rowcount == 0:
                return False
            db.executemany(
                "INSERT INTO ratings (listener, trial, stimulus, position, score) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            return True

    def finish(self, listener: str) -> None:
        """Record when a listener reached the end (kept from the first time)."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE listeners SET finished_at = COALESCE(finished_at, ?) WHERE listener = ?",
                (_now(), listener),
            )
            if cursor.rowcount == 0:
                raise UnknownListener(listener)

    def answered(self, listener: str) -> set[str]:
        """Trials this listener has answered, for resuming."""
        with self._lock:
            rows = self._db.execute(
                "SELECT trial FROM responses WHERE listener = ?", (listener,)
            ).fetchall()
        return {trial for (trial,) in rows}

    def count(self, table: str = "ratings") -> int:
        if table not in ("ratings", "responses", "listeners"):
            raise ValueError(f"no table {table!r}")
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def ratings(self) -> list[StoredRating]:
        with self._lock:
            rows = self._db.execute(
                "SELECT r.listener, r.trial, r.stimulus, r.position, r.score, s.submitted_at "
                "FROM ratings r JOIN responses s USING (listener, trial) "
                "ORDER BY s.submitted_at, r.listener, r.trial, r.position"
            ).fetchall()
        return [StoredRating(*row) for row in rows]

    def listeners(self) -> list[ListenerRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT listener, started_at, finished_at, user_agent FROM listeners "
                "ORDER BY started_at, listener"
            ).fetchall()
        return [ListenerRecord(*row) for row in rows]
