"""Results for people and for scripts: a terminal table, CSV files and a plot.

CSV keeps full precision (scripts recompute from ``ratings.csv``); the table rounds for reading.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from pathlib import Path

from tts_ebm.listening.analysis import Results


def _f(value: float, digits: int = 2) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _p(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.2e}" if value < 1e-3 else f"{value:.4f}"


def _table(header: list[str], rows: list[list[str]], text_columns: int = 1) -> list[str]:
    """Aligned columns: the first ``text_columns`` (names) left, numbers right."""
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i < text_columns else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_results(results: Results) -> str:
    """The summary as printed by ``tts-ebm listen results``."""
    manifest = results.manifest
    listeners = {r.listener for r in results.ratings}
    finished = sum(1 for x in results.listeners if x.finished_at)
    lines = [
        f"{manifest.kind.upper()} test: {len(manifest.systems)} systems, {len(manifest.items)} "
        f"utterances, {len(manifest.trials)} trials per listener",
        f"{len(listeners)} listeners ({finished} finished), {len(results.ratings)} ratings",
    ]
    if results.screening:
        excluded = [s for s in results.screening if s.excluded]
        verb = "excluded" if results.post_screening else "would be excluded (not applied)"
        lines.append(
            f"post-screening (hidden reference < 90 in > 15% of items): "
            f"{len(excluded)} of {len(results.screening)} listeners {verb}"
        )
        for s in excluded:
            lines.append(f"  {s.listener}: {s.reference_below}/{s.items} items ({s.fraction:.0%})")
    lines.append("")
    if results.kind == "ab":
        header = ["A", "B", "prefer A", "prefer B", "no pref.", "A share", "95% CI", "p", "p Holm"]
        rows = [
            [
                x.system_a,
                x.system_b,
                str(x.prefer_a),
                str(x.prefer_b),
                str(x.ties),
                _f(x.share_a * 100, 1) + "%" if not math.isnan(x.share_a) else "–",
                f"[{_f(x.ci_low * 100, 1)}, {_f(x.ci_high * 100, 1)}]",
                _p(x.p),
                _p(x.p_holm),
            ]
            for x in results.preferences
        ]
        lines += _table(header, rows, text_columns=2)
        lines.append("")
        lines.append(
            "A share: preferences for A among non-ties; p: two-sided exact binomial (sign) test "
            f"excluding ties; significant at α = {results.alpha} after Holm: "
            + (
                ", ".join(
                    f"{x.system_a} vs {x.system_b}"
                    for x in results.preferences
                    if x.p_holm < results.alpha
                )
                or "none"
            )
        )
        return "\n".join(lines)
    digits = 2 if results.kind == "mos" else 1
    header = ["system", "n", "listeners", "mean", "± 95% CI", "std"]
    rows = [
        [
            s.system,
            str(s.n),
            str(s.n_listeners),
            _f(s.mean, digits),
            _f(s.ci_half, digits),
            _f(s.std, digits),
        ]
        for s in results.scores
    ]
    lines += _table(header, rows)
    if results.pairs:
        lines.append("")
        header = ["A", "B", "test", "pairs", "mean A−B", "p", "p Holm", f"α={results.alpha}"]
        rows = [
            [
                t.system_a,
                t.system_b,
                t.test,
                str(t.n),
                _f(t.mean_difference, digits),
                _p(t.p),
                _p(t.p_holm),
                "significant" if t.p_holm < results.alpha else "n.s.",
            ]
            for t in results.pairs
        ]
        lines += _table(header, rows, text_columns=3)
    return "\n".join(lines)


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_csvs(results: Results, out_dir: Path) -> list[Path]:
    """ratings.csv (every stored rating), summary.csv, pairwise.csv (not A/B), listeners.csv."""
    out_dir.mkdir(parents=True, exist_ok=True)
    excluded = set(results.excluded)
    ratings = out_dir / "ratings.csv"
    _write_csv(
        ratings,
        [
            "listener",
            "trial",
            "stimulus",
            "system",
            "utterance",
            "position",
            "score",
            "submitted_at",
            "excluded",
        ],
        [
            [
                r.listener,
                r.trial,
                r.stimulus,
                r.system,
                r.utterance,
                r.position,
                r.score,
                r.submitted_at,
                int(r.listener in excluded),
            ]
            for r in results.ratings
        ],
    )
    summary = out_dir / "summary.csv"
    written = [ratings, summary]
    if results.kind == "ab":
        _write_csv(
            summary,
            [
                "system_a",
                "system_b",
                "prefer_a",
                "prefer_b",
                "no_preference",
                "share_a",
                "ci95_low",
                "ci95_high",
                "p_binomial",
                "p_holm",
                "significant",
            ],
            [
                [
                    x.system_a,
                    x.system_b,
                    x.prefer_a,
                    x.prefer_b,
                    x.ties,
                    x.share_a,
                    x.ci_low,
                    x.ci_high,
                    x.p,
                    x.p_holm,
                    int(x.p_holm < results.alpha),
                ]
                for x in results.preferences
            ],
        )
    else:
        _write_csv(
            summary,
            ["system", "n", "listeners", "mean", "std", "ci95_half", "ci95_low", "ci95_high"],
            [
                [s.system, s.n, s.n_listeners, s.mean, s.std, s.ci_half, s.ci_low, s.ci_high]
                for s in results.scores
            ],
        )
        pairwise = out_dir / "pairwise.csv"
        _write_csv(
            pairwise,
            [
                "system_a",
                "system_b",
                "test",
                "n",
                "statistic",
                "mean_difference",
                "p",
                "p_holm",
                "significant",
            ],
            [
                [
                    t.system_a,
                    t.system_b,
                    t.test,
                    t.n,
                    t.statistic,
                    t.mean_difference,
                    t.p,
                    t.p_holm,
                    int(t.p_holm < results.alpha),
                ]
                for t in results.pairs
            ],
        )
        written.append(pairwise)
    answered = Counter(r.listener for r in results.ratings)
    trials = Counter()
    for listener, _ in {(r.listener, r.trial) for r in results.ratings}:
        trials[listener] += 1
    screening = {s.listener: s for s in results.screening}
    listeners = out_dir / "listeners.csv"
    _write_csv(
        listeners,
        [
            "listener",
            "started_at",
            "finished_at",
            "trials",
            "ratings",
            "reference_below_90",
            "screened_items",
            "excluded",
        ],
        [
            [
                x.listener,
                x.started_at,
                x.finished_at or "",
                trials[x.listener],
                answered[x.listener],
                screening[x.listener].reference_below if x.listener in screening else "",
                screening[x.listener].items if x.listener in screening else "",
                int(x.listener in excluded),
            ]
            for x in results.listeners
        ],
    )
    written.append(listeners)
    return written


def plot(results: Results, path: Path) -> Path:
    """Means with 95 % intervals per system, or stacked preference bars per A/B pair."""
    from tts_ebm.plots import _pyplot, save

    plt = _pyplot()
    if results.kind == "ab":
        prefs = results.preferences
        figure, axis = plt.subplots(figsize=(8, 0.6 * len(prefs) + 1.5))
        labels = [f"{x.system_a} vs {x.system_b}" for x in prefs]
        totals = [max(x.prefer_a + x.prefer_b + x.ties, 1) for x in prefs]
        a = [100 * x.prefer_a / t for x, t in zip(prefs, totals, strict=True)]
        ties = [100 * x.ties / t for x, t in zip(prefs, totals, strict=True)]
        b = [100 * x.prefer_b / t for x, t in zip(prefs, totals, strict=True)]
        y = range(len(prefs))
        axis.barh(y, a, color="#4c72b0", label="prefer first")
        axis.barh(y, ties, left=a, color="#cccccc", label="no preference")
        axis.barh(
            y,
            b,
            left=[p + q for p, q in zip(a, ties, strict=True)],
            color="#dd8452",
            label="prefer second",
        )
        axis.set_yticks(list(y), labels)
        axis.set_xlim(0, 100)
        axis.set_xlabel("% of answers")
        axis.invert_yaxis()  # first pair on top, as in the table
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, fontsize=8)
        axis.set_title("A/B preferences")
    else:
        scores = results.scores
        figure, axis = plt.subplots(figsize=(max(4, 1.1 * len(scores) + 2), 4))
        x = range(len(scores))
        means = [s.mean for s in scores]
        errors = [0 if math.isnan(s.ci_half) else s.ci_half for s in scores]
        # Points, not bars: a bar from 0 suggests a ratio scale, and MOS starts at 1.
        axis.errorbar(x, means, yerr=errors, fmt="o", capsize=6, color="#4c72b0")
        axis.set_xticks(list(x), [s.system for s in scores], rotation=20)
        axis.set_xlim(-0.5, len(scores) - 0.5)
        low, high = results.manifest.scale
        margin = 0.05 * (high - low)
        axis.set_ylim(low - margin, high + margin)
        axis.set_ylabel("MOS" if results.kind == "mos" else "MUSHRA score")
        axis.set_title(f"{results.kind.upper()}: mean and 95% confidence interval")
        axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    save(figure, path)
    return path
