"""`tts-ebm evaluate`: synthesised wavs against references (MCD, F0, WER/CER, MOS), or a sweep
of refinement steps with a checkpoint."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _options(args: argparse.Namespace):
    from tts_ebm.evaluate.options import EvalOptions, parse_metrics
    from tts_ebm.evaluate.world import WorldConfig

    world = WorldConfig(
        sample_rate=args.sample_rate,
        order=args.mcep_order,
        alpha=args.alpha,
        f0_method=args.f0_method,
    )
    return EvalOptions(parse_metrics(args.metrics), world, args.whisper, args.device or "cpu")


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"cannot write to {out}: it is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create {out}: {exc.strerror}") from exc


def _report_problems(pairing, skipped: dict[str, str], missing_text: list[str]) -> None:
    for line in pairing.describe_unpaired():
        print(f"unpaired: {line}", file=sys.stderr)
    for utt_id, reason in skipped.items():
        print(f"skipped {utt_id}: {reason}", file=sys.stderr)
    if missing_text:
        shown = ", ".join(missing_text[:5]) + (", ..." if len(missing_text) > 5 else "")
        print(f"no transcript for {len(missing_text)} ids (no WER/CER): {shown}", file=sys.stderr)


def _evaluate(args: argparse.Namespace) -> int:
    from tts_ebm.evaluate.pairs import EvaluationError, find_transcripts, pair_folders

    if args.references is None or args.out is None:
        raise ValueError("give --references REF_DIR and --out OUT_DIR")
    sweep = args.sweep_steps is not None
    if sweep and (args.synth_dir is not None or args.checkpoint is None or args.texts is None):
        raise ValueError("--sweep-steps needs --checkpoint and --texts, and no SYNTH_DIR")
    if not sweep and args.synth_dir is None:
        raise ValueError("give SYNTH_DIR (or --sweep-steps with --checkpoint)")
    if not sweep and args.checkpoint is not None:
        raise ValueError("--checkpoint is only used with --sweep-steps")
    options = _options(args)
    if args.whisper:
        from tts_ebm.evaluate.asr import find_whisper

        find_whisper(args.whisper)  # a missing model fails before any work
    texts = find_transcripts(args.references, args.texts)
    if sweep:
        return _sweep(args, options, texts)
    pairing = pair_folders(args.synth_dir, args.references, texts)
    if not pairing.pairs:
        for line in pairing.describe_unpaired():
            print(f"unpaired: {line}", file=sys.stderr)
        raise EvaluationError(
            f"no wav of {args.synth_dir} has a reference of the same name in {args.references}"
        )
    _prepare_out(args.out)
    from tts_ebm.evaluate.report import print_summary, write_report  # torch and friends
    from tts_ebm.evaluate.runner import Evaluator

    evaluator = Evaluator(options, args.reference_cache)
    result = evaluator.evaluate(pairing, progress=not args.quiet)
    _report_problems(pairing, result.skipped, result.missing_transcripts)
    if not result.rows:
        raise EvaluationError(f"none of the {len(pairing.pairs)} pairs could be read")
    summary = write_report(result, args.out)
    print_summary(summary)
    print(f"evaluated {len(result.rows)} of {len(pairing.pairs)} pairs → {args.out}")
    return 0


def _sweep(args: argparse.Namespace, options, texts: dict[str, str]) -> int:
    from tts_ebm.evaluate.report import print_summary
    from tts_ebm.evaluate.runner import Evaluator
    from tts_ebm.evaluate.sweep import parse_steps, run_sweep, sweep_pairing
    from tts_ebm.synthesis import Synthesizer

    steps = parse_steps(args.sweep_steps)
    if not texts:
        raise ValueError(f"{args.texts} has no 'id|text' line")
    pairing = sweep_pairing(texts, args.references, args.out)
    for line in pairing.describe_unpaired():
        print(f"unpaired: {line}", file=sys.stderr)
    _prepare_out(args.out)
    evaluator = Evaluator(
        options, args.reference_cache
    )  # models load (and fail) before any synthesis
    synth = Synthesizer.from_pretrained(args.checkpoint, device=args.device, vocoder=args.vocoder)
    knobs = {
        "seed": args.seed,
        "step_size": args.step_size,
        "temperature": args.temperature,
        "langevin": args.langevin,
        "batch_size": args.batch_size,
    }

    def show(k: int, summary: dict) -> None:
        for utt_id, reason in summary["skipped"].items():
            print(f"steps {k}: skipped {utt_id}: {reason}", file=sys.stderr)
        print_summary(summary, title=f"K = {k} steps")

    run_sweep(
        synth, evaluator, texts, args.references, args.out, steps, knobs, not args.quiet, show
    )
    print(f"swept K = {','.join(map(str, steps))} → {args.out / 'sweep.csv'}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "evaluate",
        help="objective metrics (MCD, F0, WER/CER, predicted MOS) against reference wavs",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Compare synthesised speech with references, paired by file name (ID.wav):\n"
            "  tts-ebm evaluate SYNTH_DIR --references REF_DIR [--texts FILE] --out OUT_DIR\n"
            "or synthesise the texts at several step counts K and evaluate each:\n"
            "  tts-ebm evaluate --sweep-steps 0,1,2,4 --checkpoint CKPT --texts FILE \\\n"
            "      --references REF_DIR --out OUT_DIR\n\n"
            "Metric families (--metrics): mcd = mel-cepstral distortion (dB, c1..c24, DTW);\n"
            "f0 = log-F0 RMSE (cents) on frames voiced in both and the voiced/unvoiced error\n"
            "rate, on the same DTW path; asr = WER/CER of PocketSphinx (and --whisper) against\n"
            "the text; mos = DistillMOS predicted MOS of both sides. Writes utterances.csv,\n"
            "summary.json (means with 95% t-intervals, corpus WER/CER) and PNG plots.\n"
            "Definitions: docs/evaluation.md."
        ),
    )
    p.add_argument("synth_dir", nargs="?", type=Path, help="folder of synthesised ID.wav files")
    p.add_argument(
        "--references",
        type=Path,
        help="folder of reference ID.wav files (or an LJSpeech root with wavs/)",
    )
    p.add_argument(
        "--texts",
        type=Path,
        help="transcripts, 'id|text' lines (LJSpeech metadata.csv works too); default: "
        "metadata.csv in or above REF_DIR when present",
    )
    p.add_argument("--out", type=Path, help="output folder for reports and plots")
    p.add_argument(
        "--metrics",
        default="mcd,f0,asr,mos",
        help="comma-separated metric families to compute (default: mcd,f0,asr,mos)",
    )
    p.add_argument(
        "--whisper",
        metavar="PATH_OR_NAME",
        help="also recognise with a local Whisper model (a transformers model folder, a "
        "Hugging Face repo id already in the local cache, or an openai-whisper .pt / name in "
        "~/.cache/whisper); never downloads",
    )
    p.add_argument(
        "--sample-rate",
        type=int,
        default=22050,
        help="both sides are resampled to this rate for MCD/F0 (default 22050)",
    )
    p.add_argument("--mcep-order", type=int, default=24, help="mel-cepstral order M (default 24)")
    p.add_argument(
        "--alpha",
        type=float,
        help="frequency-warping constant (default: SPTK's mel approximation for the rate, "
        "0.455 at 22050 Hz)",
    )
    p.add_argument(
        "--f0-method",
        choices=("harvest", "dio"),
        default="harvest",
        help="WORLD F0 estimator (default harvest; dio is ~4x faster overall, misses voicing)",
    )
    p.add_argument("--device", help="device of the models (default cpu)")
    p.add_argument(
        "--reference-cache",
        type=Path,
        metavar="DIR",
        help="keep what is computed of each reference here and reuse it in later evaluations "
        "against the same files (about half of each run's time)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep = p.add_argument_group("step sweep")
    sweep.add_argument(
        "--sweep-steps",
        metavar="K[,K...]",
        help="synthesise every text at each number of refinement steps K and evaluate each",
    )
    sweep.add_argument(
        "--checkpoint",
        help="the model: an exported .safetensors, a training .ckpt, or hf://OWNER/REPO/FILE",
    )
    sweep.add_argument(
        "--vocoder", default="universal", help="vocoder of the sweep (default universal)"
    )
    sweep.add_argument("--seed", type=int, help="noise seed (default: the checkpoint's)")
    sweep.add_argument("--step-size", type=float, help="η (default: the checkpoint's)")
    sweep.add_argument("--temperature", type=float, help="τ (default: the checkpoint's)")
    sweep.add_argument("--langevin", type=float, help="λ (default: the checkpoint's)")
    sweep.add_argument("--batch-size", type=int, help="sentences per batch (default 16)")
    p.set_defaults(handler=_evaluate)
