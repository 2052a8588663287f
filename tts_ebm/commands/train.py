"""`tts-ebm train`, `tts-ebm export` and `tts-ebm step-sizes`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _train(args: argparse.Namespace) -> int:
    from tts_ebm.train.run import TrainingStopped, compose_config, train

    if args.print_config:
        from omegaconf import OmegaConf

        print(OmegaConf.to_yaml(compose_config(args.overrides)))
        return 0
    try:
        path = train(args.overrides)
    except TrainingStopped as exc:
        print(f"tts-ebm: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"inference checkpoint: {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    import torch

    from tts_ebm.train.run import export_checkpoint

    dtype = torch.float16 if args.fp16 else torch.float32
    print(f"wrote {export_checkpoint(args.checkpoint, args.out, dtype, default_knobs(args))}")
    return 0


def add_default_knob_options(p: argparse.ArgumentParser) -> None:
    """The knobs an exported file can store as its defaults (``tts-ebm export``, ``voice
    export``); :func:`default_knobs` reads them back."""
    p.add_argument("--steps", type=int, help="default refinement steps (else the run's)")
    p.add_argument("--step-size", type=float, help="default step size η (else the run's)")
    p.add_argument("--temperature", type=float, help="default initial noise τ (else the run's)")
    p.add_argument(
        "--solver",
        choices=("euler", "midpoint", "heun"),
        help="default ODE solver of a flow decoder (else the run's, euler)",
    )
    p.add_argument(
        "--speaking-rate",
        type=float,
        help="default duration scale, >1 slower (else the run's, 1): see `tts-ebm step-sizes`",
    )


def default_knobs(args: argparse.Namespace) -> dict:
    """The knobs of :func:`add_default_knob_options` that were given."""
    knobs = {
        "steps": args.steps,
        "step_size": args.step_size,
        "temperature": args.temperature,
        "solver": args.solver,
        "speaking_rate": args.speaking_rate,
    }
    return {k: v for k, v in knobs.items() if v is not None}


def _numbers(kind: type, text: str) -> list:
    try:
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated numbers wanted, got {text!r}") from None


def _step_sizes(args: argparse.Namespace) -> int:
    import json

    from tts_ebm.checkpoint import load_checkpoint
    from tts_ebm.train.step_sizes import is_flow

    checkpoint = load_checkpoint(args.checkpoint)
    table = (_flow_knobs if is_flow(checkpoint) else _energy_step_sizes)(checkpoint, args)
    durations = table["durations"]
    print(
        f"predicted / recorded frames at speaking rate 1: {durations['length_ratio']:.3f}; "
        f"they match at speaking rate {durations['speaking_rate']:g}"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(table, indent=2))
        print(f"wrote {args.out}")
    return 0


def _energy_step_sizes(checkpoint, args: argparse.Namespace) -> dict:
    from tts_ebm.train.step_sizes import step_size_table

    grid = {"grid": args.grid} if args.grid else {}
    table = step_size_table(checkpoint, args.prepared_dir, args.steps, split=args.split, **grid)
    print(f"teacher-forced mel MSE on {args.split}: prior μ {table['prior']:.4f}")
    print("K  " + "  ".join(f"η={eta:<7g}" for eta in table["grid"]) + "  best η")
    for k in table["steps"]:
        row = "  ".join(f"{table['errors'][f'{k}@{eta:g}']:<9.4f}" for eta in table["grid"])
        print(f"{k:<3d}{row}  {table['best'][str(k)]['step_size']:g}")
    return table


def _flow_knobs(checkpoint, args: argparse.Namespace) -> dict:
    """A flow decoder's table: a row per (solver, K) with its network evaluations, a column per
    temperature τ, then the best knobs at each number of evaluations."""
    from tts_ebm.sampling import RefineConfig
    from tts_ebm.train.step_sizes import DEFAULT_TEMPERATURES, flow_knob_table

    table = flow_knob_table(
        checkpoint,
        args.prepared_dir,
        args.steps,
        args.temperatures or DEFAULT_TEMPERATURES,
        args.solvers,
        split=args.split,
    )
    print(f"teacher-forced mel MSE on {args.split} (flow decoder): prior μ {table['prior']:.4f}")
    print("solver    K   NFE  " + "  ".join(f"τ={tau:<7g}" for tau in table["temperatures"]))
    for solver in table["solvers"]:
        for k in table["steps"]:
            errors = [table["errors"][f"{solver}/{k}@{tau:g}"] for tau in table["temperatures"]]
            row = "  ".join(f"{e:<9.4f}" for e in errors)
            evaluations = RefineConfig(steps=k, solver=solver).network_evaluations(flow=True)
            print(f"{solver:<9s} {k:<3d} {evaluations:<4d} {row}")
    for evaluations, best in table["best"].items():
        print(
            f"best at {evaluations} evaluations: {best['solver']}, {best['steps']} steps, "
            f"τ = {best['temperature']:g} (MSE {best['mse']:.4f})"
        )
    return table


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


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "train",
        help="train an acoustic model (Hydra overrides)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Train with Hydra-style overrides, e.g.\n"
            "  tts-ebm train experiment=toy run_dir=runs/toy\n"
            "  tts-ebm train data.corpus=LJSpeech-1.1 data.prepared_dir=data/lj run_dir=runs/lj\n"
            "  tts-ebm train ... resume=true          # continue from the last checkpoint\n"
            "  tts-ebm train ... init_from=MODEL      # new run starting from a model's weights\n"
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
    p.add_argument(
        "checkpoint",
        type=Path,
        help="Lightning .ckpt from a run's checkpoints/, or a .safetensors to rewrite",
    )
    p.add_argument("out", type=Path, help="output .safetensors file")
    p.add_argument("--fp16", action="store_true", help="store weights in float16 (half size)")
    add_default_knob_options(p)
    p.set_defaults(handler=_export)

    p = commands.add_parser(
        "step-sizes",
        help="the best refinement step size for each step count, on prepared validation data",
        description=(
            "Refine μ (aligned to each reference, so durations play no part) by K steps of each "
            "step size η of --grid and print the mel MSE to the reference: the best η per K; "
            "and the speaking rate at which the predicted durations add up to the recorded "
            "ones. Synthesise with `--steps K --step-size η --speaking-rate R`, or store them "
            "with `tts-ebm export`. A flow decoder has no η: its table is every --solvers × K × "
            "--temperatures, and the best knobs at each number of network evaluations."
        ),
    )
    p.add_argument("checkpoint", type=Path, help="inference checkpoint or Lightning .ckpt")
    p.add_argument("prepared_dir", type=Path, help="output of `tts-ebm prepare`")
    p.add_argument(
        "--steps", type=lambda t: _numbers(int, t), default=[1, 2, 4], help="K list (1,2,4)"
    )
    p.add_argument(
        "--grid",
        type=lambda t: _numbers(float, t),
        help="step sizes η to try (default 0.125,0.25,0.5,1,2)",
    )
    p.add_argument(
        "--temperatures",
        type=lambda t: _numbers(float, t),
        help="flow decoders: temperatures τ of the source to try (default 0,0.33,0.667,1)",
    )
    p.add_argument(
        "--solvers",
        type=lambda t: [s.strip() for s in t.split(",") if s.strip()],
        default=["euler"],
        help="flow decoders: ODE solvers to try, of euler, midpoint, heun (default euler)",
    )
    p.add_argument("--split", default="val", help="prepared split to measure on (val)")
    p.add_argument("--out", type=Path, help="also write the table as JSON here")
    p.set_defaults(handler=_step_sizes)
