"""The end of an ``egs/`` pipeline: one table of every system's metrics and the time of each stage.

An experiment folder (``egs/*/run.sh --exp EXP``) holds ``eval/SYSTEM/summary.json`` from
``tts-ebm evaluate`` (systems are ``CRITERION-kSTEPS`` and ``vocoded``), ``timings.tsv``
(``stage<TAB>seconds<TAB>finished at``, one line per run of a stage, appended by the script),
``synth/SYSTEM/timing.json`` from ``tts-ebm synthesize --file`` and the training runs
``runs/CRITERION/``. A learning curve (``--budgets``) names its systems ``CRITERION@B-kK``: the
model of ``runs/CRITERION`` at B training steps, kept in ``runs/CRITERION@B`` with its
teacher-forced errors (``step_sizes.json``). This module reads them and writes ``summary.md``,
``summary.json`` and the figures ``comparison.png`` (and ``budgets.png``) beside them, so
results of different machines and settings can be compared without re-running anything.
"""

from __future__ import annotations

import csv
import json
import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

EVAL_DIR = "eval"
SYNTH_DIR = "synth"
# Written by `tts-ebm synthesize --file` beside the wavs: the seconds and knobs of a system.
TIMING_FILE = "timing.json"
RUNS_DIR = "runs"
TIMINGS = "timings.tsv"
FIGURE = "comparison.png"
STEP_SECONDS = "train/step_seconds"  # logged by tts_ebm.train.module
_SYSTEM_RE = re.compile(r"(?P<criterion>.+)-k(?P<steps>\d+)")
_BUDGET_RE = re.compile(r"(?P<criterion>.+)@(?P<budget>\d+)")
BUDGET_FIGURE = "budgets.png"
TUNED = "step_sizes.json"  # tts-ebm step-sizes: teacher-forced errors at every K
# The comparison figure's panels, in order, with their axis labels (those the results have).
HEADLINES = {
    "mcd_db": "MCD (dB)",
    "f0_rmse_cents": "log-F0 RMSE (cents)",
    "sphinx_wer": "WER (PocketSphinx)",
    "whisper_wer": "WER (Whisper)",
    "mos": "predicted MOS (DistillMOS)",
}
# The cost columns of the metrics table, with the note under it that says what they are.
COST_NOTES = {
    "acoustic_rtf": "seconds of the acoustic model per second of audio (synth/SYSTEM/timing.json)",
    "train_s_per_step": "median wall seconds from one training step's start to the next's "
    "(train/step_seconds in runs/CRITERION/csv), the same for every K of a criterion",
}
BENCHMARK_NOTE = (
    "seconds of the acoustic model per second of audio at K steps, all timed in one process "
    "by {file} (batch {batch}; flow: Euler steps of a decoder of the same size), the same for "
    "every EBM criterion"
)
FALLBACK_NOTE = (
    "the run logged no step times: its train-CRITERION seconds in timings.tsv over "
    "trainer.max_steps (start-up, validation and export included; the time before a resume "
    "is not in timings.tsv)"
)
# Per-metric statistics that are not the headline number: the table shows means.
_SKIPPED_LEAVES = {"std", "ci95", "ci95_low", "ci95_high", "n", "count"}
RECORDINGS = "recordings"
# Written by `tts-ebm benchmark synthesis --sections acoustic --checkpoint RUN --json FILE`:
# every K of the EBM and of a same-sized flow decoder timed one after another in one process,
# steadier than the synthesis runs' own timings, each taken under whatever load was there then.
BENCHMARK = "acoustic_benchmark.json"
FLOW = "flow"  # the criterion whose steps are Euler steps (egs/common/pipeline.sh)


@dataclass(frozen=True)
class SystemResult:
    name: str
    metrics: dict[str, float]
    count: int | None  # utterances evaluated, when the summary says


@dataclass(frozen=True)
class SynthesisTimes:
    """The acoustic RTF of each system, the column that shows them and what they are."""

    column: str
    note: str
    rtfs: dict[str, float]


