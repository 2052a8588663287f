"""`tts-ebm prepare` and `tts-ebm corpus`: corpora and features."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _prepare(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from tts_ebm.data.prepare import PrepareOptions, prepare_corpus

    options = PrepareOptions(
        frontend=args.frontend,
        val_size=args.val_size,
        seed=args.seed,
        min_seconds=args.min_seconds,
        max_seconds=args.max_seconds,
        jobs=args.jobs,
    )
    start = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), transient=False) as bar:
        task = bar.add_task("mel features", total=None)
        report = prepare_corpus(
            args.corpus,
            args.out_dir,
            options,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    for item in report.skipped:
        print(f"skipped {item.id}: {item.reason}", file=sys.stderr)
    print(
        f"prepared {report.n_train} train + {report.n_val} val utterances "
        f"({report.n_reused} reused from cache), skipped {len(report.skipped)}, "
        f"in {time.perf_counter() - start:.1f} s → {report.out_dir}"
    )
    if report.stats:
        print(f"mel statistics: mean {report.stats.mean:.4f}, std {report.stats.std:.4f}")
    return 0


def _corpus_toy(args: argparse.Namespace) -> int:
    from tts_ebm.data.toy import make_toy_corpus

    out = make_toy_corpus(args.out_dir, n_utterances=args.n_utterances, seed=args.seed)
    print(f"toy corpus ready: {out}")
    return 0


def _corpus_festival(args: argparse.Namespace) -> int:
    from tts_ebm.data import festival

    return festival.main(args.festival_args)


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "prepare",
        help="compute mel features, phoneme ids, splits and statistics for a corpus",
        description=(
            "Prepare CORPUS (an LJSpeech-format folder: metadata.csv + wavs/, or a path|text "
            "filelist) into OUT_DIR: cached log-mels, train/val lists, mel statistics. Bad "
            "entries are reported by id and skipped; re-running reuses the cache. A folder "
            "holding val_ids.txt uses it as the validation split."
        ),
    )
    p.add_argument("corpus", type=Path, help="LJSpeech-format folder or path|text filelist")
    p.add_argument("out_dir", type=Path, help="where features and lists are written")
    p.add_argument("--frontend", choices=("ipa", "chars"), default="ipa", help="default: ipa")
    p.add_argument("--val-size", type=int, default=100, help="validation utterances (100)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/val split (0)")
    p.add_argument("--min-seconds", type=float, default=0.3, help="shorter is skipped (0.3)")
    p.add_argument("--max-seconds", type=float, default=20.0, help="longer is skipped (20)")
    p.add_argument("--jobs", type=int, default=0, help="worker processes (0 = CPU cores)")
    p.set_defaults(handler=_prepare)

    p = commands.add_parser("corpus", help="build corpora: the synthetic toy language, festival")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    toy = kinds.add_parser(
        "toy",
        help="a tiny synthetic language for tests and smoke runs",
        description="Write a deterministic LJSpeech-format corpus of a synthetic language.",
    )
    toy.add_argument("out_dir", type=Path)
    toy.add_argument("--n-utterances", type=int, default=200, help="default: 200")
    toy.add_argument("--seed", type=int, default=0, help="default: 0")
    toy.set_defaults(handler=_corpus_toy)
    fest = kinds.add_parser(
        "festival",
        help="speak a sentence list with festival into an LJSpeech-format corpus",
        add_help=False,
    )
    fest.add_argument("festival_args", nargs=argparse.REMAINDER)
    fest.set_defaults(handler=_corpus_festival)
