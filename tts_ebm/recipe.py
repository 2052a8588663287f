"""The end of an ``egs/`` pipeline: one table of every system's metrics and the time of each stage.

An experiment folder (``egs/*/run.sh --exp EXP``) holds ``eval/SYSTEM/summary.json`` from
``tts-ebm evaluate`` (systems are ``CRITERION-kSTEPS`` and ``vocoded``) and ``timings.tsv``
(``stage<TAB>seconds<TAB>finished at``, one line per run of a stage, appended by the script).
This module reads both and writes ``summary.md`` and ``summary.json`` beside them, so results of
different machines and settings can be compared without re-running anything.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

EVAL_DIR = "eval"
TIMINGS = "timings.tsv"
# Per-metric statistics that are not the headline number: the table shows means.
_SKIPPED_LEAVES = {"std", "ci95", "ci95_low", "ci95_high", "n", "count"}
RECORDINGS = "recordings"


@dataclass(frozen=True)
class SystemResult:
    name: str
    metrics: dict[str, float]
    count: int | None  # utterances evaluated, when the summary says


def _natural_key(name: str) -> list:
    """``delta-k10`` after ``delta-k4``; ``vocoded`` first, as the upper bound of systems."""
    parts = [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]
    return [name != "vocoded", *parts]


def headline_metrics(summary: dict) -> tuple[dict[str, float], dict[str, float], int | None]:
    """``(system metrics, recordings metrics, utterance count)`` of one ``summary.json``.

    ``tts-ebm evaluate`` writes means under ``metrics`` and corpus-level WER/CER (the number
    to quote) under ``corpus``; columns measured on both sides are split: ``mos_synth`` →
    ``mos`` of the system, ``mos_ref`` → ``mos`` of the recordings (the same for every system).
    Any other JSON falls back to its numeric leaves (a ``mean`` leaf standing for its parent).
    """
    if isinstance(summary.get("metrics"), dict):
        values = {
            name: stats.get("mean") if isinstance(stats, dict) else stats
            for name, stats in summary["metrics"].items()
        }
        for prefix, rates in (summary.get("corpus") or {}).items():
            for rate in ("wer", "cer"):
                if isinstance(rates, dict) and rates.get(rate) is not None:
                    values[f"{prefix}_{rate}"] = rates[rate]
        system: dict[str, float] = {}
        recordings: dict[str, float] = {}
        for name, value in values.items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            words = name.split("_")
            if "ref" in words:
                recordings["_".join(w for w in words if w != "ref")] = float(value)
            else:
                system["_".join(w for w in words if w != "synth")] = float(value)
        count = summary.get("utterances")
        return system, recordings, count if isinstance(count, int) else None
    flat: dict[str, float] = {}

    def walk(node: object, path: list[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, [*path, str(key)])
            return
        numeric = isinstance(node, int | float) and not isinstance(node, bool)
        if numeric and path and path[-1] not in _SKIPPED_LEAVES:
            key = ".".join(path[:-1] if path[-1] == "mean" and len(path) > 1 else path)
            flat[key] = float(node)

    walk(summary, [])
    return flat, {}, None


def collect_results(exp_dir: Path) -> list[SystemResult]:
    """Every ``EXP/eval/*/summary.json`` by name after a ``recordings`` row (the reference
    side's MOS and WER, as measured in the ``vocoded`` evaluation, else the first)."""
    results = []
    recordings: SystemResult | None = None
    for summary in sorted((exp_dir / EVAL_DIR).glob("*/summary.json")):
        try:
            data = json.loads(summary.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read {summary}: {exc}") from exc
        metrics, reference, count = headline_metrics(data if isinstance(data, dict) else {})
        name = summary.parent.name
        results.append(SystemResult(name, metrics, count))
        if reference and (recordings is None or name == "vocoded"):
            recordings = SystemResult(RECORDINGS, reference, count)
    results.sort(key=lambda r: _natural_key(r.name))
    return ([recordings] if recordings else []) + results


def read_timings(exp_dir: Path) -> dict[str, float]:
    """Seconds of each stage's latest run (a resumed stage shows the run that finished it)."""
    path = exp_dir / TIMINGS
    timings: dict[str, float] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) >= 2:
                try:
                    timings[fields[0]] = float(fields[1])
                except ValueError:
                    continue
    return timings


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.1f}"
    return f"{value:.3f}" if magnitude >= 0.01 or value == 0 else f"{value:.2e}"


def _seconds(value: float) -> str:
    if value < 120:
        return f"{value:.0f} s"
    return f"{value / 60:.1f} min" if value < 7200 else f"{value / 3600:.1f} h"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def summarize(exp_dir: Path) -> str:
    """The summary text (also written to ``EXP/summary.md``; numbers to ``summary.json``)."""
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise FileNotFoundError(f"experiment folder not found: {exp_dir}")
    results = collect_results(exp_dir)
    timings = read_timings(exp_dir)
    parts = [f"# Summary of {exp_dir}"]
    if results:
        columns: list[str] = []
        for result in sorted(results, key=lambda r: r.name == RECORDINGS):  # systems first
            columns += [c for c in result.metrics if c not in columns]
        header = ["system", "n", *columns]
        rows = [
            [r.name, "–" if r.count is None else str(r.count)]
            + [_fmt(r.metrics.get(c)) for c in columns]
            for r in results
        ]
        parts += ["", "## Metrics (means over the test set)", "", markdown_table(header, rows)]
    else:
        parts += ["", f"no evaluation results yet ({exp_dir / EVAL_DIR}/*/summary.json)"]
    if timings:
        rows = [[stage, _seconds(seconds)] for stage, seconds in timings.items()]
        rows.append(["total", _seconds(sum(timings.values()))])
        parts += ["", "## Time per stage (latest run)", "", markdown_table(["stage", "time"], rows)]
    text = "\n".join(parts) + "\n"
    (exp_dir / "summary.md").write_text(text)
    numbers = {
        "systems": {r.name: {"n": r.count, **r.metrics} for r in results},
        "stage_seconds": timings,
    }
    (exp_dir / "summary.json").write_text(json.dumps(numbers, indent=2) + "\n")
    return text
