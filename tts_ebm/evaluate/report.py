"""What an evaluation leaves behind: ``utterances.csv``, ``summary.json``, a table, plots.

The summary gives every per-utterance metric as mean ± 95% t-interval over the utterances that
have it, and the corpus-level WER/CER (total edits / total reference length), which is the
number to quote for intelligibility; the mean of per-utterance WERs over-weights short ones.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from tts_ebm.evaluate.runner import SIDES, EvaluationResult
from tts_ebm.evaluate.stats import mean_ci

# Per-utterance columns summarised as mean ± CI, with the label the table shows.
LABELS = {
    "mcd_db": "MCD (dB)",
    "f0_rmse_cents": "log-F0 RMSE (cents)",
    "vuv_error": "V/UV error",
    "mos_synth": "MOS (synthesised)",
    "mos_ref": "MOS (reference)",
}
for _recognizer in ("sphinx", "whisper"):
    for _side, _what in (("synth", "synthesised"), ("ref", "reference")):
        for _rate in ("wer", "cer"):
            LABELS[f"{_recognizer}_{_side}_{_rate}"] = f"{_rate.upper()} {_recognizer} ({_what})"


def summary_columns(rows: list[dict]) -> list[str]:
    """The summarised columns present in ``rows``, in table order."""
    present = {key for row in rows for key in row}
    return [column for column in LABELS if column in present]


def corpus_rates(rows: list[dict]) -> dict[str, dict]:
    """Corpus WER/CER per recogniser and side: total edits over total reference length."""
    out = {}
    present = {key for row in rows for key in row}
    for recognizer in ("sphinx", "whisper"):
        for side in SIDES:
            prefix = f"{recognizer}_{side}"
            if f"{prefix}_word_edits" not in present:
                continue
            scored = [row for row in rows if row.get(f"{prefix}_word_edits") is not None]
            words = sum(row["ref_words"] for row in scored)
            chars = sum(row["ref_chars"] for row in scored)
            word_edits = sum(row[f"{prefix}_word_edits"] for row in scored)
            char_edits = sum(row[f"{prefix}_char_edits"] for row in scored)
            out[prefix] = {
                "wer": word_edits / words if words else None,
                "cer": char_edits / chars if chars else None,
                "word_edits": word_edits,
                "words": words,
                "char_edits": char_edits,
                "chars": chars,
                "utterances": len(scored),
            }
    return out


def summarize(result: EvaluationResult) -> dict:
    """Everything ``summary.json`` holds (JSON-ready)."""
    rows = result.rows
    n = max(len(rows), 1)
    return {
        "utterances": len(rows),
        "pairs": len(result.pairing.pairs),
        "skipped": result.skipped,
        "unpaired": {
            "synthesised_only": result.pairing.synth_only,
            "reference_only": result.pairing.reference_only,
        },
        "missing_transcripts": result.missing_transcripts,
        "metrics": {
            c: mean_ci(row.get(c) for row in rows).to_dict() for c in summary_columns(rows)
        },
        "corpus": corpus_rates(rows),
        "seconds_per_utterance": {k: v / n for k, v in result.seconds.items()},
        "config": result.options.to_dict(),
    }


def write_csv(rows: list[dict], path: Path) -> None:
    """One row per utterance; the union of all rows' columns, first-seen order."""
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(v) for k, v in row.items()})


def _csv_value(value: object) -> object:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value


def write_report(result: EvaluationResult, out_dir: Path) -> dict:
    """``utterances.csv``, ``summary.json`` and the plots in ``out_dir``; returns the summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(result)
    write_csv(result.rows, out_dir / "utterances.csv")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    from tts_ebm.evaluate.figures import write_distribution_plots

    write_distribution_plots(result.rows, out_dir)
    return summary


def format_value(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def print_summary(summary: dict, title: str = "evaluation") -> None:
    """The summary as a rich table on stdout: metric, n, mean, 95% interval; then corpus rates."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{title}: {summary['utterances']} utterances")
    for name, justify in (("metric", "left"), ("n", "right"), ("mean", "right")):
        table.add_column(name, justify=justify)
    table.add_column("95% CI", justify="right")
    for column, stats in summary["metrics"].items():
        interval = (
            f"{format_value(stats['ci95_low'])} – {format_value(stats['ci95_high'])}"
            if stats["ci95"] is not None
            else "–"
        )
        table.add_row(LABELS[column], str(stats["n"]), format_value(stats["mean"]), interval)
    for prefix, rates in summary["corpus"].items():
        recognizer, side = prefix.split("_")
        what = "synthesised" if side == "synth" else "reference"
        words = f"{rates['word_edits']}/{rates['words']} words"
        table.add_row(
            f"corpus WER {recognizer} ({what})", words, format_value(rates["wer"]), "corpus-level"
        )
        table.add_row(
            f"corpus CER {recognizer} ({what})",
            f"{rates['char_edits']}/{rates['chars']} chars",
            format_value(rates["cer"]),
            "corpus-level",
        )
    Console(width=max(100, Console().width)).print(table)
