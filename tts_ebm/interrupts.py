"""SIGTERM (a plain ``kill``, a service manager) stopping a command like Ctrl-C does."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block SIGTERM raises KeyboardInterrupt, so the command's Ctrl-C clean-up runs;
    the previous handler comes back afterwards, so later work in the same process (training's
    own SIGTERM handling, a test suite) is unaffected."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
