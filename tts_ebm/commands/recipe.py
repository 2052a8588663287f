"""`tts-ebm recipe summary`: the closing table of an egs/ experiment."""

from __future__ import annotations

import argparse
from pathlib import Path


def _summary(args: argparse.Namespace) -> int:
    from tts_ebm.recipe import summarize

    print(summarize(args.exp_dir), end="")
    print(f"(written to {args.exp_dir / 'summary.md'} and summary.json)")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "recipe",
        help="helpers of the egs/ pipelines (summary table)",
        description="Helpers of the end-to-end pipelines under egs/ (see egs/README.md).",
    )
    sub = p.add_subparsers(dest="recipe_command", metavar="ACTION", required=True)
    s = sub.add_parser(
        "summary",
        help="metrics of every system and time of every stage of an experiment",
        description=(
            "Read EXP_DIR/eval/*/summary.json (from tts-ebm evaluate) and EXP_DIR/timings.tsv "
            "(written by egs/*/run.sh), print one table of metrics per system (means) and one "
            "of time per stage, and write them to EXP_DIR/summary.md and summary.json."
        ),
    )
    s.add_argument("exp_dir", type=Path, metavar="EXP_DIR")
    s.set_defaults(handler=_summary)
