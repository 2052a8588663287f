"""`tts-ebm phonemize`."""

from __future__ import annotations

import argparse
import sys


def _phonemize(args: argparse.Namespace) -> int:
    from tts_ebm.text import TextFrontend

    text = " ".join(args.text)
    if text == "-":
        text = sys.stdin.read()
    result = TextFrontend(kind=args.frontend, add_blank=False).process(text)
    print(f"normalized: {result.normalized}")
    if args.ids:
        print(f"ids: {' '.join(map(str, result.ids))}")
    print(result.phonemes)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "phonemize",
        help="normalise and phonemise English text",
        description="Print the normalised text and, on the last line, the phoneme string.",
    )
    p.add_argument("text", nargs="+", help="text to phonemise ('-' reads standard input)")
    p.add_argument("--frontend", choices=("ipa", "chars"), default="ipa", help="default: ipa")
    p.add_argument("--ids", action="store_true", help="also print the token ids")
    p.set_defaults(handler=_phonemize)
