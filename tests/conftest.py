"""Shared fixtures: a short real utterance (festival's SLT voice, Harvard sentences)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def speech_wav() -> Path:
    return DATA / "speech.wav"


def _write_hub_cache(cache: Path, repo_id: str, filename: str, payload: bytes) -> str:
    """The layout ``huggingface_hub`` writes: content-addressed blobs, snapshot symlinks, refs.

    Returns the (made-up) commit hash the snapshot is filed under.
    """
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    commit = hashlib.sha1(repo_id.encode() + payload).hexdigest()
    blob = repo / "blobs" / hashlib.sha256(payload).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(payload)
    link = repo / "snapshots" / commit / filename
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return commit


@pytest.fixture()
def fake_hub_cache() -> Callable[[Path, str, str, bytes], str]:
    """Builds a real Hugging Face cache on disk, so hf:// loading is tested offline."""
    return _write_hub_cache
