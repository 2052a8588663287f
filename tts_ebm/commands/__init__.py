"""Subcommands of ``tts-ebm``: one module per family, each with ``register(subparsers)``.

A module only parses arguments and calls library functions; adding a command means adding a
module here and its name to ``MODULES``.
"""

from __future__ import annotations

import argparse
from importlib import import_module

MODULES = (
    "text",
    "data",
    "train",
    "durations",
    "synthesize",
    "voice",
    "benchmark",
    "evaluate",
    "listen",
    "vocode",
    "recipe",
    "score",
    "serve",
)


def register_all(commands: argparse._SubParsersAction) -> None:
    for name in MODULES:
        import_module(f"tts_ebm.commands.{name}").register(commands)
