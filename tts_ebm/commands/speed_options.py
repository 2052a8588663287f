"""The options every command that runs the vocoder shares: its runtime and torch's threads."""

from __future__ import annotations

import argparse

from tts_ebm.threads import THREADS_ENV
from tts_ebm.vocoder.runtime import RUNTIME_HELP, RUNTIMES


def add_speed_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vocoder-runtime",
        choices=RUNTIMES,
        default="auto",
        help="how HiFi-GAN runs: " + RUNTIME_HELP,
    )
    parser.add_argument(
        "--threads",
        type=int,
        help=f"torch threads (default: ${THREADS_ENV}, else the physical cores not busy with "
        "other work)",
    )
