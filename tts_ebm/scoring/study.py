"""The planted-defect study: how well each score, the combination, each voice, PocketSphinx WER
and a duration-ratio heuristic find known defects, and what each costs per hour of audio.

Everything lands in ``OUT`` and is reused by a rerun (planting, features, each voice's scores,
the recogniser's transcripts), so the study can be continued or re-tabulated cheaply. The
combination's figures are cross-validated (stratified folds, each fold's pairs scored by a
regression fitted on the others); the weights stored for use are the fit on all pairs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tts_ebm.plots import save
from tts_ebm.scoring import combine
from tts_ebm.scoring.metrics import per_kind
from tts_ebm.scoring.pairs import NAMES, SCORES
from tts_ebm.scoring.plant import CLEAN, plant_defects
from tts_ebm.scoring.report import study_figure
from tts_ebm.scoring.run import prepared_folder, score_corpus

BASELINES = ("sphinx_wer", "duration_ratio")


@dataclass(frozen=True)
class StudyOptions:
    voices: tuple[str, ...] = ("default", "v1", "nce", "sance", "cd", "ssm")
    per_kind: int = 12
    seed: int = 0
    other_voice: str = "kal_diphone"
    asr: bool = True
    store: bool = False
    folds: int = 5


def cross_validated(matrix: np.ndarray, positive: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Out-of-fold combined scores: stratified folds, a logistic regression fitted per fold."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(positive), dtype=int)
    for cls in (True, False):
        members = np.flatnonzero(positive == cls)
        fold[rng.permutation(members)] = np.arange(len(members)) % folds
    out = np.empty(len(positive))
    for k in range(folds):
        test = fold == k
        weights = combine.fit_logistic(matrix[~test], positive[~test])
        out[test] = matrix[test] @ weights[:-1]
    return out


def duration_ratio(seconds: np.ndarray, texts: list[str]) -> np.ndarray:
    """The practitioner's heuristic: |log| of seconds per transcript character over its median."""
    ratio = np.log(np.asarray(seconds) / np.array([max(1, len(t)) for t in texts]))
    return np.abs(ratio - np.median(ratio))


def sphinx_wer(rows: list[dict], cache: Path, notify: Callable[[str], None]) -> tuple[dict, float]:
    """PocketSphinx WER of each recording against its transcript (cached per id in ``cache``),
    and the seconds the recogniser took for the ids it had to transcribe."""
    from tts_ebm.audio import load_audio, resample
    from tts_ebm.evaluate.asr import ASR_RATE, PocketSphinx
    from tts_ebm.evaluate.wer import error_counts

    done = json.loads(cache.read_text()) if cache.is_file() else {}
    todo = [r for r in rows if r["id"] not in done]
    seconds = 0.0
    if todo:
        notify(f"PocketSphinx: transcribing {len(todo)} recordings")
        recognizer = PocketSphinx()
        start = time.perf_counter()
        for row in todo:
            wav = resample(load_audio(row["audio"]), 22050, ASR_RATE)
            done[row["id"]] = recognizer.transcribe(wav)
        seconds = time.perf_counter() - start
        cache.write_text(json.dumps(done, indent=1) + "\n")
    wer = {}
    for row in rows:
        counts = error_counts(row["text"], done[row["id"]])
        wer[row["id"]] = counts.word_edits / max(1, counts.words)
    return wer, seconds


def _metrics(values: np.ndarray, kinds: list[str], planted: list[str]) -> dict:
    table = {kind: per_kind(values, kinds, kind) for kind in planted}
    table["all"] = per_kind(values, kinds, None)
    return table


