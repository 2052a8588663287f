"""The ``tts-ebm`` command: parses arguments and wires library calls together, nothing more."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tts_ebm import __version__

Handler = Callable[[argparse.Namespace], int]


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


def _prepare(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

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
    columns = (*Progress.get_default_columns()[:2], BarColumn(), MofNCompleteColumn())
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


def _train(args: argparse.Namespace) -> int:
    from tts_ebm.train.run import compose_config, train

    if args.print_config:
        from omegaconf import OmegaConf

        print(OmegaConf.to_yaml(compose_config(args.overrides)))
        return 0
    path = train(args.overrides)
    print(f"inference checkpoint: {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    import torch

    from tts_ebm.train.run import export_checkpoint

    dtype = torch.float16 if args.fp16 else torch.float32
    print(f"wrote {export_checkpoint(args.checkpoint, args.out, dtype)}")
    return 0


def _config_choices() -> str:
    """The packaged config groups and their options, for ``train --help``."""
    from importlib.resources import files

    root = files("tts_ebm.configs")
    lines = []
    for group in sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != "__pycache__"):
        options = sorted(
            f.name[:-5] for f in root.joinpath(group).iterdir() if f.name.endswith(".yaml")
        )
        lines.append(f"  {group}: {', '.join(options)}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tts-ebm",
        description="Text-to-speech acoustic models trained as energy-based models.",
    )
    parser.add_argument("--version", action="version", version=f"tts-ebm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser(
        "phonemize",
        help="normalise and phonemise English text",
        description="Print the normalised text and, on the last line, the phoneme string.",
    )
    p.add_argument("text", nargs="+", help="text to phonemise ('-' reads standard input)")
    p.add_argument("--frontend", choices=("ipa", "chars"), default="ipa", help="default: ipa")
    p.add_argument("--ids", action="store_true", help="also print the token ids")
    p.set_defaults(handler=_phonemize)

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

    p = commands.add_parser(
        "train",
        help="train an acoustic model (Hydra overrides)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Train with Hydra-style overrides, e.g.\n"
            "  tts-ebm train experiment=toy run_dir=runs/toy\n"
            "  tts-ebm train data.corpus=LJSpeech-1.1 data.prepared_dir=data/lj run_dir=runs/lj\n"
            "  tts-ebm train ... resume=true          # continue from the last checkpoint\n"
            "  tts-ebm train ... trainer.strategy=ddp trainer.devices=4\n\n"
            "The run directory gets config.yaml, checkpoints/ (every "
            "trainer.checkpoint_every_steps and last.ckpt), tensorboard/ and model.safetensors."
        ),
        epilog="config groups and options:\n" + _config_choices(),
    )
    p.add_argument("overrides", nargs="*", help="key=value or group=option overrides")
    p.add_argument("--print-config", action="store_true", help="print the resolved config, exit")
    p.set_defaults(handler=_train)

    p = commands.add_parser(
        "export",
        help="turn a training checkpoint into a safetensors inference checkpoint",
        description="Export weights, config, mel statistics and symbol table into one file.",
    )
    p.add_argument("checkpoint", type=Path, help="Lightning .ckpt from a run's checkpoints/")
    p.add_argument("out", type=Path, help="output .safetensors file")
    p.add_argument("--fp16", action="store_true", help="store weights in float16 (half size)")
    p.set_defaults(handler=_export)

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
