"""`tts-ebm score` and `tts-ebm score-study`: find the pairs whose audio does not say its text."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _score(args: argparse.Namespace) -> int:
    from tts_ebm.progress import count_progress
    from tts_ebm.scoring.report import flagged_count, write_page, write_plot
    from tts_ebm.scoring.run import TABLE, UNREADABLE, score_corpus

    if not 0 <= args.flag <= 100 or args.worst < 0:
        raise ValueError(
            f"--flag must be in [0, 100] and --worst >= 0, got {args.flag}, {args.worst}"
        )
    with count_progress(stderr=True) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        def notify(line: str) -> None:
            bar.console.print(line, markup=False, highlight=False, soft_wrap=True)

        run = score_corpus(
            args.corpus,
            args.checkpoint,
            args.out_dir,
            batch_size=args.batch_size,
            jobs=args.jobs,
            progress=progress,
            notify=notify,
        )
    if run.interrupted:
        print(
            f"interrupted: the tables hold the {len(run.rows)} pairs scored so far; "
            "run the same command again to continue",
            file=sys.stderr,
        )
    n_flagged = flagged_count(len(run.rows), args.flag)
    write_plot(run.rows, n_flagged, args.out_dir)
    write_page(run.rows, args.worst, args.out_dir, f"tts-ebm score: {args.corpus}")
    print(f"combination: {run.combination.source}")
    print(
        f"scored {len(run.rows)} pairs ({run.audio_hours:.2f} h of audio, {run.n_reused} reused), "
        f"{len(run.unreadable)} unreadable ({args.out_dir / UNREADABLE}); "
        f"worst {n_flagged} flagged → {args.out_dir / TABLE}, scores.png, worst.html"
    )
    for row in run.rows[: min(args.show, n_flagged)]:
        print(f"{row['combined']:8.2f}  {row['id']}  {row['text'][:80]}")
    return 130 if run.interrupted else 0


def _study(args: argparse.Namespace) -> int:
    from tts_ebm.scoring.study import StudyOptions, run_study

    options = StudyOptions(
        voices=tuple(args.voices.split(",")),
        per_kind=args.per_kind,
        seed=args.seed,
        other_voice=args.other_voice,
        asr=not args.no_asr,
        store=args.store,
    )
    result = run_study(args.corpus, args.out_dir, options, notify=lambda line: print(line))
    print(result["markdown"], end="")
    print(f"→ {args.out_dir / 'study.md'}, study.json, study.png", file=sys.stderr)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "score",
        help="score (text, audio) pairs with a trained model: find those that do not match",
        description=(
            "Score every pair of CORPUS (an LJSpeech-format folder, prepared on the fly into "
            "OUT_DIR/prepared and cached, or a folder made by `tts-ebm prepare`) with an energy "
            "voice: the recording's energy under its text, its peak over one second, how far one "
            "refinement step moves it, the MAS alignment log-likelihood and the duration "
            "residual, each per frame, and a combined score (weights fitted on planted defects, "
            "docs/scoring.md). Writes OUT_DIR/scores.tsv (worst first), scores.png, worst.html "
            "(text and audio of the worst pairs) and unreadable.tsv. Resumable: a rerun scores "
            "only what is missing."
        ),
    )
    p.add_argument("corpus", type=Path, metavar="CORPUS")
    p.add_argument(
        "--checkpoint",
        default=None,
        metavar="VOICE",
        help="voice name (default, v1, nce, sance, cd, ssm), .safetensors or .ckpt "
        "(default: the default voice)",
    )
    p.add_argument("--out", dest="out_dir", type=Path, required=True, metavar="DIR")
    p.add_argument("--flag", type=float, default=5.0, help="flag the worst P %% (default 5)")
    p.add_argument("--worst", type=int, default=50, help="pairs on the page (default 50)")
    p.add_argument("--show", type=int, default=10, help="flagged pairs printed (default 10)")
    p.add_argument("--batch-size", type=int, default=8, help="utterances per batch (8)")
    p.add_argument("--jobs", type=int, default=0, help="prepare's processes (0 = CPU cores)")
    p.set_defaults(handler=_score)

    s = commands.add_parser(
        "score-study",
        help="plant defects in clean pairs and measure how well each score finds them",
        description=(
            "Plant defects (another transcript, a word deleted or replaced, audio cut by 30 %%, "
            "a second clip appended, noise at 5 dB SNR, the text in another festival voice) in "
            "CORPUS (clean pairs no voice trained on), score them with each voice and report "
            "ROC-AUC and precision at the planted rate per defect kind, against PocketSphinx "
            "WER and a duration-ratio heuristic, with the cost per hour of audio "
            "(docs/scoring.md). Needs festival and the festival voice --other-voice."
        ),
    )
    s.add_argument("corpus", type=Path, metavar="CORPUS", help="clean LJSpeech-format folder")
    s.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    s.add_argument("--voices", default="default,v1,nce,sance,cd,ssm", help="comma-separated voices")
    s.add_argument("--per-kind", type=int, default=12, help="planted pairs per kind (12)")
    s.add_argument("--seed", type=int, default=0, help="seed of the planting (0)")
    s.add_argument(
        "--other-voice",
        default="kal_diphone",
        help="festival voice for the 'another speaker' defect (kal_diphone: festvox-kallpc16k)",
    )
    s.add_argument("--no-asr", action="store_true", help="skip the PocketSphinx baseline")
    s.add_argument(
        "--store",
        action="store_true",
        help="store each voice's fitted combination in the package (combinations.json)",
    )
    s.set_defaults(handler=_study)