@dataclass(frozen=True)
class TrainSpeed:
    """Seconds per training step of one criterion's run, and whether they were measured per
    step (the median of ``train/step_seconds``) or are the fallback of :func:`train_speed`."""

    seconds: float
    measured: bool


def system_steps(name: str) -> tuple[str, int] | None:
    """``(criterion, K)`` of a ``CRITERION-kK`` system; None for ``vocoded`` and ``recordings``."""
    match = _SYSTEM_RE.fullmatch(name)
    return (match["criterion"], int(match["steps"])) if match else None


def criterion_budget(criterion: str) -> tuple[str, int | None]:
    """``("delta", 1500)`` of a learning curve's ``delta@1500``; ``(criterion, None)`` else."""
    match = _BUDGET_RE.fullmatch(criterion)
    return (match["criterion"], int(match["budget"])) if match else (criterion, None)


def run_criterion(name: str) -> str | None:
    """The criterion whose training run made system ``name`` (``delta`` for ``delta-k1`` and
    for a learning curve's ``delta@1500-k1``); None for ``vocoded`` and ``recordings``."""
    parsed = system_steps(name)
    return criterion_budget(parsed[0])[0] if parsed else None


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
        metrics, reference, count = headline_metrics(_read_json(summary))
        name = summary.parent.name
        results.append(SystemResult(name, metrics, count))
        if reference and (recordings is None or name == "vocoded"):
            recordings = SystemResult(RECORDINGS, reference, count)
    results.sort(key=lambda r: _natural_key(r.name))
    return ([recordings] if recordings else []) + results


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    return data if isinstance(data, dict) else {}


def read_timing_lines(exp_dir: Path) -> list[tuple[str, float]]:
    """``(stage, seconds)`` of every line of ``timings.tsv``, in order."""
    path = exp_dir / TIMINGS
    lines = []
    if path.is_file():
        for line in path.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) >= 2:
                try:
                    lines.append((fields[0], float(fields[1])))
                except ValueError:
                    continue
    return lines


def acoustic_rtf(exp_dir: Path, system: str) -> float | None:
    """The acoustic model's real-time factor in ``synth/SYSTEM/timing.json``, when there."""
    path = exp_dir / SYNTH_DIR / system / TIMING_FILE
    value = _read_json(path).get("acoustic_rtf") if path.is_file() else None
    return float(value) if isinstance(value, int | float) else None


def benchmark_rtfs(exp_dir: Path, results: list[SystemResult]) -> tuple[dict[str, float], int]:
    """``(RTF of each C-kK system, batch size)`` from ``EXP/acoustic_benchmark.json`` at its
    largest batch: the EBM's row at K for every criterion but ``flow``, whose K are Euler
    steps (a pipeline's criteria share one model size, so one network's times stand for all)."""
    path = exp_dir / BENCHMARK
    rows = _read_json(path).get("acoustic", []) if path.is_file() else []
    fields = {"decoder", "steps", "batch_size", "rtf"}
    rows = [row for row in rows if isinstance(row, dict) and fields <= row.keys()]
    batch = max((row["batch_size"] for row in rows), default=0)
    timed = {(r["decoder"], r["steps"]): r["rtf"] for r in rows if r["batch_size"] == batch}
    rtfs = {}
    for result in results:
        if parsed := system_steps(result.name):
            key = ("euler" if run_criterion(result.name) == FLOW else "ebm", parsed[1])
            if key in timed:
                rtfs[result.name] = float(timed[key])
    return rtfs, batch


def synthesis_times(exp_dir: Path, results: list[SystemResult]) -> SynthesisTimes:
    """The benchmark's RTFs (``benchmark_rtf``) when the experiment has that file, else each
    synthesis run's own (``acoustic_rtf``)."""
    rtfs, batch = benchmark_rtfs(exp_dir, results)
    if rtfs:
        return SynthesisTimes(
            "benchmark_rtf", BENCHMARK_NOTE.format(file=BENCHMARK, batch=batch), rtfs
        )
    own = {r.name: rtf for r in results if (rtf := acoustic_rtf(exp_dir, r.name)) is not None}
    return SynthesisTimes("acoustic_rtf", COST_NOTES["acoustic_rtf"], own)


