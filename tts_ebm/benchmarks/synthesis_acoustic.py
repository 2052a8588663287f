"""The synthesis benchmark's ``acoustic`` section: the acoustic model from token ids to refined
mel for each K and batch size, a same-sized flow-matching Euler decoder beside it, and the vocoder
on its own (so a pipeline's RTF is the sum); see :mod:`tts_ebm.benchmarks.synthesis`."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from tts_ebm.audio import MelConfig, MelStats
from tts_ebm.benchmarks.common import (
    PeakMemory,
    count_parameters,
    find_row,
    load_average,
    median,
    time_call,
)
from tts_ebm.benchmarks.compiled import compiled_energy
from tts_ebm.model.alignment import expand, path_from_durations, predict_durations
from tts_ebm.model.energy import EnergyModule
from tts_ebm.model.flow import FlowDecoder
from tts_ebm.model.tts import EBMTTS
from tts_ebm.sampling import RefineConfig, refine
from tts_ebm.text import TextFrontend

if TYPE_CHECKING:
    from tts_ebm.benchmarks.synthesis import SynthesisOptions

# Read speech runs at about 2.6 words per second (LJSpeech: ~17 words in ~6.6 s).
WORDS_PER_SECOND = 2.6
PASSAGE = (
    "The committee met early on Tuesday morning to discuss the new railway line, which would "
    "connect the northern villages with the harbour town. Several members argued that the cost "
    "was far too high, while others pointed out that trade had doubled since the old road was "
    "paved, and that the young people of the valley needed work close to home."
)
EBM_RATIO_STEPS = (1, 2, 4)
COMPILED = "+compile"

Decode = Callable[[Tensor, Tensor], Tensor]


def passage(seconds: float) -> str:
    """About ``seconds`` of read English: the passage's words, repeated as needed."""
    n_words = max(1, round(seconds * WORDS_PER_SECOND))
    words = itertools.islice(itertools.cycle(PASSAGE.split()), n_words)
    return " ".join(words).rstrip(",.") + "."


def fit_durations(durations: Tensor, n_frames: int) -> Tensor:
    """Integer durations (B, L) rescaled so every row sums to exactly ``n_frames``.

    Each valid token (duration > 0) keeps at least one frame; the remaining frames are shared
    in proportion to the given durations, rounded by largest remainder.
    """
    valid = durations > 0
    n_tokens = valid.sum(dim=1, keepdim=True)
    if bool((n_tokens > n_frames).any()):
        raise ValueError(f"{int(n_tokens.max())} tokens cannot fit in {n_frames} frames")
    weights = durations.float() / durations.sum(dim=1, keepdim=True).float()
    share = weights * (n_frames - n_tokens)
    base = share.floor()
    missing = n_frames - n_tokens - base.sum(dim=1, keepdim=True).long()
    rank = (share - base).masked_fill(~valid, -1.0).argsort(dim=1, descending=True).argsort(dim=1)
    extra = (rank < missing) & valid
    return valid.long() + base.long() + extra.long()


@torch.no_grad()
def acoustic_model(
    model: EBMTTS, tokens: Tensor, token_lengths: Tensor, n_frames: int, decode: Decode
) -> Tensor:
    """Token ids → mel (B, n_mels, n_frames): encoder, durations, expansion, then ``decode``."""
    enc = model.encoder(tokens, token_lengths)
    durations = fit_durations(predict_durations(enc.log_durations, enc.mask), n_frames)
    frame_mask = torch.ones(
        tokens.shape[0], 1, n_frames, dtype=enc.mu_x.dtype, device=tokens.device
    )
    mu = expand(enc.mu_x, path_from_durations(durations, frame_mask))
    return decode(mu, frame_mask)


@dataclass
class _Subject:
    """The acoustic model under test and what it reads and writes."""

    model: EBMTTS
    frontend: TextFrontend
    stats: MelStats
    mel: MelConfig
    step_size: float


