"""`tts-ebm recipe summary`: the closing table of an egs/ experiment."""

from __future__ import annotations

import argparse
from pathlib import Path


def _summary(args: argparse.Namespace) -> int:
    from tts_ebm.recipe import summarize

    print(summarize(args.exp_dir), end="")
    figure = " and comparison.png" if (args.exp_dir / "comparison.png").is_file() else ""
    print(f"(written to {args.exp_dir / 'summary.md'}, summary.json{figure})")
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
        help="metrics and costs of every system and time of every stage of an experiment",
        description=(
            "Read EXP_DIR/eval/*/summary.json (from tts-ebm evaluate), EXP_DIR/timings.tsv "
            "(written by egs/*/run.sh), EXP_DIR/synth/*/timing.json (from tts-ebm synthesize "
            "--file) and the training logs EXP_DIR/runs/*/csv; print one table of metrics per "
            "system (means, the acoustic model's RTF, the criterion's training seconds per "
            "step) and one of time per stage, and write them to EXP_DIR/summary.md and "
            "summary.json, with quality against steps and against RTF in comparison.png."
        ),
    )
    s.add_argument("exp_dir", type=Path, metavar="EXP_DIR")
    s.set_defaults(handler=_summary)
