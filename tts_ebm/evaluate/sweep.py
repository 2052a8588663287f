"""Quality against the number of refinement steps K: synthesise at each K, evaluate, compare.

DESIGN.md asks to *measure* how refinement moves quality rather than assume it (one step was best
in the published delta/SSM models). Every K uses the same texts, seed and knobs, and the same
:class:`Evaluator`, so references are analysed once and only K changes between rows.
Layout: ``OUT/steps-K/ID.wav`` with that K's ``utterances.csv``/``summary.json``/plots, and
``OUT/sweep.csv``, ``OUT/sweep.json``, ``OUT/sweep.png`` across K.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

from tts_ebm.audio import save_wav
from tts_ebm.evaluate.pairs import EvaluationError, Pair, Pairing, list_wavs
from tts_ebm.evaluate.report import LABELS, write_report
from tts_ebm.evaluate.runner import Evaluator


def parse_steps(text: str) -> list[int]:
    """``"0,1,2,4"`` → [0, 1, 2, 4] (sorted, unique); negative or non-integer values are errors."""
    try:
        steps = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise EvaluationError(
            f"--sweep-steps wants comma-separated integers, got {text!r}"
        ) from None
    if not steps or steps[0] < 0:
        raise EvaluationError(f"--sweep-steps wants integers >= 0, got {text!r}")
    return steps


def sweep_pairing(texts: dict[str, str], references: Path, out_dir: Path) -> Pairing:
    """Ids with both a text and a reference; the wav paths point into ``OUT/steps-K`` later."""
    reference_wavs = list_wavs(references, "reference")
    common = sorted(texts.keys() & reference_wavs.keys())
    return Pairing(
        pairs=[Pair(i, out_dir / f"{i}.wav", reference_wavs[i], texts[i]) for i in common],
        synth_only=sorted(texts.keys() - reference_wavs.keys()),
        reference_only=sorted(reference_wavs.keys() - texts.keys()),
    )


def synthesize_pairs(synth, pairs: list[Pair], steps: int, knobs: dict, batch: int) -> None:
    """Speak every pair's text with K = ``steps`` into its ``synth`` path."""
    for start in range(0, len(pairs), batch):
        chunk = pairs[start : start + batch]
        outputs = synth.run([p.text for p in chunk], steps=steps, **knobs)
        for pair, result in zip(chunk, outputs, strict=True):
            save_wav(pair.synth, result.waveform, result.sample_rate)


def run_sweep(
    synth,
    evaluator: Evaluator,
    texts: dict[str, str],
    references: Path,
    out_dir: Path,
    steps: list[int],
    knobs: dict | None = None,
    progress: bool = True,
    report: Callable[[int, dict], None] | None = None,
) -> dict:
    """Synthesise and evaluate at each K; write the per-K reports and the sweep files.

    ``synth`` is a :class:`~tts_ebm.synthesis.Synthesizer`; ``knobs`` its other options (seed,
    step size, temperature, ...); ``report(K, summary)`` is called after each K (the CLI prints).
    """
    knobs = {k: v for k, v in (knobs or {}).items() if v is not None}
    batch = synth.options(**knobs).batch_size  # bad knobs fail before any work
    base = sweep_pairing(texts, references, out_dir)
    if not base.pairs:
        raise EvaluationError("no text id has a reference wav with the same id")
    summaries: dict[int, dict] = {}
    for k in steps:
        folder = out_dir / f"steps-{k}"
        pairs = [Pair(p.id, folder / f"{p.id}.wav", p.reference, p.text) for p in base.pairs]
        synthesize_pairs(synth, pairs, k, knobs, batch)
        pairing = Pairing(pairs, base.synth_only, base.reference_only)
        result = evaluator.evaluate(pairing, label=f"evaluate K={k}", progress=progress)
        summaries[k] = write_report(result, folder)
        if report is not None:
            report(k, summaries[k])
    return write_sweep(summaries, out_dir, knobs)


def write_sweep(summaries: dict[int, dict], out_dir: Path, knobs: dict) -> dict:
    """``sweep.csv`` (one row per K: mean, CI half-width and n of each metric, corpus rates),
    ``sweep.json`` (the per-K summaries) and ``sweep.png``."""
    from tts_ebm.evaluate.figures import sweep_figure
    from tts_ebm.plots import save

    steps = sorted(summaries)
    metrics = [m for m in LABELS if any(m in s["metrics"] for s in summaries.values())]
    corpus = sorted({c for s in summaries.values() for c in s["corpus"]})
    rows = []
    for k in steps:
        row: dict = {"steps": k, "utterances": summaries[k]["utterances"]}
        for m in metrics:
            entry = summaries[k]["metrics"].get(m) or {}
            row.update({f"{m}_mean": entry.get("mean"), f"{m}_ci95": entry.get("ci95")})
            row[f"{m}_n"] = entry.get("n")
        for c in corpus:
            rates = summaries[k]["corpus"].get(c) or {}
            row[f"{c}_corpus_wer"], row[f"{c}_corpus_cer"] = rates.get("wer"), rates.get("cer")
        rows.append(row)
    with (out_dir / "sweep.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    sweep = {"steps": steps, "knobs": knobs, "summaries": {str(k): summaries[k] for k in steps}}
    (out_dir / "sweep.json").write_text(json.dumps(sweep, indent=2) + "\n", encoding="utf-8")
    # Reference-side columns do not depend on K: they stay in the CSV, not in the figure.
    shown = [m for m in metrics if "_ref" not in m]
    panels = {m: (LABELS[m], [summaries[k]["metrics"].get(m) for k in steps]) for m in shown}
    if panels:
        save(sweep_figure(steps, panels), out_dir / "sweep.png")
    return sweep