def _load_subject(options: SynthesisOptions, device: torch.device) -> _Subject:
    if options.checkpoint is not None:
        from tts_ebm.checkpoint import load_inference_checkpoint
        from tts_ebm.synthesis import resolve_checkpoint

        path = resolve_checkpoint(options.checkpoint)
        ckpt = load_inference_checkpoint(path, device=str(device))
        return _Subject(
            model=ckpt.model,
            frontend=TextFrontend.from_config(ckpt.frontend),
            stats=ckpt.stats,
            mel=ckpt.mel,
            step_size=float(ckpt.inference.get("step_size", 1.0)),
        )
    from tts_ebm.train.run import compose_config

    config = compose_config([f"model={options.model}"])
    frontend = TextFrontend(kind=config["data"]["frontend"], add_blank=config["data"]["add_blank"])
    network = config["model"]["network"]
    network["encoder"]["n_vocab"] = len(frontend.symbols)
    model = EBMTTS.from_config(network).to(device).eval()
    return _Subject(
        model=model,
        frontend=frontend,
        # Untrained mels are meaningless anyway; the vocoder's cost does not depend on values.
        stats=MelStats(mean=0.0, std=1.0),
        mel=MelConfig(),
        step_size=float(config["inference"]["step_size"]),
    )


def acoustic_section(
    options: SynthesisOptions, device: torch.device, report: Callable[[str], None]
) -> dict:
    """Every (decoder, batch size, steps), and the vocoder at every batch size."""
    subject = _load_subject(options, device)
    model = subject.model
    # Same trunk and size, untrained: speed does not depend on the weights.
    flow_config = dataclasses.replace(model.energy_config, form="flow", anchor_beta=0.0)
    flow = FlowDecoder(flow_config).to(device).eval()
    vocoder = None
    if options.vocoder != "none":
        from tts_ebm.vocoder import load_vocoder

        vocoder = load_vocoder(options.vocoder, device=device)
        vocoder.check_mel_config(subject.mel)
    memory = PeakMemory(device)
    load_start = load_average()

    text = passage(options.seconds)
    ids = torch.tensor(subject.frontend.process(text).ids, device=device)
    n_frames = round(options.seconds * subject.mel.sample_rate / subject.mel.hop_length)
    audio_seconds = n_frames * subject.mel.hop_length / subject.mel.sample_rate

    def measure(fn: Callable[[], object], batch_size: int) -> dict:
        memory.reset()
        timing = time_call(fn, device, options.repeats, options.warmup)
        seconds = median(timing.wall)
        return {
            "batch_size": batch_size,
            "seconds": seconds,
            "seconds_all": timing.wall,
            "cpu_seconds": median(timing.cpu),
            "rtf": seconds / (batch_size * audio_seconds),
            "peak_memory_bytes": memory.peak_bytes(),
        }

    def ebm(energy: EnergyModule, steps: int) -> Decode:
        config = RefineConfig(steps=steps, step_size=subject.step_size)
        return lambda mu, mask: refine(energy, mu, mask, config)

    def euler(steps: int) -> Decode:
        return lambda mu, mask: refine(flow, mu, mask, RefineConfig(steps=steps))

    runs = [("ebm", k, ebm(model.energy, k)) for k in options.steps_list]
    runs += [("euler", k, euler(k)) for k in options.euler_steps_list]
    if options.compile:
        energy = compiled_energy(model.energy, device)
        runs += [("ebm" + COMPILED, k, ebm(energy, k)) for k in options.steps_list if k > 0]
    acoustic: list[dict] = []
    vocoding: list[dict] = []
    shapes: dict[str, list[int]] = {}
    for batch_size in options.batch_sizes:
        tokens = ids.expand(batch_size, -1).contiguous()
        lengths = torch.full((batch_size,), ids.numel(), device=device)
        for decoder, steps, decode in runs:
            run = functools.partial(acoustic_model, model, tokens, lengths, n_frames, decode)
            first = _first_call_seconds(run, device) if decoder.endswith(COMPILED) else None
            entry = measure(run, batch_size)
            if first is not None:
                entry["first_call_seconds"] = first
            acoustic.append({"decoder": decoder, "steps": steps, **entry})
            report(
                f"{decoder:5s} batch {batch_size:3d} steps {steps:3d}: "
                f"{entry['seconds']:.3f} s, RTF {entry['rtf']:.4f}"
            )
        mel = acoustic_model(model, tokens, lengths, n_frames, ebm(model.energy, 1))
        shapes["ebm"] = list(mel.shape)
        shapes["euler"] = list(acoustic_model(model, tokens, lengths, n_frames, euler(1)).shape)
        if vocoder is not None:
            log_mel = subject.stats.denormalize(mel)
            entry = measure(functools.partial(vocoder, log_mel), batch_size)
            vocoding.append({"name": vocoder.name, **entry})
            report(
                f"vocoder {vocoder.name} batch {batch_size:3d}: {entry['seconds']:.3f} s, "
                f"RTF {entry['rtf']:.4f}"
            )

    return {
        "model": "checkpoint" if options.checkpoint else f"untrained {options.model}",
        "parameters": {
            "encoder": count_parameters(model.encoder),
            "energy": count_parameters(model.energy),
            "flow_decoder": count_parameters(flow),
        },
        "text": text,
        "tokens": ids.numel(),
        "frames": n_frames,
        "audio_seconds": audio_seconds,
        "memory_method": memory.method,
        "acoustic": acoustic,
        "vocoder": vocoding,
        "output_shapes": shapes,
        "pipeline": _pipeline(acoustic, vocoding),
        "ratios": _ratios(acoustic, options.euler_steps),
        "compiled": _compiled(acoustic),
        "acoustic_load_average": [load_start, load_average()],
    }


