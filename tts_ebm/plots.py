"""Figures people look at: mels side by side, alignments, energy along refinement.

Matplotlib only (no Lightning, no models), so the CLI can plot without heavy imports. Each
function returns a Figure; :func:`to_rgb` and :func:`save` turn it into pixels or a file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def mel_figure(panels: dict[str, np.ndarray], title: str = ""):
    """Stacked log-mels on one colour scale, so what refinement changes is visible."""
    plt = _pyplot()
    values = np.concatenate([np.asarray(p).ravel() for p in panels.values()])
    vmin, vmax = np.percentile(values, [1, 99.5])
    figure, axes = plt.subplots(len(panels), 1, figsize=(10, 2.2 * len(panels)), squeeze=False)
    for axis, (name, mel) in zip(axes[:, 0], panels.items(), strict=True):
        image = axis.imshow(mel, origin="lower", aspect="auto", vmin=vmin, vmax=vmax)
        axis.set_title(name, fontsize=9)
        axis.set_ylabel("mel band")
        figure.colorbar(image, ax=axis, pad=0.01)
    axes[-1, 0].set_xlabel("frame")
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def alignment_figure(path: np.ndarray):
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 4))
    axis.imshow(path, origin="lower", aspect="auto", interpolation="none")
    axis.set_xlabel("frame")
    axis.set_ylabel("token")
    figure.tight_layout()
    return figure


def energy_figure(energies: np.ndarray):
    """Energy per refinement step, one line per utterance: it should go down."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5, 3.5))
    for k, line in enumerate(np.asarray(energies).T):
        axis.plot(np.arange(len(line)), line, marker="o", label=f"utt {k}")
    axis.set_xlabel("refinement step (from μ, predicted durations)")
    axis.xaxis.get_major_locator().set_params(integer=True)
    axis.set_ylabel("energy E(Y; μ)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


STEPS_AXES = ("steps K (0 = the prior μ)", "acoustic model RTF")


def comparison_figure(
    curves: dict[str, dict[str, list[tuple[int, float | None, float]]]],
    labels: dict[str, str],
    references: dict[str, dict[str, float]],
    axes_labels: tuple[str, str] = STEPS_AXES,
):
    """Systems side by side: one column per metric, quality against refinement steps K (top
    row; K = 0, the prior μ, at the left) and, when timed, against the acoustic model's
    real-time factor (bottom row), so a criterion's gain can be weighed against its cost.

    ``curves`` maps a metric to {line label: [(K, RTF or None, value), ...] in K order};
    ``references`` maps a name (``vocoded``, ...) to its metrics, drawn as horizontal lines.
    Any count against any cost draws the same way (``axes_labels``: learning curves give
    training steps and training hours).
    """
    plt = _pyplot()
    points = [p for lines in curves.values() for line in lines.values() for p in line]
    timed = any(rtf is not None for _, rtf, _ in points)
    steps = sorted({k for k, _, _ in points})
    rows, columns = 1 + timed, len(curves)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    for column, (metric, lines) in enumerate(curves.items()):
        for label, line in lines.items():
            (drawn,) = axes[0, column].plot(
                [k for k, _, _ in line], [v for _, _, v in line], marker="o", label=label
            )
            kept = [(rtf, v) for _, rtf, v in line if rtf is not None]
            if timed and kept:
                axes[1, column].plot(*zip(*kept, strict=True), marker="o", color=drawn.get_color())
        for axis in axes[:, column]:
            for (name, values), style in zip(references.items(), ("--", ":", "-."), strict=False):
                if metric in values:
                    axis.axhline(values[metric], color="grey", linestyle=style, label=name)
            axis.set_ylabel(labels[metric])
            axis.grid(alpha=0.3)
        axes[0, column].set_xscale("symlog", linthresh=1)
        axes[0, column].set_xticks(steps, [str(k) for k in steps])
        axes[0, column].set_xlabel(axes_labels[0])
        if timed:
            axes[1, column].set_xscale("log")
            axes[1, column].xaxis.set_minor_formatter(plt.NullFormatter())
            axes[1, column].set_xlabel(axes_labels[1])
    handles: dict = {}  # one legend for all panels: a reference may be missing from the first
    for axis in axes[0]:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    axes[0, 0].legend(handles.values(), handles.keys(), fontsize=8)
    figure.tight_layout()
    return figure


def to_rgb(figure) -> np.ndarray:
    """(H, W, 3) uint8 pixels; closes the figure."""
    figure.canvas.draw()
    image = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
    _pyplot().close(figure)
    return image


def save(figure, path: str | Path, dpi: int = 100) -> None:
    figure.savefig(path, dpi=dpi)
    _pyplot().close(figure)