def median_step_seconds(run_dir: Path) -> float | None:
    """Median ``train/step_seconds`` over every ``csv/version_*/metrics.csv`` of a run (one
    per resumption, so a resumed run's speed is that of all its processes)."""
    values = []
    for table in sorted(run_dir.glob("csv/version_*/metrics.csv")):
        with table.open(newline="") as handle:
            values += [
                float(row[STEP_SECONDS]) for row in csv.DictReader(handle) if row.get(STEP_SECONDS)
            ]
    return statistics.median(values) if values else None


def configured_steps(run_dir: Path) -> int | None:
    """``trainer.max_steps`` of the run's ``config.yaml``."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        return None
    import yaml

    config = yaml.safe_load(path.read_text())
    steps = ((config or {}).get("trainer") or {}).get("max_steps")
    return steps if isinstance(steps, int) and steps > 0 else None


def train_speed(
    exp_dir: Path, criterion: str, timing_lines: list[tuple[str, float]]
) -> TrainSpeed | None:
    """Seconds per step of ``runs/CRITERION``: the median logged step time; for a run that
    logged none (trained before it was logged), the seconds of its ``train-CRITERION`` lines
    in ``timings.tsv`` over ``trainer.max_steps`` (a line is written only when the training
    command succeeds, by which time it has trained ``max_steps``)."""
    run_dir = exp_dir / RUNS_DIR / criterion
    measured = median_step_seconds(run_dir)
    if measured is not None:
        return TrainSpeed(measured, measured=True)
    seconds = [value for stage, value in timing_lines if stage == f"train-{criterion}"]
    steps = configured_steps(run_dir)
    return TrainSpeed(sum(seconds) / steps, measured=False) if seconds and steps else None


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


def training_speeds(
    exp_dir: Path, results: list[SystemResult], timing_lines: list[tuple[str, float]]
) -> dict[str, TrainSpeed]:
    """:func:`train_speed` of every criterion that has a system in ``results`` (a learning
    curve's ``CRITERION@B``: its one run's)."""
    criteria = dict.fromkeys(c for r in results if (c := run_criterion(r.name)))
    speeds = {c: train_speed(exp_dir, c, timing_lines) for c in criteria}
    return {c: speed for c, speed in speeds.items() if speed is not None}


def system_costs(
    name: str, times: SynthesisTimes, speeds: dict[str, TrainSpeed]
) -> dict[str, float]:
    """The acoustic RTF of a system and ``train_s_per_step`` of its criterion, when known."""
    costs = {times.column: times.rtfs[name]} if name in times.rtfs else {}
    criterion = run_criterion(name)
    if criterion in speeds:
        costs["train_s_per_step"] = speeds[criterion].seconds
    return costs


def _metrics_table(
    results: list[SystemResult], times: SynthesisTimes, speeds: dict[str, TrainSpeed]
) -> list[str]:
    """The metrics table's lines: quality columns, then costs, then what the costs are."""
    columns: list[str] = []
    for result in sorted(results, key=lambda r: r.name == RECORDINGS):  # systems first
        columns += [c for c in result.metrics if c not in columns]
    costs = {r.name: system_costs(r.name, times, speeds) for r in results}
    notes = {times.column: times.note, "train_s_per_step": COST_NOTES["train_s_per_step"]}
    cost_columns = [c for c in notes if any(c in row for row in costs.values())]
    estimated = {criterion for criterion, speed in speeds.items() if not speed.measured}
    rows = []
    for r in results:
        mark = "†" if run_criterion(r.name) in estimated else ""
        row = [r.name, "–" if r.count is None else str(r.count)]
        row += [_fmt(r.metrics.get(c)) for c in columns]
        row += [
            _fmt(costs[r.name].get(c)) + (mark if c == "train_s_per_step" else "")
            for c in cost_columns
        ]
        rows.append(row)
    lines = [markdown_table(["system", "n", *columns, *cost_columns], rows)]
    lines += [f"\n{c}: {notes[c]}" for c in cost_columns]
    if estimated:
        lines.append(f"\n† {FALLBACK_NOTE}")
    return lines