def _first_call_seconds(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds of one untimed call: a compiled function's first call is its compilation."""
    return time_call(fn, device, repeats=1, warmup=0).wall[0]


def _pipeline(acoustic: list[dict], vocoding: list[dict]) -> list[dict]:
    """EBM acoustic model + vocoder, each timed on its own: RTFs add."""
    rows = []
    for voc in vocoding:
        for row in acoustic:
            if row["decoder"] == "ebm" and row["batch_size"] == voc["batch_size"]:
                rtf = row["rtf"] + voc["rtf"]
                rows.append({"batch_size": row["batch_size"], "steps": row["steps"], "rtf": rtf})
    return rows


def _ratios(acoustic: list[dict], euler_steps: int) -> list[dict]:
    """Acoustic-model time with K EBM steps over time with ``euler_steps`` Euler steps."""
    rows = []
    for row in acoustic:
        if row["decoder"] != "ebm" or row["steps"] not in EBM_RATIO_STEPS:
            continue
        base = find_row(acoustic, decoder="euler", steps=euler_steps, batch_size=row["batch_size"])
        rows.append(
            {
                "batch_size": row["batch_size"],
                "ebm_steps": row["steps"],
                "euler_steps": euler_steps,
                "ratio": row["seconds"] / base["seconds"],
            }
        )
    return rows


def _compiled(acoustic: list[dict]) -> list[dict]:
    """Eager over compiled acoustic-model time, where both were measured."""
    rows = []
    for row in acoustic:
        if row["decoder"] != "ebm" + COMPILED:
            continue
        eager = find_row(acoustic, decoder="ebm", steps=row["steps"], batch_size=row["batch_size"])
        rows.append(
            {
                "batch_size": row["batch_size"],
                "steps": row["steps"],
                "eager_seconds": eager["seconds"],
                "compiled_seconds": row["seconds"],
                "speedup": eager["seconds"] / row["seconds"],
                "first_call_seconds": row["first_call_seconds"],
            }
        )
    return rows
