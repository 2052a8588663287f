"""Writing a file so that no reader, and no crash, ever sees half of it."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: str | Path, text: str) -> None:
    """``path`` holds ``text`` (UTF-8) in full or keeps what it held: written beside it under a
    name of this process, then renamed over it (a rename within a folder is atomic)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
