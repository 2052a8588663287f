"""The issue's targets that a synthesis benchmark's measurements can answer, each with its
verdict and whether the run is the setting the target is defined for."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING

import torch

from tts_ebm.benchmarks.common import find_row
from tts_ebm.benchmarks.file_memory import N_SENTENCES, TARGET_BYTES
from tts_ebm.benchmarks.pipeline import FIRST_CHUNK_TARGET, JOIN_TOLERANCE

if TYPE_CHECKING:
    from tts_ebm.benchmarks.synthesis import SynthesisOptions

TARGET_STEPS = 4
TARGET_SECONDS = 10.0
VOCODER_SPEEDUP_TARGET = 2.0  # the default runtime against the reference, at one thread
VOCODER_SNR_TARGET = 30.0  # dB

_COMPARE = {"<=": operator.le, ">=": operator.ge, "<": operator.lt}


def _target(name: str, value: float | None, comparison: str, limit: float, applies: bool) -> dict:
    """One of the issue's targets; no value (nothing to compare) fails it."""
    passed = value is not None and _COMPARE[comparison](value, limit)
    return {
        "name": name,
        "value": value,
        "limit": limit,
        "comparison": comparison,
        "passed": passed,
        "applies": applies,
    }


def targets(result: dict, options: SynthesisOptions, device: torch.device) -> list[dict]:
    """The issue's targets that this run's measurements can answer.

    ``applies`` is false when the run differs from the setting a target is defined for: the
    verdict is then indicative.
    """
    found = _acoustic_targets(result, options, device) if "acoustic" in result else []
    runtimes = result.get("vocoder_runtimes")
    if runtimes:
        default = find_row(runtimes["runtimes"], name=runtimes["default_runtime"])
        one_thread = device.type == "cpu" and runtimes["threads"] == 1
        label = f"vocoder {default['name']} (default) vs reference"
        found += [
            _target(
                f"{label}, 1 thread: × speed",
                default["speedup"],
                ">=",
                VOCODER_SPEEDUP_TARGET,
                one_thread,
            ),
            _target(f"{label}: SNR dB", default["snr_db"], ">=", VOCODER_SNR_TARGET, True),
        ]
    streaming = result.get("streaming")
    if streaming:
        found += [
            _target(
                "stream, six sentences: first chunk / total",
                streaming["first_chunk_ratio"],
                "<=",
                FIRST_CHUNK_TARGET,
                True,
            ),
            _target(
                "stream chunks joined vs synthesize(): max |difference|",
                streaming["join_max_abs_difference"],
                "<=",
                JOIN_TOLERANCE,
                True,
            ),
        ]
    memory = result.get("file_memory")
    if memory:
        name = f"synthesize --file, {memory['sentences']} sentences: peak RSS GB"
        value = memory["peak_rss_bytes"] / 1e9
        applies = memory["sentences"] == N_SENTENCES
        found.append(_target(name, value, "<", TARGET_BYTES / 1e9, applies))
    return found


def _acoustic_targets(result: dict, options: SynthesisOptions, device: torch.device) -> list[dict]:
    """Speed targets of the acoustic model (and + vocoder): set for the default model size,
    10 s, and (the pipeline's) HiFi-GAN."""
    setting = (options.checkpoint is not None or options.model == "default") and (
        options.seconds == TARGET_SECONDS
    )
    hifigan = options.vocoder not in ("griffin-lim", "none")
    single = find_row(result["acoustic"], decoder="ebm", steps=TARGET_STEPS, batch_size=1)
    piped = find_row(result["pipeline"], steps=TARGET_STEPS, batch_size=1)
    largest = max(options.batch_sizes)
    batched = find_row(result["acoustic"], decoder="ebm", steps=TARGET_STEPS, batch_size=largest)
    label = f"{TARGET_STEPS} steps, {options.seconds:g} s"
    if device.type == "cuda":
        specs = [
            (f"GPU acoustic model, {label}, batch 1: RTF", single, 0.005, False),
            (f"GPU acoustic model + vocoder, {label}, batch 1: RTF", piped, 0.01, False),
            (f"GPU acoustic model, {label}, batch {largest}: × real time", batched, 2000.0, True),
        ]
    else:
        specs = [
            (f"2-core CPU acoustic model, {label}, batch 1: RTF", single, 0.1, False),
            (f"2-core CPU acoustic model + vocoder, {label}, batch 1: RTF", piped, 0.6, False),
        ]
    targets = []
    for name, row, limit, throughput in specs:
        if row is None or (throughput and largest == 1):
            continue
        value = 1.0 / row["rtf"] if throughput else row["rtf"]
        applies = setting and (hifigan or "vocoder" not in name)
        targets.append(_target(name, value, ">=" if throughput else "<=", limit, applies))
    return targets
