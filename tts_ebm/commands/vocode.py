"""`tts-ebm vocode`: copy synthesis of recorded wavs (the "vocoded reference")."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tts_ebm.commands.speed_options import add_speed_options


def _vocode(args: argparse.Namespace) -> int:
    from tts_ebm.progress import count_progress
    from tts_ebm.vocoder import load_vocoder
    from tts_ebm.vocoder.resynthesis import resynthesize_dir

    if not args.in_dir.is_dir():
        raise ValueError(f"{args.in_dir} is not a folder of wavs")
    if args.out_dir.resolve() == args.in_dir.resolve():
        raise ValueError("OUT_DIR must differ from IN_DIR: the recordings would be overwritten")
    from tts_ebm.threads import configure_threads

    configure_threads(args.threads)
    device = args.device or "cpu"
    vocoder = load_vocoder(args.vocoder, device=device, runtime=args.vocoder_runtime)
    start = time.perf_counter()
    with count_progress() as bar:
        task = bar.add_task("vocode", total=None)
        report = resynthesize_dir(
            args.in_dir,
            args.out_dir,
            vocoder,
            overwrite=args.overwrite,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    for name, reason in sorted(report.failed.items()):
        print(f"skipped {name}: {reason}", file=sys.stderr)
    elapsed = time.perf_counter() - start
    rtf = f", RTF {elapsed / report.seconds:.3f}" if report.seconds else ""
    print(
        f"vocoded {report.made} wavs with {vocoder.label} ({report.reused} already there, "
        f"{len(report.failed)} skipped) in {elapsed:.1f} s{rtf} → {args.out_dir}"
    )
    if not report.made and not report.reused:
        raise ValueError(f"no wav of {args.in_dir} could be vocoded (see the reasons above)")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "vocode",
        help="copy synthesis: recorded wavs → mel → vocoder (the vocoded reference)",
        description=(
            "Vocode every IN_DIR/*.wav into OUT_DIR under the same name: log-mel exactly as in "
            "training, then the vocoder. The result is the vocoded reference that listening "
            "tests and metrics compare acoustic models with. Unreadable wavs are reported and "
            "skipped; existing outputs are kept (a rerun resumes) unless --overwrite."
        ),
    )
    p.add_argument("in_dir", type=Path, metavar="IN_DIR", help="folder of recorded wavs")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="where vocoded wavs go")
    p.add_argument(
        "--vocoder",
        default="universal",
        help="universal (default), ljspeech, griffin-lim, hf://..., or a HiFi-GAN V1 weight file",
    )
    p.add_argument("--device", help="cpu (default), cuda, cuda:N")
    add_speed_options(p)
    p.add_argument("--overwrite", action="store_true", help="redo outputs that exist")
    p.set_defaults(handler=_vocode)
