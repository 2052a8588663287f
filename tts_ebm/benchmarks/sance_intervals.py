"""Self-adapting NCE's noise-update interval on the toy corpus (issue 13, item 3).

    tts-ebm benchmark sance-intervals --out RUNS [--intervals 1 10 100 1000] [--steps 400]
        [--logits utterance frame]

Trains ``objective=sance`` with its packaged config at each snapshot interval K (θ' refreshed
every K optimiser steps; K ≥ the run's steps keeps the initial energy as the noise throughout)
and each kind of logit (one per utterance, as packaged, or per frame of interleaved candidates),
and ``objective=nce`` with the same number of negatives and steps, with
``tts-ebm benchmark criteria-quality``'s training and measurement (a finished run in
``RUNS/NAME`` is reused). Writes ``RUNS/intervals.json``, a plot of the prior's and the refined
validation error against K (``--plot``, default ``RUNS/sance-intervals.png``), and prints a
markdown table. Xu's thesis reports that shorter intervals synthesise better.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from tts_ebm.benchmarks.criteria_quality import measure, train


def exported_error(result: dict) -> float:
    """The refined error at the knobs stored in the model (what ``synthesize`` uses)."""
    key = f"{result['packaged_steps']}@{result['packaged_step_size']:g}"
    return result["refined"][key] if result["packaged_steps"] else result["prior"]


def run_name(logits: str, interval: int) -> str:
    return f"sance_{logits}_K{interval}"


def run_all(
    out: Path, intervals: list[int], logits: list[str], steps: int, negatives: int
) -> dict[str, dict]:
    """sance at each logit kind and interval, then nce, one run at a time; keyed by run name."""
    shared = [f"objective.n_negatives={negatives}"]
    runs = {
        run_name(kind, k): (
            "sance",
            [*shared, f"objective.logits={kind}", f"objective.snapshot_interval={k}"],
        )
        for kind in logits
        for k in intervals
    }
    runs["nce"] = ("nce", shared)
    results = {}
    for run, (criterion, overrides) in runs.items():
        run_dir = out / run
        results[run] = measure(train(run_dir, criterion, steps, overrides), run_dir)
        results[run]["exported"] = exported_error(results[run])
        print(run, f"prior {results[run]['prior']:.4f}", f"exported {results[run]['exported']:.4f}")
    return results


def table(results: dict[str, dict]) -> str:
    lines = [
        "| run | prior μ | exported (K, η) | relative to μ | best (K, η) |",
        "|---|---|---|---|---|",
    ]
    for run, r in results.items():
        b = r["best"]
        lines.append(
            f"| {run} | {r['prior']:.4f} | {r['exported']:.4g} "
            f"({r['packaged_steps']}, {r['packaged_step_size']:g}) | "
            f"{r['exported'] / r['prior'] - 1:+.1%} | "
            f"{b['mse']:.4f} ({b['steps']}, {b['step_size']:g}) |"
        )
    return "\n".join(lines)


def plot(results: dict[str, dict], intervals: list[int], logits: list[str], path: Path) -> None:
    """Refined error at the exported knobs against K (log axis), one line per logit kind; the
    prior (the same for every run: μ is detached) and NCE as horizontal reference lines."""
    from tts_ebm.plots import _pyplot, save

    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.5))
    for kind in logits:
        errors = [results[run_name(kind, k)]["exported"] for k in intervals]
        axis.plot(intervals, errors, marker="o", label=f"sance, {kind} logits: refined")
    priors = [results[run_name(kind, k)]["prior"] for kind in logits for k in intervals]
    axis.axhline(sum(priors) / len(priors), color="black", linestyle="-.", label="prior μ")
    nce = results["nce"]
    axis.axhline(nce["exported"], color="grey", linestyle="--", label="nce: refined")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("snapshot interval K (optimiser steps)")
    axis.set_ylabel("validation mel MSE")
    axis.legend(fontsize=8)
    figure.tight_layout()
    save(figure, path)


DESCRIPTION = __doc__.split("\n\n")[0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tts-ebm benchmark sance-intervals``."""
    parser.add_argument("--out", type=Path, required=True, help="folder of the toy runs")
    parser.add_argument("--intervals", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--steps", type=int, default=400, help="training steps per run")
    parser.add_argument("--logits", nargs="+", default=["utterance", "frame"])
    parser.add_argument("--negatives", type=int, default=1, help="ν for sance and nce")
    parser.add_argument("--plot", type=Path, help="default RUNS/sance-intervals.png")


def run(args: argparse.Namespace) -> int:
    """Train (or reuse) a run per interval and logit kind; write the JSON, the plot, the table."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    args.out.mkdir(parents=True, exist_ok=True)
    results = run_all(args.out, args.intervals, args.logits, args.steps, args.negatives)
    (args.out / "intervals.json").write_text(json.dumps(results, indent=2))
    plot(results, args.intervals, args.logits, args.plot or args.out / "sance-intervals.png")
    print(table(results))
    return 0