def comparison_curves(
    results: list[SystemResult], rtfs: dict[str, float]
) -> dict[str, dict[str, list[tuple[int, float | None, float]]]]:
    """``{metric: {criterion: [(K, acoustic RTF, value), ...]}}`` of the headline metrics.

    A criterion without a K = 0 system of its own (under a shared prior the pipeline makes μ
    once) starts at the experiment's one K = 0 system, when there is exactly one.
    """
    systems: dict[str, dict[int, SystemResult]] = {}
    for result in results:
        if parsed := system_steps(result.name):
            systems.setdefault(parsed[0], {})[parsed[1]] = result
    priors = [by_steps[0] for by_steps in systems.values() if 0 in by_steps]
    shared = {0: priors[0]} if len(priors) == 1 else {}
    curves: dict[str, dict[str, list[tuple[int, float | None, float]]]] = {}
    for metric in HEADLINES:
        for criterion, by_steps in systems.items():
            line = [
                (k, rtfs.get(r.name), r.metrics[metric])
                for k, r in sorted({**shared, **by_steps}.items())
                if metric in r.metrics
            ]
            if line:
                curves.setdefault(metric, {})[criterion] = line
    return curves


def budget_curves(
    results: list[SystemResult], speeds: dict[str, TrainSpeed]
) -> dict[str, dict[str, list[tuple[int, float | None, float]]]]:
    """``{metric: {"CRITERION-kK": [(B, training hours, value), ...]}}``: the headline metrics
    of a learning curve's ``CRITERION@B-kK`` systems against the budget B, the hours being
    B x the run's seconds per step (one thread). K = 0 (μ, the same at every budget under a
    frozen prior) is a reference, not a curve."""
    curves: dict[str, dict[str, list[tuple[int, float | None, float]]]] = {}
    for result in results:
        parsed = system_steps(result.name)
        criterion, budget = criterion_budget(parsed[0]) if parsed else ("", None)
        if budget is None or not parsed[1]:
            continue
        speed = speeds.get(criterion)
        hours = speed.seconds * budget / 3600 if speed else None
        for metric in HEADLINES:
            if metric in result.metrics:
                line = curves.setdefault(metric, {}).setdefault(f"{criterion}-k{parsed[1]}", [])
                line.append((budget, hours, result.metrics[metric]))
    for lines in curves.values():
        for line in lines.values():
            line.sort()
    return curves


def teacher_forced_table(exp_dir: Path) -> list[str]:
    """A row per ``runs/SYSTEM/step_sizes.json``: the teacher-forced validation error of μ and
    of each K at its best knob (η, or the flow's τ), the table the knobs were chosen on."""
    tables = {p.parent.name: _read_json(p) for p in sorted((exp_dir / RUNS_DIR).glob(f"*/{TUNED}"))}
    errors = {
        name: {0: t.get("prior"), **{int(k): v.get("mse") for k, v in t.get("best", {}).items()}}
        for name, t in tables.items()
    }
    columns = sorted({k for row in errors.values() for k in row})
    rows = [
        [name, *(_fmt(row.get(k)) for k in columns)]
        for name, row in sorted(errors.items(), key=lambda item: _natural_key(item[0]))
    ]
    header = ["system", *("μ" if k == 0 else f"K = {k}" for k in columns)]
    return [markdown_table(header, rows)] if rows else []


def steps_tables(
    curves: dict[str, dict[str, list[tuple[int, float | None, float]]]],
    row: str = "criterion",
    column: str = "K",
) -> list[str]:
    """One table per headline metric of :func:`comparison_curves`: a row per criterion, a
    column per step count K (0: the prior μ), so each criterion's best K reads along its row
    (and of :func:`budget_curves`: a column per budget)."""
    lines: list[str] = []
    for metric, by_criterion in curves.items():
        columns = sorted({k for line in by_criterion.values() for k, _, _ in line})
        rows = []
        for criterion, line in by_criterion.items():
            values = {k: value for k, _, value in line}
            rows.append([criterion, *(_fmt(values.get(k)) for k in columns)])
        header = [row, *(f"{column} = {k}" for k in columns)]
        lines += ["", f"{HEADLINES[metric]}:", "", markdown_table(header, rows)]
    return lines


