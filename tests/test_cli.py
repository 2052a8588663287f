"""The console script as a user runs it."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tts_ebm.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("phonemize", "prepare", "corpus"):
        assert command in result.stdout


def test_phonemize_example_from_the_issue():
    result = run("phonemize", "Dr. Smith paid $42.50 on Jan. 3rd, 2024.")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "Doctor" in lines[0] and "forty two dollars" in lines[0]
    phonemes = lines[-1]
    assert "ˈ" in phonemes and not any(ch.isdigit() for ch in phonemes)
    assert phonemes.startswith("dˈɑːktɚ smˈɪθ")


def test_empty_text_is_one_line_error():
    result = run("phonemize", "🙂🙂")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "nothing to pronounce" in result.stderr
