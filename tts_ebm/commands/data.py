"""`tts-ebm prepare` and `tts-ebm corpus`: corpora and features."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tts_ebm.data.prepare import PrepareOptions, PrepareReport


def _prepare(args: argparse.Namespace) -> int:
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
    from tts_ebm.progress import count_progress

    with count_progress() as bar:
        task = bar.add_task("mel features", total=None)
        report = prepare_corpus(
            args.corpus,
            args.out_dir,
            options,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if args.screen:
        report = _screen(args, options)
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


def _screen(args: argparse.Namespace, options: PrepareOptions) -> PrepareReport:
    """Score the training split with ``--screen`` and prepare again (from the cache) without
    its worst ``--drop-worst`` %; they go to skipped.tsv with their rank and score."""
    from dataclasses import replace

    from tts_ebm.data.prepare import prepare_corpus
    from tts_ebm.progress import count_progress
    from tts_ebm.scoring.run import drop_list, score_corpus

    drop_list([], args.drop_worst, args.screen)  # refuse a bad percentage before scoring
    with count_progress() as bar:
        task = bar.add_task(f"screening with {args.screen}", total=None)
        run = score_corpus(
            args.out_dir,
            args.screen,
            args.out_dir / "screen",
            splits=("train",),
            progress=lambda stage, done, total: bar.update(task, completed=done, total=total),
        )
    dropped = drop_list(run.rows, args.drop_worst, args.screen)
    report = prepare_corpus(
        args.corpus, args.out_dir, replace(options, exclude=tuple(dropped.items()))
    )
    print(
        f"screened {len(run.rows)} training pairs with {args.screen} "
        f"({run.combination.source}): left out the worst {len(dropped)} "
        f"(scores in {args.out_dir / 'screen' / 'scores.tsv'})"
    )
    return report


def _corpus_toy(args: argparse.Namespace) -> int:
    from tts_ebm.data.toy import make_toy_corpus

    out = make_toy_corpus(args.out_dir, n_utterances=args.n_utterances, seed=args.seed)
    print(f"toy corpus ready: {out}")
    return 0


def _byte_progress(bar, description: str):
    """A progress callback for one long byte-counted step (download, checksum, extraction)."""
    task = bar.add_task(description, total=None)
    return lambda done, total: bar.update(task, completed=done, total=total)


def _corpus_ljspeech(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from tts_ebm.data.ljspeech import prepare_ljspeech

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, TransferSpeedColumn(), TimeRemainingColumn()) as bar:
        split = prepare_ljspeech(
            args.out_dir,
            source=args.source,
            archive=args.archive,
            url=args.url,
            sha256=args.sha256 or None,
            size=args.size if args.size and args.size > 0 else None,
            keep_archive=not args.remove_archive,
            split_kind=args.split,
            filelists_url=args.filelists_url,
            seed=args.seed,
            resplit=args.resplit,
            progress=lambda description: _byte_progress(bar, description),
            notify=lambda message: bar.console.print(
                message, markup=False, highlight=False, soft_wrap=True
            ),
        )
    sizes = split.sizes()
    how = "seeded fallback" if split.fell_back else split.source
    print(
        f"LJSpeech ready: {sizes['train']} train / {sizes['val']} val / {sizes['test']} test "
        f"({how} split) → {args.out_dir / 'corpus'} (tts-ebm prepare reads it), "
        f"{args.out_dir / 'test.txt'}"
    )
    return 0


def _corpus_check(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from tts_ebm.data.custom import CheckOptions, check_corpus, describe_rates, write_clean_corpus

    options = CheckOptions(
        min_sample_rate=args.min_sample_rate or CheckOptions.min_sample_rate,
        min_seconds=args.min_seconds,
        max_seconds=args.max_seconds,
    )
    with Progress(TextColumn("checking"), BarColumn(), MofNCompleteColumn()) as bar:
        task = bar.add_task("check", total=None)
        report = check_corpus(
            args.corpus,
            options,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    shown = report.problems if args.verbose else report.problems[: args.max_shown]
    for problem in shown:
        where = f"{report.listing}:{problem.line}" + (f" ({problem.id})" if problem.id else "")
        print(f"{where}: {problem.reason}", file=sys.stderr)
    if len(shown) < len(report.problems):
        print(
            f"... and {len(report.problems) - len(shown)} more problems (all in "
            f"{args.out_dir / 'problems.tsv'})",
            file=sys.stderr,
        )
    for line in describe_rates(report, options):
        print(f"sample rate {line}")
    if any(count for channels, count in report.channels.items() if channels > 1):
        print("some files have several channels: tts-ebm prepare mixes them down to mono")
    write_clean_corpus(report, args.out_dir)
    print(
        f"{len(report.good)} good entries ({report.seconds / 3600:.2f} h), "
        f"{len(report.problems)} left out → {args.out_dir} (LJSpeech format; "
        f"next: tts-ebm prepare {args.out_dir} PREPARED_DIR)"
    )
    return 1 if args.strict and report.problems else 0


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "prepare",
        help="compute mel features, phoneme ids, splits and statistics for a corpus",
        description=(
            "Prepare CORPUS (an LJSpeech-format folder: metadata.csv + wavs/, or a path|text "
            "filelist) into OUT_DIR: cached log-mels, train/val lists, mel statistics. Bad "
            "entries (unsafe ids, non-UTF-8 lines, truncated or out-of-range audio, ...) are "
            "reported and skipped; re-running with the same front end reuses the cache; one "
            "prepare at a time may write to OUT_DIR. A folder holding val_ids.txt uses it as the "
            "validation split."
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
    p.add_argument(
        "--screen",
        metavar="VOICE",
        help="score the training pairs with this voice (tts-ebm score) and leave the worst "
        "--drop-worst %% out of the training split, listed in skipped.tsv",
    )
    p.add_argument(
        "--drop-worst", type=float, default=1.0, metavar="P", help="with --screen: P %% (1)"
    )
    p.set_defaults(handler=_prepare)

    p = commands.add_parser(
        "corpus", help="build or check corpora: toy language, festival, LJSpeech, your own"
    )
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
    from tts_ebm.data import festival

    fest = kinds.add_parser(
        "festival",
        help="speak a sentence list with festival into an LJSpeech-format corpus",
        description=festival.DESCRIPTION,
    )
    festival.add_arguments(fest)
    fest.set_defaults(handler=festival.run)
    _register_ljspeech(kinds)
    _register_check(kinds)


def _register_ljspeech(kinds: argparse._SubParsersAction) -> None:
    from tts_ebm.data.ljspeech import FILELISTS_URL, LJSPEECH_BYTES, LJSPEECH_SHA256, LJSPEECH_URL

    lj = kinds.add_parser(
        "ljspeech",
        help="download (or reuse) LJSpeech-1.1 and write its train/val/test split",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Get LJSpeech-1.1 ready for the pipeline in OUT_DIR:\n"
            "  corpus/      what `tts-ebm prepare` reads (train + val, links to the wavs)\n"
            "  test.txt     id|text of the held-out test split; test_ids.txt; split.json\n"
            "The corpus is --source (an existing folder), an earlier extraction in OUT_DIR,\n"
            "--archive, or downloaded (resumable; checked against the published sha256 and\n"
            "size) and extracted. The split is Tacotron 2's (12,500 / 100 / 500), downloaded\n"
            "from its filelists; offline, a seeded random split of the same sizes is used and\n"
            "a warning says so. An existing split is kept unless --resplit."
        ),
    )
    lj.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    lj.add_argument("--source", type=Path, help="use this LJSpeech-format folder as it is")
    lj.add_argument("--archive", type=Path, help="extract this LJSpeech-1.1.tar.bz2")
    lj.add_argument("--url", default=LJSPEECH_URL, help=f"archive URL (default: {LJSPEECH_URL})")
    lj.add_argument(
        "--sha256",
        default=LJSPEECH_SHA256,
        help="expected sha256 of the archive (default: LJSpeech-1.1's); '' skips the check",
    )
    lj.add_argument(
        "--size",
        type=int,
        default=LJSPEECH_BYTES,
        help=f"expected archive size in bytes (default {LJSPEECH_BYTES}); 0 skips the check",
    )
    lj.add_argument(
        "--remove-archive", action="store_true", help="delete the download once extracted"
    )
    lj.add_argument(
        "--split",
        choices=("tacotron2", "seeded"),
        default="tacotron2",
        help="tacotron2 (default; seeded fallback when offline) or seeded",
    )
    lj.add_argument(
        "--filelists-url",
        default=FILELISTS_URL,
        help=f"folder URL of the ljs_audio_text_*_filelist.txt files (default: {FILELISTS_URL})",
    )
    lj.add_argument("--seed", type=int, default=0, help="seed of a seeded split (0)")
    lj.add_argument("--resplit", action="store_true", help="replace an existing split")
    lj.set_defaults(handler=_corpus_ljspeech)


def _register_check(kinds: argparse._SubParsersAction) -> None:
    check = kinds.add_parser(
        "check",
        help="check one's own corpus (wavs + transcripts) and write its good part",
        description=(
            "Check CORPUS (an LJSpeech-format folder, or a path|text list with paths relative "
            "to it) line by line and by audio header: malformed lines, empty transcripts, "
            "duplicate or unsafe ids, missing or unreadable audio, sample rates below "
            "--min-sample-rate, too short or too long files. Writes OUT_DIR in LJSpeech format "
            "(metadata.csv, wavs/ as links to the good files), problems.tsv and check.json. "
            "Fails only when no entry is usable (or, with --strict, when any is not)."
        ),
    )
    check.add_argument("corpus", type=Path, metavar="CORPUS")
    check.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    check.add_argument(
        "--min-sample-rate",
        type=int,
        help="refuse audio below this rate (default: the model's, 22050 Hz; higher rates are "
        "resampled by prepare)",
    )
    check.add_argument("--min-seconds", type=float, default=0.3, help="default: 0.3")
    check.add_argument("--max-seconds", type=float, default=20.0, help="default: 20")
    check.add_argument("--strict", action="store_true", help="exit 1 when any entry is left out")
    check.add_argument(
        "--max-shown", type=int, default=20, help="problems printed (default 20; all in the tsv)"
    )
    check.add_argument("--verbose", action="store_true", help="print every problem")
    check.set_defaults(handler=_corpus_check)
