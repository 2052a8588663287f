"""The ``tts-ebm`` command: builds the parser from ``tts_ebm.commands`` and runs a handler."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tts_ebm import __version__
from tts_ebm.commands import register_all


class IntermixedParser(argparse.ArgumentParser):
    """A command's parser that takes options anywhere, between positionals too.

    Users type ``tts-ebm synthesize TEXT --threads 1 OUT``; plain argparse stops filling
    positionals at the first option and refuses OUT. Parsers that hold a subcommand keep the
    plain rule (argparse's intermixed mode cannot hand the rest to a subparser), and nested
    subparsers inherit this class, so every leaf command parses the intermixed way.
    """

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self._intermixing or any(
            action.nargs in (argparse.PARSER, argparse.REMAINDER)
            for action in self._get_positional_actions()
        ):
            return super().parse_known_args(args, namespace)
        self._intermixing = True  # parse_known_intermixed_args calls back into this method
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tts-ebm",
        description="Text-to-speech acoustic models trained as energy-based models.",
    )
    parser.add_argument("--version", action="version", version=f"tts-ebm {__version__}")
    register_all(
        parser.add_subparsers(
            dest="command", metavar="COMMAND", required=True, parser_class=IntermixedParser
        )
    )
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