def run_study(
    corpus: str | Path,
    out_dir: str | Path,
    options: StudyOptions = StudyOptions(),
    notify: Callable[[str], None] = lambda line: None,
) -> dict:
    """Plant, score with every voice, measure; writes ``study.json``, ``study.md`` and
    ``study.png`` into ``out_dir`` and returns the json (with the markdown under ``markdown``)."""
    out_dir = Path(out_dir)
    labels = plant_defects(
        corpus,
        out_dir / "planted",
        per_kind=options.per_kind,
        seed=options.seed,
        other_voice=options.other_voice,
    )
    kind_of = {p.id: p.kind for p in labels}
    planted = [k for k in dict.fromkeys(p.kind for p in labels) if k != CLEAN]
    prepared, _ = prepared_folder(out_dir / "planted", out_dir, "ipa", jobs=1)
    result: dict = {"n_pairs": 0, "planted": {}, "voices": {}, "baselines": {}, "cost": {}}
    ids: list[str] = []
    for voice in options.voices:
        notify(f"scoring with {voice}")
        voice_dir = out_dir / "voices" / voice
        run = score_corpus(prepared, voice, voice_dir, combination=combine.UNFITTED)
        run.rows.sort(key=lambda r: r["id"])
        if not ids:
            ids = [r["id"] for r in run.rows]
            rows = run.rows
        if [r["id"] for r in run.rows] != ids:
            raise RuntimeError(f"{voice} scored other pairs than {options.voices[0]}")
        kinds = [kind_of[i] for i in ids]
        positive = np.array([k != CLEAN for k in kinds])
        matrix = combine.features({n: [r[n] for r in run.rows] for n in NAMES})
        entry = {s.name: _metrics(matrix[:, j], kinds, planted) for j, s in enumerate(SCORES)}
        entry["combined"] = _metrics(
            cross_validated(matrix, positive, options.folds, options.seed), kinds, planted
        )
        fit = combine.fitted(
            matrix,
            positive,
            f"logistic regression on {len(ids)} festival pairs with {int(positive.sum())} planted "
            f"defects ({', '.join(planted)}; tts-ebm score-study, docs/scoring.md)",
        )
        entry["weights"] = fit.weights
        if options.store:
            combine.store(run.checkpoint_key, fit, voice)
        result["voices"][voice] = entry
        cost_file = voice_dir / "cost.json"
        if run.n_reused == 0:
            cost_file.write_text(
                json.dumps({"seconds": run.scoring_seconds, "hours": run.audio_hours}) + "\n"
            )
        if cost_file.is_file():
            cost = json.loads(cost_file.read_text())
            result["cost"][voice] = cost["seconds"] / cost["hours"]
    kinds = [kind_of[i] for i in ids]
    result["n_pairs"] = len(ids)
    result["planted"] = {k: kinds.count(k) for k in planted}
    seconds = np.array([r["seconds"] for r in rows])
    start = time.perf_counter()
    heuristic = duration_ratio(seconds, [r["text"] for r in rows])
    result["cost"]["duration_ratio"] = (time.perf_counter() - start) / (seconds.sum() / 3600)
    result["baselines"]["duration_ratio"] = _metrics(heuristic, kinds, planted)
    if options.asr:
        wer, asr_seconds = sphinx_wer(rows, out_dir / "sphinx.json", notify)
        result["baselines"]["sphinx_wer"] = _metrics(
            np.array([wer[i] for i in ids]), kinds, planted
        )
        cost_file = out_dir / "sphinx-cost.json"
        if asr_seconds:
            cost_file.write_text(
                json.dumps({"seconds_per_hour": asr_seconds / (seconds.sum() / 3600)})
            )
        if cost_file.is_file():
            result["cost"]["sphinx_wer"] = json.loads(cost_file.read_text())["seconds_per_hour"]
    result["markdown"] = study_markdown(result, planted)
    (out_dir / "study.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "study.md").write_text(result["markdown"])
    save(study_figure(result, planted), out_dir / "study.png")
    return result


def _cells(table: dict, columns: list[str]) -> str:
    return " | ".join(f"{table[c][0]:.2f} / {table[c][1]:.2f}" for c in columns)


def study_markdown(result: dict, planted: list[str]) -> str:
    """The tables of docs/scoring.md: per score (first voice), per voice, cost."""
    columns = [*planted, "all"]
    counts = ", ".join(f"{k} {n}" for k, n in result["planted"].items())
    head = "| | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns) + "\n"
    voices = list(result["voices"])
    first = voices[0]
    lines = [
        f"{result['n_pairs']} pairs, planted: {counts}. Cells: ROC-AUC / precision at the "
        "planted rate (each kind against the clean pairs).\n",
        f"\n**Each score of voice `{first}`, and the practitioner's baselines**\n\n",
        head,
    ]
    entry = result["voices"][first]
    for name in [*NAMES, "combined"]:
        lines.append(f"| {name} | {_cells(entry[name], columns)} |\n")
    for name, table in result["baselines"].items():
        lines.append(f"| {name} | {_cells(table, columns)} |\n")
    for score in ("energy", "combined"):
        lines += [f"\n**Which criterion judges best: `{score}` per voice**\n\n", head]
        for voice in voices:
            lines.append(f"| {voice} | {_cells(result['voices'][voice][score], columns)} |\n")
    lines.append(
        "\n**Cost** (seconds per hour of audio, one thread)\n\n| method | s/h |\n|---|---|\n"
    )
    for name, value in result["cost"].items():
        lines.append(f"| {name} | {value:.1f} |\n")
    lines.append("\n**Combination weights** (on standardised, oriented scores)\n\n")
    lines.append("| voice | " + " | ".join(NAMES) + " |\n|---|" + "---|" * len(NAMES) + "\n")
    for voice in voices:
        weights = result["voices"][voice]["weights"]
        lines.append(f"| {voice} | " + " | ".join(f"{weights[n]:.2f}" for n in NAMES) + " |\n")
    return "".join(lines)
