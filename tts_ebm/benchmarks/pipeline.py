"""What a user of :class:`~tts_ebm.synthesis.Synthesizer` waits for: the first streamed chunk of a
paragraph, and the whole pipeline's real-time factor (text → waveform) at one and two threads.

Both are measured in interleaved rounds (:func:`~tts_ebm.benchmarks.common.time_interleaved`):
streaming against ``synthesize()`` of the same text, one thread against two.
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
import torch

from tts_ebm.benchmarks.common import (
    load_average,
    median,
    summarize,
    synchronize,
    time_interleaved,
    torch_threads,
)
from tts_ebm.synthesis import Synthesis, Synthesizer

# Six sentences of ordinary prose, ~25 s of speech: the paragraph the latency target is
# set for.
PARAGRAPH = (
    "The morning train left the station a few minutes late. "
    "Most of the passengers were reading newspapers or looking out at the fields. "
    "A small boy near the window counted the cows as they passed. "
    "His mother had packed bread, cheese and two red apples for the journey. "
    "By noon the sky had cleared and the hills were bright with sunshine. "
    "When the train finally reached the coast, everyone hurried out to see the sea."
)
FIRST_CHUNK_TARGET = 0.35  # first chunk's seconds / the whole paragraph's, streamed
JOIN_TOLERANCE = 1e-3  # joined stream chunks against synthesize(), largest difference
THREAD_COUNTS = (1, 2)


def stream_latency(
    synth: Synthesizer, text: str, device: torch.device, repeats: int, warmup: int
) -> dict:
    """``synth.stream(text)`` against ``synth.synthesize(text)``: seconds to the first chunk and to
    the last, their ratio per round (median), and the largest difference between the joined
    chunks and synthesize()'s audio (the last round's outputs of each)."""
    load_start = load_average()
    firsts: list[float] = []
    outputs: dict[str, np.ndarray] = {}

    def stream() -> None:
        start = time.perf_counter()
        chunks = []
        for chunk in synth.stream(text):
            if not chunks:
                synchronize(device)
                firsts.append(time.perf_counter() - start)
            chunks.append(chunk)
        outputs["stream"] = np.concatenate(chunks)

    def synthesize() -> None:
        outputs["synthesize"] = synth.synthesize(text)[0]

    timings = time_interleaved(
        {"stream": stream, "synthesize": synthesize}, device, repeats, warmup
    )
    firsts = firsts[warmup:]  # warm-up rounds come first
    joined, whole = outputs["stream"], outputs["synthesize"]
    same_length = joined.shape == whole.shape
    return {
        "text": text,
        "sentences": len(synth.sentences(text)),
        "audio_seconds": len(whole) / synth.sample_rate,
        "first_chunk_seconds": median(firsts),
        "first_chunk_seconds_all": firsts,
        "first_chunk_ratio": median(
            [f / t for f, t in zip(firsts, timings["stream"].wall, strict=True)]
        ),
        "stream": summarize(timings["stream"]),
        "synthesize": summarize(timings["synthesize"]),
        "join_same_length": same_length,
        "join_max_abs_difference": float(np.abs(joined - whole).max()) if same_length else None,
        "load_average": [load_start, load_average()],
    }


def pipeline_rtf(
    synth: Synthesizer, text: str, device: torch.device, repeats: int, warmup: int
) -> dict:
    """``synth.synthesize_detailed(text)`` at each of THREAD_COUNTS torch threads: wall and CPU
    seconds, RTF, and the acoustic model's and the vocoder's shares (as Synthesis reports them)."""
    load_start = load_average()
    runs: dict[int, list[Synthesis]] = defaultdict(list)

    def run(threads: int) -> None:
        with torch_threads(threads):
            runs[threads].append(synth.synthesize_detailed(text))

    timings = time_interleaved(
        {n: (lambda n=n: run(n)) for n in THREAD_COUNTS}, device, repeats, warmup
    )
    audio_seconds = runs[THREAD_COUNTS[0]][-1].seconds
    rows = []
    for threads in THREAD_COUNTS:
        timed = runs[threads][warmup:]
        timing = summarize(timings[threads])
        acoustic = median([r.acoustic_seconds for r in timed])
        vocoder = median([r.vocoder_seconds for r in timed])
        rows.append(
            {
                "threads": threads,
                **timing,
                "rtf": timing["seconds"] / audio_seconds,
                "acoustic_seconds": acoustic,
                "vocoder_seconds": vocoder,
                "acoustic_rtf": acoustic / audio_seconds,
                "vocoder_rtf": vocoder / audio_seconds,
            }
        )
    return {
        "text": text,
        "audio_seconds": audio_seconds,
        "threads": rows,
        "load_average": [load_start, load_average()],
    }
