"""`tts-ebm benchmark NAME`: every benchmark of the project (benchmarks/README.md)."""

from __future__ import annotations

import argparse
from importlib import import_module
from pathlib import Path

from tts_ebm.benchmarks import SYNTHESIS_SECTIONS


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def _name_list(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _finish(result: dict, json_path: Path | None, print_report) -> int:
    from rich.console import Console

    from tts_ebm.benchmarks.common import write_json

    console = Console()
    print_report(result, console)
    if json_path is not None:
        console.print(f"wrote {write_json(json_path, result)}")
    return 0


def _training(args: argparse.Namespace) -> int:
    from tts_ebm.benchmarks.training import TrainingOptions, print_report, run_training_benchmark

    options = TrainingOptions(
        model=args.model,
        batch_size=args.batch_size,
        frames=args.frames,
        objective=args.objective,
        steps=args.steps,
        warmup=args.warmup,
        device=args.device,
        precision=args.precision,
        seed=args.seed,
        threads=args.threads,
    )
    result = run_training_benchmark(options, progress=lambda line: print(line, flush=True))
    return _finish(result, args.json, print_report)


def _synthesis(args: argparse.Namespace) -> int:
    from tts_ebm.benchmarks.synthesis import SynthesisOptions, run_synthesis_benchmark
    from tts_ebm.benchmarks.synthesis_report import print_report

    options = SynthesisOptions(
        checkpoint=args.checkpoint,
        model=args.model,
        steps_list=args.steps_list,
        seconds=args.seconds,
        batch_sizes=args.batch_sizes,
        vocoder=args.vocoder,
        device=args.device,
        euler_steps=args.euler_steps,
        repeats=args.repeats,
        warmup=args.warmup,
        seed=args.seed,
        threads=args.threads,
        sections=args.sections,
        compile=args.compile,
    )
    result = run_synthesis_benchmark(options, progress=lambda line: print(line, flush=True))
    return _finish(result, args.json, print_report)


def _serve(args: argparse.Namespace) -> int:
    from tts_ebm.benchmarks.serve import ServeBenchmarkOptions, print_report, run_serve_benchmark

    options = ServeBenchmarkOptions(
        clients=args.clients,
        requests=args.requests,
        seconds=args.seconds,
        threads=args.threads,
        voice=args.voice,
    )
    result = run_serve_benchmark(options, progress=lambda line: print(line, flush=True))
    return _finish(result, args.json, print_report)


def _common(p: argparse.ArgumentParser, warmup: int) -> None:
    p.add_argument("--model", choices=("default", "tiny"), default="default", help="model size")
    p.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: CUDA if present"
    )
    p.add_argument("--warmup", type=int, default=warmup, help=f"untimed runs first ({warmup})")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU intra-op threads (default: torch's choice); 1 is steadier on a loaded machine",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of random weights and inputs (0)")
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write JSON here")


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "benchmark",
        help="time training steps and synthesis (speed, real-time factor, memory)",
        description="Speed and peak-memory benchmarks; see benchmarks/README.md.",
    )
    benchmarks = p.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)

    t = benchmarks.add_parser(
        "training",
        help="steps/s, peak memory and a step's breakdown (MAS, encoder, objective, ...)",
        description=(
            "Time full training steps (MAS alignment, prior and duration losses, EBM objective, "
            "backward, gradient clipping, AdamW) on a synthetic batch of random token ids and "
            "normalised mels, and report where the time goes. Checks that MAS stays under 10 %% "
            "of a step (the target is set for the default model at batch 32)."
        ),
    )
    _common(t, warmup=1)
    t.add_argument("--batch-size", type=int, default=32, help="utterances per batch (32)")
    t.add_argument(
        "--frames",
        default="400",
        help="N: lengths uniform in [3N/4, N]; MIN:MAX: uniform in [MIN, MAX] (400); "
        "about one token per 5 frames",
    )
    t.add_argument("--objective", default="delta", help="objective config group option (delta)")
    t.add_argument("--steps", type=int, default=3, help="timed steps (3)")
    t.add_argument("--precision", choices=("32", "bf16"), default="32", help="bf16: autocast")
    t.set_defaults(handler=_training)

    s = benchmarks.add_parser(
        "synthesis",
        help="real-time factor and memory of the acoustic model, an Euler baseline, the vocoder "
        "runtimes, streaming latency, the whole pipeline and a --file run",
        description=(
            "Sections (--sections): acoustic: real-time factor (compute seconds / audio seconds; "
            "a batch counts all its audio) and peak memory of the acoustic model (encoder, "
            "durations, expansion, K refinement steps) for each K, of a same-sized flow-matching "
            "decoder with Euler steps, and of the vocoder; without --checkpoint an untrained "
            "model is used (speed does not depend on training) and durations are rescaled so the "
            "output is exactly --seconds long. vocoders: HiFi-GAN runtimes against the reference "
            "implementation on one mel (seconds, speed-up, SNR). stream: first chunk of a "
            "six-sentence paragraph through Synthesizer.stream. pipeline: text to waveform at 1 "
            "and 2 threads. file-memory: peak memory of 'tts-ebm synthesize --file' with 100 "
            "sentences (minutes on a CPU). The last four use --checkpoint, else the default "
            "voice. Side-by-side contenders run in interleaved rounds. Checks the issue's targets."
        ),
    )
    _common(s, warmup=1)
    s.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="inference checkpoint; without it the acoustic section times an untrained model "
        "and the other sections use the default voice",
    )
    s.add_argument(
        "--steps-list", type=_int_list, default=(0, 1, 2, 4, 8, 16), help="K values (0,1,2,4,8,16)"
    )
    s.add_argument("--seconds", type=float, default=10.0, help="audio length (10)")
    s.add_argument("--batch-sizes", type=_int_list, default=(1, 16), help="batch sizes (1,16)")
    s.add_argument(
        "--vocoder",
        default="universal",
        help="universal | ljspeech | griffin-lim | none | a weight file (universal)",
    )
    s.add_argument("--euler-steps", type=int, default=10, help="Euler steps of the baseline (10)")
    s.add_argument("--repeats", type=int, default=3, help="timed runs per setting (3)")
    s.add_argument(
        "--sections",
        type=_name_list,
        default=SYNTHESIS_SECTIONS,
        help=f"comma-separated, some of {','.join(SYNTHESIS_SECTIONS)} (all)",
    )
    s.add_argument(
        "--compile",
        action="store_true",
        help="also time torch.compile'd energy network and vocoder (CUDA graphs on CUDA); a "
        "first compile takes minutes on a CPU",
    )
    s.set_defaults(handler=_synthesis)

    v = benchmarks.add_parser(
        "serve",
        help="tts-ebm serve under 1-64 concurrent clients: req/s, audio s/s, TTFB, memory",
        description=(
            "Starts 'tts-ebm serve' on a free loopback port, once with its scheduler and once "
            "with --one-at-a-time, and runs each number of concurrent clients against it "
            "(short and long texts, every 4th long, WAV streamed): requests per second, audio "
            "seconds per wall second, p50/p95 time to first audio byte and to last byte, "
            "errors, the server's peak RSS; then a one-sentence request behind an eight-sentence "
            "one. Bounded: --requests per level (at least one per client); requests still "
            "running after --seconds are abandoned and counted as cut."
        ),
    )
    v.add_argument(
        "--clients", type=_int_list, default=(1, 4, 16, 64), help="concurrency levels (1,4,16,64)"
    )
    v.add_argument("--requests", type=int, default=8, help="requests per level, at least (8)")
    v.add_argument("--seconds", type=float, default=30.0, help="time limit per level (30)")
    v.add_argument("--threads", type=int, default=1, help="the server's torch threads (1)")
    v.add_argument("--voice", default=None, help="voice to serve (the default voice)")
    v.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write JSON here")
    v.set_defaults(handler=_serve)
    _register_studies(benchmarks)


# Benchmarks that own their options (``add_arguments``/``run``/``DESCRIPTION`` in the module):
# command name, module under tts_ebm.benchmarks, one line of help.
STUDIES = (
    ("criteria-cost", "criteria_cost", "seconds and memory of a training step of each criterion"),
    ("training-levers", "training_levers", "bf16, torch.compile, fused AdamW on a training step"),
    ("criteria-quality", "criteria_quality", "toy refinement error of each criterion"),
    ("sance-intervals", "sance_intervals", "self-adapting NCE at several noise-update intervals"),
    ("gpu", "gpu", "the synthesis and training benchmarks on CUDA, merged into one JSON"),
)


def _register_studies(benchmarks: argparse._SubParsersAction) -> None:
    for name, module, summary in STUDIES:
        study = import_module(f"tts_ebm.benchmarks.{module}")  # standard library imports only
        p = benchmarks.add_parser(name, help=summary, description=study.DESCRIPTION)
        study.add_arguments(p)
        p.set_defaults(handler=study.run)
