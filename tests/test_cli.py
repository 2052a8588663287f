"""The console script as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


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


def _leaf_parsers(parser, path=()):
    """(command words, parser) of every command that takes its own arguments."""
    import argparse

    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subcommands:
        yield path, parser
        return
    for name, sub in subcommands[0].choices.items():
        yield from _leaf_parsers(sub, (*path, name))


def test_options_between_positionals_as_users_type_them():
    from tts_ebm.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["synthesize", "Hello there.", "--threads", "1", "out.wav"])
    assert (args.text, args.threads, args.out) == ("Hello there.", 1, "out.wav")
    args = parser.parse_args(["export", "run/model.ckpt", "--fp16", "out.safetensors"])
    assert (str(args.checkpoint), str(args.out), args.fp16) == (
        "run/model.ckpt",
        "out.safetensors",
        True,
    )
    args = parser.parse_args(["corpus", "festival", "a.txt", "--jobs", "1", "b.txt", "out"])
    assert args.sentences == [Path("a.txt"), Path("b.txt")] and args.out_dir == Path("out")


def test_every_command_parses_the_intermixed_way():
    """Not a special case of synthesize: every command's parser is the intermixed one."""
    from tts_ebm.cli import IntermixedParser, build_parser

    leaves = dict(_leaf_parsers(build_parser()))
    assert len(leaves) > 15
    for words, parser in leaves.items():
        assert isinstance(parser, IntermixedParser), words


def test_extra_positional_is_still_refused(capsys):
    from tts_ebm.cli import main

    with pytest.raises(SystemExit) as refused:
        main(["export", "a.ckpt", "b.safetensors", "c"])
    assert refused.value.code == 2 and "unrecognized arguments: c" in capsys.readouterr().err
