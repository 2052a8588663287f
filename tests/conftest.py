"""Shared fixtures: a short real utterance (festival's SLT voice, Harvard sentences)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def speech_wav() -> Path:
    return DATA / "speech.wav"
