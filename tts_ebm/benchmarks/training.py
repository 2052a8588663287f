"""Training-step benchmark: steps/s, peak memory and where the time of a step goes.

A step is timed as ``EBMTTSModule.training_step`` runs it — ``_losses`` (encoder, MAS, prior and
duration losses, EBM objective), backward, gradient clipping, AdamW and scheduler step — on a
synthetic batch, so no corpus is needed and the batch shape is exactly what is asked for. The
breakdown comes from forward hooks on the encoder and the objective and from wrapping the two MAS
functions where the model looks them up; the issue asks that MAS stays under 10 % of a step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch
from rich.console import Console

import tts_ebm.model.tts as tts_model
from tts_ebm.audio import MelStats
from tts_ebm.benchmarks.common import (
    PeakMemory,
    Sections,
    count_parameters,
    environment,
    format_bytes,
    load_average,
    median,
    print_table,
    resolve_device,
    torch_threads,
    verdict,
)
from tts_ebm.model.layers import sequence_mask
from tts_ebm.text import symbol_table
from tts_ebm.train.data import Batch

if TYPE_CHECKING:
    from tts_ebm.train.module import EBMTTSModule

MAS_SHARE_LIMIT = 0.10
# Glow-TTS-style token sequences (phones with interspersed blanks) run at a few frames per token;
# five keeps MAS's L × T table at the size the estimate assumed.
FRAMES_PER_TOKEN = 5
SECTIONS = ("encoder", "mas", "objective", "backward", "optimizer")


@dataclass
class TrainingOptions:
    model: str = "default"
    batch_size: int = 32
    frames: str = "400"
    objective: str = "delta"
    steps: int = 3
    warmup: int = 1
    device: str = "auto"
    precision: str = "32"
    seed: int = 0
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.steps < 1 or self.warmup < 0:
            raise ValueError("need --batch-size >= 1, --steps >= 1 and --warmup >= 0")
        if self.precision not in ("32", "bf16"):
            raise ValueError(f"--precision must be 32 or bf16, got {self.precision!r}")
        parse_frames(self.frames)


def parse_frames(spec: str) -> tuple[int, int]:
    """``N``: lengths uniform in [3N/4, N] (bucketed batches vary a little); ``MIN:MAX``: uniform
    in [MIN, MAX]. The longest utterance always has the maximum, so the padded T is exact."""
    try:
        if ":" in spec:
            low, high = (int(part) for part in spec.split(":"))
        else:
            high = int(spec)
            low = math.ceil(0.75 * high)
    except ValueError:
        raise ValueError(f"--frames must be N or MIN:MAX, got {spec!r}") from None
    if not 1 <= low <= high or high < FRAMES_PER_TOKEN:
        raise ValueError(f"--frames {spec!r}: need 1 <= MIN <= MAX and MAX >= {FRAMES_PER_TOKEN}")
    return low, high


def synthetic_batch(
    batch_size: int, frames: tuple[int, int], n_vocab: int, n_mels: int, seed: int
) -> Batch:
    """Random token ids and normalised mels of variable length, zero-padded like real batches."""
    generator = torch.Generator().manual_seed(seed)
    low, high = frames
    mel_lengths = torch.randint(low, high + 1, (batch_size,), generator=generator)
    mel_lengths[0] = high
    token_lengths = (mel_lengths // FRAMES_PER_TOKEN).clamp(min=1)
    token_mask = sequence_mask(token_lengths)
    tokens = torch.randint(1, n_vocab, token_mask.shape, generator=generator) * token_mask
    frame_mask = sequence_mask(mel_lengths, high).unsqueeze(1)
    mel = torch.randn(batch_size, n_mels, high, generator=generator) * frame_mask
    return Batch(
        ids=[f"synthetic-{i}" for i in range(batch_size)],
        tokens=tokens,
        token_lengths=token_lengths,
        mel=mel,
        mel_lengths=mel_lengths,
    )


def build_module(model: str, objective: str) -> EBMTTSModule:
    """The Lightning module of the packaged ``model=…`` / ``objective=…`` configs, IPA-sized."""
    from tts_ebm.train.module import EBMTTSModule
    from tts_ebm.train.run import compose_config

    config = compose_config([f"model={model}", f"objective={objective}"])
    config["model"]["network"]["encoder"]["n_vocab"] = len(symbol_table("ipa"))
    # The synthetic mels are already normalised; the statistics are never used.
    config["data"]["stats"] = MelStats(mean=0.0, std=1.0).to_dict()
    return EBMTTSModule(config)


def run_training_benchmark(
    options: TrainingOptions, progress: Callable[[str], None] | None = None
) -> dict:
    """Time ``options.steps`` full training steps after ``options.warmup`` untimed ones."""
    with torch_threads(options.threads):
        return _run(options, progress or (lambda _: None))


def _run(options: TrainingOptions, report: Callable[[str], None]) -> dict:
    from tts_ebm.train.module import step_seed

    device = resolve_device(options.device)
    torch.manual_seed(options.seed)
    module = build_module(options.model, options.objective).to(device).train()
    network = module.model
    frames = parse_frames(options.frames)
    batch = synthetic_batch(
        options.batch_size,
        frames,
        network.encoder_config.n_vocab,
        network.energy_config.n_mels,
        options.seed,
    ).to(device)
    [optimizer], [schedule] = module.configure_optimizers()
    scheduler = schedule["scheduler"]
    clip = module.config["trainer"].get("gradient_clip_val") or float("inf")
    params = [p for p in module.parameters() if p.requires_grad]
    memory = PeakMemory(device)
    sections = Sections(device)
    env = environment(device)

    def step(index: int) -> tuple[float, float, dict[str, float]]:
        cpu_start = time.process_time()
        with sections.measure("step"):
            torch.manual_seed(step_seed(module.config["seed"], index, 0))
            with torch.autocast(
                device.type, dtype=torch.bfloat16, enabled=options.precision == "bf16"
            ):
                losses, _ = module._losses(batch, index)
            optimizer.zero_grad(set_to_none=True)
            with sections.measure("backward"):
                losses["loss"].backward()
            with sections.measure("optimizer"):
                torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], clip)
                optimizer.step()
                scheduler.step()
            module.objective.on_train_batch_end(network.energy, index + 1)
        cpu = time.process_time() - cpu_start
        times = sections.take()
        return times.pop("step"), cpu, times

    step_times: list[float] = []
    cpu_times: list[float] = []
    breakdowns: list[dict[str, float]] = []
    with ExitStack() as stack:
        stack.enter_context(sections.hooked(network.encoder, "encoder"))
        stack.enter_context(sections.hooked(module.objective, "objective"))
        stack.enter_context(sections.patched(tts_model, "gaussian_log_likelihood", "mas"))
        stack.enter_context(sections.patched(tts_model, "maximum_path", "mas"))
        # From before the warm-up: its first step allocates gradients and optimiser state, and
        # on the CPU memory freed after it is reused without raising the resident set again.
        memory.reset()
        for i in range(options.warmup):
            seconds, _, _ = step(i)
            report(f"warm-up step {i + 1}/{options.warmup}: {seconds:.2f} s")
        for i in range(options.steps):
            seconds, cpu, parts = step(options.warmup + i)
            step_times.append(seconds)
            cpu_times.append(cpu)
            breakdowns.append(parts)
            report(
                f"step {i + 1}/{options.steps}: {seconds:.2f} s (MAS {parts.get('mas', 0.0):.3f} s)"
            )
        peak = memory.peak_bytes()
    if sections.calls["mas"] < 2 * (options.warmup + options.steps):
        raise RuntimeError("MAS was not timed: EBMTTS.align no longer calls the functions wrapped")

    seconds_per_step = median(step_times)
    breakdown = {
        name: {"seconds": median([b.get(name, 0.0) for b in breakdowns])} for name in SECTIONS
    }
    breakdown["other"] = {
        "seconds": median(
            [t - sum(b.values()) for t, b in zip(step_times, breakdowns, strict=True)]
        )
    }
    for entry in breakdown.values():
        entry["share"] = entry["seconds"] / seconds_per_step
    mas_share = breakdown["mas"]["share"]
    target_applies = options.model == "default" and options.batch_size == 32
    mel_lengths = batch.mel_lengths.tolist()
    return {
        "benchmark": "training",
        "options": asdict(options),
        "environment": env,
        "parameters": {
            "encoder": count_parameters(network.encoder),
            "energy": count_parameters(network.energy),
            "objective": count_parameters(module.objective),
        },
        "batch": {
            "batch_size": options.batch_size,
            "padded_frames": frames[1],
            "frames_min": min(mel_lengths),
            "frames_mean": sum(mel_lengths) / len(mel_lengths),
            "padded_tokens": int(batch.tokens.shape[1]),
        },
        "step_seconds": step_times,
        "seconds_per_step": seconds_per_step,
        "steps_per_second": 1.0 / seconds_per_step,
        "cpu_seconds_per_step": median(cpu_times),
        "frames_per_second": sum(mel_lengths) / seconds_per_step,
        "peak_memory_bytes": peak,
        "memory_method": memory.method,
        "breakdown": breakdown,
        "mas_share": mas_share,
        "mas_target": {
            "limit": MAS_SHARE_LIMIT,
            "passed": mas_share < MAS_SHARE_LIMIT,
            "applies": target_applies,
        },
        "load_average_end": load_average(),
    }


def print_report(result: dict, console: Console) -> None:
    options, env, batch = result["options"], result["environment"], result["batch"]
    console.print(
        f"training step, model={options['model']} objective={options['objective']} "
        f"precision={options['precision']} on {env['device']} ({env['processor']}, "
        f"{env['torch_threads']} threads), load average {env['load_average_start']} → "
        f"{result['load_average_end']}"
    )
    console.print(
        f"batch {batch['batch_size']} × {batch['frames_min']}–{batch['padded_frames']} frames "
        f"(mean {batch['frames_mean']:.0f}), {batch['padded_tokens']} tokens padded; "
        f"parameters: " + ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in result["parameters"].items())
    )
    print_table(
        console,
        "throughput",
        ("metric", "value"),
        [
            ("steps/s", f"{result['steps_per_second']:.3f}"),
            ("seconds/step (median)", f"{result['seconds_per_step']:.3f}"),
            ("CPU seconds/step (all threads)", f"{result['cpu_seconds_per_step']:.3f}"),
            ("frames/s", f"{result['frames_per_second']:.0f}"),
            ("peak memory", format_bytes(result["peak_memory_bytes"])),
        ],
    )
    console.print(f"peak memory: {result['memory_method']}")
    print_table(
        console,
        "where a step's time goes (medians)",
        ("section", "seconds", "share"),
        [
            (name, f"{entry['seconds']:.4f}", f"{100 * entry['share']:.1f} %")
            for name, entry in result["breakdown"].items()
        ],
    )
    target = result["mas_target"]
    note = "" if target["applies"] else " (the target is set for --model default, batch 32)"
    console.print(
        f"MAS share {100 * result['mas_share']:.2f} % < {100 * target['limit']:.0f} %: "
        f"{verdict(target['passed'])}{note}"
    )
