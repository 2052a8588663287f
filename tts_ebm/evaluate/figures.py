"""Plots of an evaluation (matplotlib, Agg): distributions per utterance, metrics against steps.

A mean hides the few broken utterances that listeners notice; a histogram with a box plot shows
them. For MOS the synthesised and reference distributions share one axis, so the gap is visible.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tts_ebm.plots import _pyplot, save

# file name → (x-axis label, {legend label: column}); a plot is made when a column has values.
DISTRIBUTIONS = {
    "mcd.png": ("MCD (dB)", {"synthesised vs reference": "mcd_db"}),
    "f0.png": ("log-F0 RMSE (cents)", {"synthesised vs reference": "f0_rmse_cents"}),
    "mos.png": ("predicted MOS (DistillMOS)", {"synthesised": "mos_synth", "reference": "mos_ref"}),
    "wer.png": (
        "WER (PocketSphinx), per utterance",
        {"synthesised": "sphinx_synth_wer", "reference": "sphinx_ref_wer"},
    ),
}


def finite(values: list) -> np.ndarray:
    """The finite numbers among ``values`` (None and NaN dropped)."""
    kept = [v for v in values if v is not None and math.isfinite(v)]
    return np.asarray(kept, dtype=np.float64)


def distribution_figure(series: dict[str, np.ndarray], xlabel: str):
    """Histogram (left) and box plot (right) of one metric, one colour per series."""
    plt = _pyplot()
    figure, (hist, box) = plt.subplots(1, 2, figsize=(10, 3.6), width_ratios=(2, 1))
    values = np.concatenate(list(series.values()))
    bins = np.histogram_bin_edges(values, bins=min(30, max(5, len(values) // 2)))
    for label, data in series.items():
        hist.hist(data, bins=bins, alpha=0.6, label=f"{label} (n={len(data)})")
    hist.set_xlabel(xlabel)
    hist.set_ylabel("utterances")
    hist.legend(fontsize=8)
    box.boxplot(list(series.values()), vert=False, showmeans=True)
    box.set_yticks(range(1, len(series) + 1), list(series), fontsize=8)
    box.set_xlabel(xlabel)
    figure.tight_layout()
    return figure


def write_distribution_plots(rows: list[dict], out_dir: Path) -> list[Path]:
    """One PNG per metric that has values (see :data:`DISTRIBUTIONS`); returns the paths."""
    written = []
    for name, (xlabel, columns) in DISTRIBUTIONS.items():
        series = {label: finite([row.get(c) for row in rows]) for label, c in columns.items()}
        series = {label: data for label, data in series.items() if len(data)}
        if series:
            save(distribution_figure(series, xlabel), out_dir / name)
            written.append(out_dir / name)
    return written


def sweep_figure(steps: list[int], metrics: dict[str, tuple[str, list[dict | None]]]):
    """One panel per metric: mean with its 95% interval against the number of steps.

    ``metrics`` maps a column to (label, one summary entry per step count, as in
    ``summary.json``'s ``metrics``; None where the metric is missing at that count).
    """
    plt = _pyplot()
    n = max(len(metrics), 1)
    columns = min(n, 3)
    rows = math.ceil(n / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for axis in axes.ravel()[len(metrics) :]:
        axis.set_visible(False)
    for axis, (label, entries) in zip(axes.ravel(), metrics.values(), strict=False):
        x = [k for k, e in zip(steps, entries, strict=True) if e and e["mean"] is not None]
        kept = [e for e in entries if e and e["mean"] is not None]
        means = np.array([e["mean"] for e in kept])
        half = np.array([e["ci95"] if e["ci95"] is not None else 0.0 for e in kept])
        axis.errorbar(x, means, yerr=half, marker="o", capsize=4)
        axis.set_xscale("symlog", linthresh=1)
        axis.set_xticks(steps, [str(k) for k in steps])
        axis.set_xlabel("refinement steps K")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    figure.suptitle("mean ± 95% CI against refinement steps", fontsize=10)
    figure.tight_layout()
    return figure
