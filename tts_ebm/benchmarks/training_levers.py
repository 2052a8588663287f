"""Levers on the cost of a decoder training step: float32 against bf16 autocast, ``torch.compile``
and a fused AdamW, for the delta energy and the flow decoder, interleaved in one process.

    tts-ebm benchmark training-levers --objectives delta flow --levers fp32 bf16 compile fused

The step is the one the equal-budget comparison trains (decoder only, under a frozen prior):
the criterion's forward, ``loss.backward()``, gradient clipping and an AdamW step, on the
``model=small`` U-Net (quadratic energy for delta, the flow head for flow) over batches of
128-frame windows. Every (objective, lever) is built once and warmed up with one step (a cold
``torch.compile`` is timed there, since a training run pays it once); then the variants take
turns, round by round, and each variant's time is compared with float32's *within a round*, the
median over rounds reported, so a load that changes on a shared machine cancels out. Seconds are
both wall time and the thread's CPU time (what a one-thread step costs whatever else runs).
A lever that cannot run (delta's double backward under ``torch.compile``) is reported with its
error. Speed is half of adopting a lever: its loss must also match float32's (``loss`` column,
the same batch and seed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext

LEVERS = ("fp32", "bf16", "compile", "fused")
OBJECTIVES = ("delta", "flow")
DESCRIPTION = __doc__.split("\n")[0]


def training_step(objective_name: str, lever: str, batch: int, frames: int) -> Callable[[], float]:
    """One decoder training step of ``objective_name`` with ``lever`` applied; returns the loss."""
    import torch

    from tts_ebm.benchmarks.common import synthetic_inputs
    from tts_ebm.model.energy import EnergyConfig
    from tts_ebm.model.flow import build_decoder
    from tts_ebm.objectives import build_objective
    from tts_ebm.train.run import compose_config

    config = compose_config(["model=small", f"objective={objective_name}"])
    network = config["model"]["network"]["energy"]
    form = "flow" if objective_name == "flow" else "quadratic"
    torch.manual_seed(0)
    decoder_config = EnergyConfig(**{**network, "form": form})
    decoder = build_decoder(decoder_config)
    objective = build_objective(config["objective"])
    params = [*decoder.parameters(), *objective.parameters()]
    optimizer = torch.optim.AdamW(params, lr=4e-4, fused=True if lever == "fused" else None)
    if lever == "compile":
        if objective_name == "flow":
            decoder.velocity = torch.compile(decoder.velocity)
        else:
            decoder.frame_energy = torch.compile(decoder.frame_energy)
    inputs = synthetic_inputs(batch, frames, decoder_config.n_mels)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if lever == "bf16" else nullcontext()

    def step() -> float:
        torch.manual_seed(1)  # the same hypotheses and times for every lever
        with autocast:
            loss = objective(decoder, inputs).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        return float(loss.detach())

    return step


def measure(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    variants: dict[tuple[str, str], Callable[[], float]] = {}
    results: dict[str, dict] = {}
    for objective in args.objectives:
        for lever in args.levers:
            key = f"{objective}/{lever}"
            start = time.perf_counter()
            try:
                step = training_step(objective, lever, args.batch, args.frames)
                loss = step()
            except Exception as exc:  # a lever the step cannot take is a result, not a crash
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                results[key] = {"error": f"{type(exc).__name__}: {message}"}
                print(f"{key}: cannot run ({results[key]['error']})", flush=True)
                continue
            first = time.perf_counter() - start
            results[key] = {"first_step_seconds": first, "loss": loss, "wall": [], "cpu": []}
            variants[(objective, lever)] = step
            print(f"{key}: first step (build, warm-up, compile) {first:.1f} s", flush=True)
    load_before = os.getloadavg()
    for round_index in range(args.rounds):
        for (objective, lever), step in variants.items():
            wall, cpu = time.perf_counter(), time.thread_time()
            step()
            entry = results[f"{objective}/{lever}"]
            entry["wall"].append(time.perf_counter() - wall)
            entry["cpu"].append(time.thread_time() - cpu)
        print(f"round {round_index + 1}/{args.rounds} done", flush=True)
    for objective, lever in variants:
        entry, base = results[f"{objective}/{lever}"], results.get(f"{objective}/fp32")
        for clock in ("wall", "cpu"):
            entry[f"{clock}_median"] = statistics.median(entry[clock])
            if base and "error" not in base:
                pairs = zip(base[clock], entry[clock], strict=True)
                entry[f"{clock}_speedup"] = statistics.median(b / t for b, t in pairs)
    return {
        "benchmark": "training-levers",
        "options": {k: v for k, v in vars(args).items() if k != "handler"},
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "results": results,
    }


def print_report(result: dict) -> None:
    options = result["options"]
    print(
        f"model=small decoder, batch {options['batch']} × {options['frames']} frames, "
        f"{options['threads']} thread(s), {options['rounds']} rounds, torch {result['torch']} "
        f"({result['cpu_capability']}); load average {result['load_average_before'][0]:.1f} → "
        f"{result['load_average_after'][0]:.1f}"
    )
    print(
        "| objective | lever | first step s | s/step (wall) | CPU s/step | × fp32 (wall) "
        "| × fp32 (CPU) | loss |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for key, entry in result["results"].items():
        objective, lever = key.split("/")
        if "error" in entry:
            print(f"| {objective} | {lever} | – | – | – | – | – | {entry['error']} |")
            continue
        print(
            f"| {objective} | {lever} | {entry['first_step_seconds']:.1f} "
            f"| {entry['wall_median']:.3f} | {entry['cpu_median']:.3f} "
            f"| {entry.get('wall_speedup', 1.0):.2f} | {entry.get('cpu_speedup', 1.0):.2f} "
            f"| {entry['loss']:.5f} |"
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--objectives", nargs="+", choices=OBJECTIVES, default=list(OBJECTIVES))
    parser.add_argument("--levers", nargs="+", choices=LEVERS, default=list(LEVERS))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--frames", type=int, default=128, help="window length (segment_frames)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the measurements here")


def run(args: argparse.Namespace) -> int:
    result = measure(args)
    print_report(result)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
        print(f"wrote {args.json}")
    return 0