def write_comparison(
    exp_dir: Path,
    results: list[SystemResult],
    curves: dict[str, dict[str, list[tuple[int, float | None, float]]]],
    figure: str = FIGURE,
) -> Path:
    """``EXP/comparison.png`` of :func:`comparison_curves` (see
    :func:`tts_ebm.plots.comparison_figure`), with the systems that have no K as references;
    ``EXP/budgets.png`` of :func:`budget_curves`, with μ (K = 0) among them."""
    from tts_ebm import plots

    references = {r.name: r.metrics for r in results if system_steps(r.name) is None}
    axes = plots.STEPS_AXES
    if figure == BUDGET_FIGURE:
        axes = ("training steps", "training hours (one thread)")
        priors = [r for r in results if (system_steps(r.name) or ("", 1))[1] == 0]
        references |= {"μ (K = 0)": priors[0].metrics} if priors else {}
    labels = {metric: HEADLINES[metric] for metric in curves}
    plots.save(plots.comparison_figure(curves, labels, references, axes), exp_dir / figure)
    return exp_dir / figure


def summarize(exp_dir: Path) -> str:
    """The summary text (also written to ``EXP/summary.md``; numbers to ``summary.json``,
    the comparison figure to ``comparison.png``)."""
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise FileNotFoundError(f"experiment folder not found: {exp_dir}")
    results = collect_results(exp_dir)
    timing_lines = read_timing_lines(exp_dir)
    timings = dict(timing_lines)  # each stage's latest run (a resumed one: the run that finished)
    times = synthesis_times(exp_dir, results)
    speeds = training_speeds(exp_dir, results, timing_lines)
    parts = [f"# Summary of {exp_dir}"]
    if results:
        parts += [
            "",
            "## Metrics (means over the test set)",
            "",
            *_metrics_table(results, times, speeds),
        ]
        if curves := comparison_curves(results, times.rtfs):
            write_comparison(exp_dir, results, curves)
            parts += ["", "## By steps", *steps_tables(curves)]
            parts += ["", f"Quality against steps and against acoustic RTF: {FIGURE}"]
        if budgets := budget_curves(results, speeds):
            write_comparison(exp_dir, results, budgets, BUDGET_FIGURE)
            parts += ["", "## By training budget", *steps_tables(budgets, "system", "steps")]
            parts += ["", f"Quality against training steps and hours: {BUDGET_FIGURE}"]
    else:
        parts += ["", f"no evaluation results yet ({exp_dir / EVAL_DIR}/*/summary.json)"]
    if tuned := teacher_forced_table(exp_dir):
        parts += ["", "## Teacher-forced validation error at the best knob per K", "", *tuned]
    if timings:
        rows = [[stage, _seconds(seconds)] for stage, seconds in timings.items()]
        # Numbered stages only: a stage's units (train-CRITERION, ...) are inside its time.
        stages = [seconds for stage, seconds in timings.items() if stage.split("-")[0].isdigit()]
        rows.append(["total", _seconds(sum(stages))])
        parts += ["", "## Time per stage (latest run)", "", markdown_table(["stage", "time"], rows)]
    text = "\n".join(parts) + "\n"
    (exp_dir / "summary.md").write_text(text)
    numbers = {
        "systems": {
            r.name: {"n": r.count, **r.metrics, **system_costs(r.name, times, speeds)}
            for r in results
        },
        "training": {
            c: {"seconds_per_step": speed.seconds, "measured": speed.measured}
            for c, speed in speeds.items()
        },
        "stage_seconds": timings,
    }
    (exp_dir / "summary.json").write_text(json.dumps(numbers, indent=2) + "\n")
    return text
