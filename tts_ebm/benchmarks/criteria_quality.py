"""Refinement quality of each EBM criterion on the toy corpus: prior μ vs μ refined by K steps.

    tts-ebm benchmark criteria-quality --out RUNS [--steps 400] [--criteria delta ssm ...]

Trains ``tts-ebm train experiment=toy objective=NAME`` for each criterion (a finished run in
``RUNS/NAME`` is reused), then measures the teacher-forced validation mel error (masked MSE in
normalised units, μ aligned to the reference by MAS) of μ and of μ refined by 1, 4 and 16
gradient steps at the packaged step size and over a grid of step sizes, and at the exported knobs
(the model's stored steps and step size: what ``tts-ebm synthesize`` does). Writes
``RUNS/quality.json`` and prints a markdown table: the numbers behind docs/criteria.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CRITERIA = ["delta", "ssm", "ssm_plain", "ssm_delta", "nce", "sance", "cd"]
STEPS = (1, 4, 16)
STEP_SIZES = (1.0, 0.3, 0.1, 0.03, 0.01)


def train(run_dir: Path, name: str, steps: int, extra: list[str]) -> Path:
    """Train unless ``run_dir`` already holds the exported model; return its path."""
    model = run_dir / "model.safetensors"
    if not model.is_file():
        command = [sys.executable, "-m", "tts_ebm.cli", "train", "experiment=toy"]
        command += [f"objective={name}", f"trainer.max_steps={steps}", f"run_dir={run_dir}"]
        log = run_dir.with_suffix(".log")
        with log.open("w") as handle:
            subprocess.run(command + extra, check=True, stdout=handle, stderr=subprocess.STDOUT)
    return model


def measure(model_path: Path, run_dir: Path) -> dict:
    import torch
    from omegaconf import OmegaConf

    from tts_ebm.checkpoint import load_inference_checkpoint
    from tts_ebm.train.step_sizes import step_size_table

    torch.manual_seed(0)
    inference = load_inference_checkpoint(model_path).inference
    config = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"))
    packaged = float(inference["step_size"])
    packaged_steps = int(inference["steps"])
    counts = sorted({*STEPS, packaged_steps} - {0})
    measured = step_size_table(
        model_path, config["data"]["prepared_dir"], counts, sorted({packaged, *STEP_SIZES})
    )
    errors = measured["errors"]
    best = min(errors, key=errors.get)
    steps, step_size = best.split("@")
    return {
        "prior": measured["prior"],
        "packaged_step_size": packaged,
        "packaged_steps": packaged_steps,
        "refined": errors,
        "best": {"steps": int(steps), "step_size": float(step_size), "mse": errors[best]},
    }


def table(results: dict[str, dict]) -> str:
    lines = [
        "| criterion | η | prior μ | 1 step | 4 steps | 16 steps | best (K, η) | exported K |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        eta = r["packaged_step_size"]
        cells = [f"{r['refined'][f'{k}@{eta:g}']:.4g}" for k in STEPS]
        b = r["best"]
        k = r["packaged_steps"]
        exported = f"{r['refined'][f'{k}@{eta:g}']:.4g} ({k})" if k else "—"
        lines.append(
            f"| {name} | {eta:g} | {r['prior']:.4f} | "
            + " | ".join(cells)
            + f" | {b['mse']:.4f} ({b['steps']}, {b['step_size']:g}) | {exported} |"
        )
    return "\n".join(lines)


DESCRIPTION = __doc__.split("\n\n")[0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tts-ebm benchmark criteria-quality``."""
    parser.add_argument("--out", type=Path, required=True, help="folder of the toy runs")
    parser.add_argument("--steps", type=int, default=400, help="training steps per criterion")
    parser.add_argument("--criteria", nargs="+", default=CRITERIA)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("overrides", nargs="*", help="extra training overrides for every run")


def run(args: argparse.Namespace) -> int:
    """Train (or reuse) each criterion's toy run, measure it, print the table."""
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in args.criteria:
        run_dir = args.out / name
        model = train(run_dir, name, args.steps, args.overrides)
        results[name] = measure(model, run_dir)
        print(name, json.dumps(results[name]["best"]), flush=True)
    (args.out / "quality.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    return 0
