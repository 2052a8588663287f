"""What a person looks at after scoring: the distribution with its flagged tail, and a page of
the worst pairs with their text and audio (copied beside the page, so it can be moved)."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import numpy as np

from tts_ebm.plots import _pyplot, save
from tts_ebm.scoring.pairs import SCORES

PLOT = "scores.png"
PAGE = "worst.html"


def flagged_count(n: int, percent: float) -> int:
    """How many of ``n`` pairs the worst ``percent`` % are (at least one when any are asked)."""
    return min(n, int(np.ceil(n * percent / 100))) if percent > 0 else 0


def distribution_figure(rows: list[dict], n_flagged: int):
    """The combined score and every raw score as histograms; the flagged tail in red."""
    plt = _pyplot()
    names = ["combined", *(s.name for s in SCORES)]
    figure, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    flagged = np.zeros(len(rows), dtype=bool)
    flagged[:n_flagged] = True  # rows are worst first
    for axis, name in zip(axes.ravel(), names, strict=True):
        values = np.array([r[name] for r in rows])
        bins = np.histogram_bin_edges(values, bins=min(60, max(10, len(values) // 5)))
        axis.hist(values[~flagged], bins=bins, color="tab:blue", label="kept")
        axis.hist(values[flagged], bins=bins, color="tab:red", label="flagged")
        axis.set_yscale("log")
        axis.set_title(name, fontsize=10)
    axes[0, 0].axvline(rows[n_flagged - 1]["combined"] if n_flagged else np.inf, color="k", lw=0.8)
    axes[0, 0].legend(fontsize=8)
    figure.suptitle(
        f"{len(rows)} pairs, worst {n_flagged} flagged (combined score, larger = more suspect)",
        fontsize=10,
    )
    figure.tight_layout()
    return figure


def write_plot(rows: list[dict], n_flagged: int, out_dir: Path) -> Path:
    path = out_dir / PLOT
    save(distribution_figure(rows, n_flagged), path)
    return path


def write_page(rows: list[dict], n_worst: int, out_dir: Path, title: str) -> Path:
    """``worst.html``: rank, id, scores, text and a player for each of the worst ``n_worst``."""
    audio_dir = out_dir / "audio"
    audio_dir.mkdir(exist_ok=True)
    names = ["combined", *(s.name for s in SCORES)]
    head = "".join(f"<th>{n}</th>" for n in ["rank", "id", *names, "seconds", "text", "audio"])
    body = []
    for rank, row in enumerate(rows[:n_worst], start=1):
        source = Path(row["audio"])
        player = "(audio missing)"
        if source.is_file():
            target = audio_dir / f"{row['id']}{source.suffix}"
            shutil.copyfile(source, target)
            player = (
                f'<audio controls preload="none" src="audio/{html.escape(target.name)}"></audio>'
            )
        cells = [str(rank), html.escape(row["id"])]
        cells += [f"{row[n]:.3f}" for n in names]
        cells += [f"{row['seconds']:.1f}", html.escape(row["text"]), player]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    legend = "".join(f"<li><b>{s.name}</b>: {html.escape(s.description)}</li>" for s in SCORES)
    page = f"""<!doctype html>
<meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font:14px sans-serif;margin:1em}}td,th{{border-bottom:1px solid #ddd;padding:3px 6px;
vertical-align:top}}table{{border-collapse:collapse}}td:nth-last-child(2){{max-width:40em}}</style>
<h1>{html.escape(title)}</h1>
<p>The {min(n_worst, len(rows))} pairs whose combined score is worst (all in scores.tsv).</p>
<ul>{legend}</ul>
<p><img src="{PLOT}" style="max-width:100%"></p>
<table><tr>{head}</tr>
{chr(10).join(body)}
</table>
"""
    path = out_dir / PAGE
    path.write_text(page, encoding="utf-8")
    return path


def study_figure(result: dict, planted: list[str]):
    """ROC-AUC per defect kind: each score of the first voice and the baselines (left), the
    energy and the combination of every voice (right)."""
    plt = _pyplot()
    columns = [*planted, "all"]
    first = next(iter(result["voices"]))
    left = {n: result["voices"][first][n] for n in ["combined", *(s.name for s in SCORES)]}
    left |= result["baselines"]
    right = {}
    for voice, entry in result["voices"].items():
        right[f"{voice} energy"] = entry["energy"]
        right[f"{voice} combined"] = entry["combined"]
    figure, axes = plt.subplots(1, 2, figsize=(14, 0.45 * max(len(left), len(right)) + 2))
    for axis, rows, title in (
        (axes[0], left, f"scores of voice {first} and baselines"),
        (axes[1], right, "per voice"),
    ):
        values = np.array([[rows[r][c][0] for c in columns] for r in rows])
        image = axis.imshow(values, vmin=0.5, vmax=1.0, cmap="viridis", aspect="auto")
        axis.set_xticks(range(len(columns)), columns, rotation=30, ha="right", fontsize=8)
        axis.set_yticks(range(len(rows)), list(rows), fontsize=8)
        for (i, j), value in np.ndenumerate(values):
            shade = "k" if value > 0.8 else "w"  # readable on viridis' yellow and its blue
            axis.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=shade)
        axis.set_title(f"ROC-AUC: {title}", fontsize=10)
    figure.colorbar(image, ax=axes, shrink=0.8)
    return figure
