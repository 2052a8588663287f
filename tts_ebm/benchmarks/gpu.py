"""The synthesis and training benchmarks on a CUDA machine in one go, merged into one JSON.

    tts-ebm benchmark gpu [--json OUT.json]     (default runs/bench/gpu.json)

Four runs, each in its own process under a time limit, so that the whole stays under 8 minutes:
synthesis (every section on CUDA: an untrained default-size model for ``acoustic``, the default
voice for the rest, 2 warm-up + 5 timed repeats), synthesis-compile (the acoustic and vocoder
sections with ``--compile``, CUDA graphs, batch 1), training-fp32 (default model, batch 32 x
300-400 frames, 2 warm-up + 5 steps) and training-bf16 (the same under bf16 autocast). A run
that fails or runs out of time is recorded with its exit status (124: time limit) and no result;
the others are kept. The exit status is 1 when any run failed, 2 without CUDA.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

DESCRIPTION = __doc__.split("\n\n")[0]
TIMED_OUT = 124  # the status timeout(1) gives, kept for the JSON's readers
RUNS = (  # name, time limit in seconds, arguments of `tts-ebm benchmark`
    ("synthesis", 170, "synthesis --device cuda --repeats 5 --warmup 2"),
    (
        "synthesis-compile",
        200,
        "synthesis --device cuda --compile --sections acoustic,vocoders --steps-list 1,4 "
        "--batch-sizes 1 --repeats 5 --warmup 2",
    ),
    ("training-fp32", 45, "training --device cuda --precision 32 --steps 5 --warmup 2"),
    ("training-bf16", 45, "training --device cuda --precision bf16 --steps 5 --warmup 2"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tts-ebm benchmark gpu``."""
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("runs/bench/gpu.json"),
        metavar="OUT",
        help="the merged JSON (runs/bench/gpu.json)",
    )


def _run_one(name: str, limit: int, arguments: str, work: Path) -> dict:
    result = work / f"{name}.json"
    command = [sys.executable, "-m", "tts_ebm.cli", "benchmark", *arguments.split()]
    print(f"== {name}: tts-ebm benchmark {arguments} (at most {limit} s)", file=sys.stderr)
    try:
        status = subprocess.run([*command, "--json", str(result)], timeout=limit).returncode
    except subprocess.TimeoutExpired:
        status = TIMED_OUT
    return {
        "command": f"tts-ebm benchmark {arguments}",
        "exit_status": status,
        "result": json.loads(result.read_text()) if result.is_file() else None,
    }


def run(args: argparse.Namespace) -> int:
    """Every run of :data:`RUNS`, then one JSON with each run's command, status and result."""
    import torch

    if not torch.cuda.is_available():
        print("tts-ebm benchmark gpu: torch sees no CUDA device; run it on a GPU machine")
        return 2
    with tempfile.TemporaryDirectory() as work:
        runs = {name: _run_one(name, limit, line, Path(work)) for name, limit, line in RUNS}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"benchmark": "gpu", "runs": runs}, indent=2) + "\n")
    failed = [name for name, one in runs.items() if one["exit_status"] != 0]
    print(f"wrote {args.json}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
