"""The ``tts-ebm`` command: builds the parser from ``tts_ebm.commands`` and runs a handler."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tts_ebm import __version__
from tts_ebm.commands import register_all


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tts-ebm",
        description="Text-to-speech acoustic models trained as energy-based models.",
    )
    parser.add_argument("--version", action="version", version=f"tts-ebm {__version__}")
    register_all(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("tts-ebm: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:
        # User-facing failures (bad text, missing files, corrupt audio) get one line, no
        # traceback; TTS_EBM_DEBUG=1 shows it for bug reports.
        if os.environ.get("TTS_EBM_DEBUG"):
            raise
        print(f"tts-ebm: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
