"""Cost of one training step of each EBM criterion, relative to delta, on the same energy network.

    tts-ebm benchmark criteria-cost --sizes tiny default --batch 16 --frames 400

One step = the criterion's forward, ``loss.backward()``, an AdamW step and the criterion's
``on_train_batch_end`` (the energy network alone: no text encoder), with each criterion's
packaged config (``tts_ebm/configs/objective/NAME.yaml``, inference step size 1). Each
(size, criterion) runs in its own process, so the peak resident memory it reports (growth of
``ru_maxrss`` over the process' state before the first step) belongs to that criterion alone;
criteria are interleaved round by round, and ratios are taken within a round and then the median
over rounds, so that a load that changes between rounds on a shared machine cancels out.
``forward`` is one energy evaluation without a graph: the unit of the "forwards" column. CD's
replay buffer is warm from the second step on (ids repeat), as in training.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

CRITERIA = ["forward", "delta", "ssm", "ssm_plain", "nce", "sance", "cd", "ssm_delta"]


def worker(size: str, name: str, batch: int, frames: int, steps: int, threads: int) -> dict:
    """Build, warm up with one step, time ``steps`` steps; report seconds and peak memory."""
    import torch

    from tts_ebm.benchmarks.common import synthetic_inputs
    from tts_ebm.model.energy import EnergyConfig, EnergyNetwork
    from tts_ebm.objectives import build_objective
    from tts_ebm.train.run import compose_config

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = EnergyConfig.tiny() if size == "tiny" else EnergyConfig()
    net = EnergyNetwork(config)
    inputs = synthetic_inputs(batch, frames, config.n_mels)
    y_ref, mu, mask = inputs.y_ref, inputs.mu, inputs.mask

    if name == "forward":

        def step(i: int) -> None:
            with torch.no_grad():
                net.energy(y_ref, mu, mask)

    else:
        options = compose_config([f"objective={name}", "inference.step_size=1.0"])["objective"]
        objective = build_objective(options)
        optimizer = torch.optim.AdamW([*net.parameters(), *objective.parameters()], lr=1e-4)

        def step(i: int) -> None:
            inputs.step = i
            loss = objective(net, inputs).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            objective.on_train_batch_end(net, i + 1)

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step(0)
    peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline) / 1024
    times = []
    for i in range(1, steps + 1):
        start = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - start)
    return {"seconds": times, "peak_mb": peak_mb}


def ratio(per_round: dict[str, list[float]], name: str, reference: str) -> str:
    """Median over rounds of the within-round ratio of two criteria's seconds per step."""
    if reference not in per_round:
        return "–"
    pairs = zip(per_round[name], per_round[reference], strict=True)
    return f"{statistics.median(a / b for a, b in pairs):.2f}"


DESCRIPTION = __doc__.split("\n")[0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tts-ebm benchmark criteria-cost`` (and of its worker processes)."""
    parser.add_argument("--sizes", nargs="+", default=["tiny", "default"])
    parser.add_argument("--criteria", nargs="+", default=CRITERIA)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2, help="processes per criterion")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per process")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the raw measurements here")
    parser.add_argument("--worker", nargs=2, metavar=("SIZE", "NAME"), help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Each (size, criterion) in its own worker process, round by round; print the table."""
    if args.worker:
        result = worker(*args.worker, args.batch, args.frames, args.steps, args.threads)
        print(json.dumps(result))
        return 0

    results: dict[str, dict[str, dict]] = {}
    load_before = os.getloadavg()[0]
    for size in args.sizes:
        results[size] = {name: {"rounds": [], "peak_mb": 0.0} for name in args.criteria}
        for _ in range(args.rounds):
            for name in args.criteria:
                command = [sys.executable, "-m", "tts_ebm.cli", "benchmark", "criteria-cost"]
                command += ["--worker", size, name]
                for flag in ("batch", "frames", "steps", "threads"):
                    command += [f"--{flag}", str(getattr(args, flag))]
                output = subprocess.run(command, capture_output=True, text=True, check=True)
                one = json.loads(output.stdout.strip().splitlines()[-1])
                results[size][name]["rounds"].append(one["seconds"])
                results[size][name]["peak_mb"] = max(results[size][name]["peak_mb"], one["peak_mb"])
                print(f"{size} {name}: {one}", file=sys.stderr, flush=True)

    print(
        f"batch {args.batch} x {args.frames} frames, {args.threads} threads, {args.rounds} rounds; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print("| size | criterion | s/step | × delta | forwards | peak MB | × delta |")
    print("|---|---|---|---|---|---|---|")
    for size, table in results.items():
        # Ratios are taken within a round (same load), then the median over rounds.
        per_round = {n: [statistics.median(t) for t in r["rounds"]] for n, r in table.items()}

        delta_mb = table.get("delta", {}).get("peak_mb")
        for name, r in table.items():
            seconds = statistics.median(per_round[name])
            mem_ratio = f"{r['peak_mb'] / delta_mb:.2f}" if delta_mb else "–"
            print(
                f"| {size} | {name} | {seconds:.3f} | {ratio(per_round, name, 'delta')} "
                f"| {ratio(per_round, name, 'forward')} | {r['peak_mb']:.0f} | {mem_ratio} |"
            )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0
