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


def to_rgb(figure) -> np.ndarray:
    """(H, W, 3) uint8 pixels; closes the figure."""
    figure.canvas.draw()
    image = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
    _pyplot().close(figure)
    return image


def save(figure, path: str | Path, dpi: int = 100) -> None:
    figure.savefig(path, dpi=dpi)
    _pyplot().close(figure)
