"""Score every pair of a corpus: prepare it if needed, score in length-sorted batches, resume.

``OUT/scores.jsonl`` receives each batch's scores as soon as they exist, keyed by the
checkpoint (weights and knobs) and the prepared features, so an interrupted run continues where
it stopped and a run with another checkpoint never reuses them. Only one batch of mels is in
memory at a time. At the end the corpus' scores are combined (:mod:`~tts_ebm.scoring.combine`)
and written worst first to ``OUT/scores.tsv``; ``OUT/unreadable.tsv`` lists what could not be
scored and why.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from tts_ebm.checkpoint import fingerprint, load_checkpoint
from tts_ebm.data.corpus import Skipped
from tts_ebm.interrupts import sigterm_as_interrupt
from tts_ebm.scoring.combine import Combination, stored
from tts_ebm.scoring.pairs import NAMES, energy_of, score_batch
from tts_ebm.synthesis import resolve_checkpoint
from tts_ebm.train.data import PreparedDataset, collate
from tts_ebm.train.durations import require_compatible

PARTIAL = "scores.jsonl"
TABLE = "scores.tsv"
UNREADABLE = "unreadable.tsv"
MAX_SECONDS = 60.0  # prepare's 20 s default would hide the clips run together that we look for
FRAMES_PER_SECOND = 22050 / 256


@dataclass
class ScoreRun:
    """What a scoring run found: ``rows`` worst first (id, split, text, audio, seconds,
    ``combined`` and every score), the entries it could not score, and its cost."""

    out_dir: Path
    checkpoint_key: str
    combination: Combination
    rows: list[dict] = field(default_factory=list)
    unreadable: list[Skipped] = field(default_factory=list)
    n_reused: int = 0
    scoring_seconds: float = 0.0
    interrupted: bool = False  # stopped by Ctrl-C/SIGTERM: the rows are what was scored so far

    @property
    def audio_hours(self) -> float:
        return sum(r["seconds"] for r in self.rows) / 3600


def checkpoint_key(ckpt) -> str:
    """Weights and stored knobs (the step size and speaking rate enter the scores)."""
    digest = hashlib.sha256(fingerprint(ckpt.model.state_dict()).encode())
    digest.update(json.dumps(ckpt.inference, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def prepared_folder(
    corpus: Path,
    out_dir: Path,
    frontend: str,
    jobs: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Path, list[Skipped]]:
    """``corpus`` itself when it is a prepared folder, else its preparation in ``OUT/prepared``
    (cached: a rerun recomputes nothing); with the entries preparation left out."""
    if (corpus / "prepare.json").is_file():
        skipped_tsv = corpus / "skipped.tsv"
        lines = skipped_tsv.read_text().splitlines() if skipped_tsv.is_file() else []
        return corpus, [Skipped(*line.split("\t", 1)) for line in lines if "\t" in line]
    from tts_ebm.data.prepare import PrepareOptions, prepare_corpus

    options = PrepareOptions(frontend=frontend, val_size=0, max_seconds=MAX_SECONDS, jobs=jobs)
    report = prepare_corpus(corpus, out_dir / "prepared", options, progress)
    return report.out_dir, report.skipped


def _row_signature(prepared: Path, row: dict) -> str:
    """What a stored score is valid for: the pair's phonemes and its feature file (prepare
    rewrites it when the audio changes), so a changed pair is scored again."""
    try:
        stat = (prepared / row["mel"]).stat()
        where = f"{stat.st_size}:{stat.st_mtime_ns}"
    except OSError:
        where = "missing"
    text = f"{row['phonemes']}|{row['n_frames']}|{where}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_partial(path: Path, key: str) -> dict[str, dict]:
    done = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
                if entry["key"] == key:
                    done[entry["id"]] = entry
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a torn last line of an interrupted run: that batch is scored again
    return done


def _bucketed(todo: list[tuple[PreparedDataset, int]], batch_size: int) -> list:
    """A seeded shuffle, sorted by length within windows of 64 batches: little padding, and a
    run stopped early has scored a sample of the whole corpus, not only its shortest pairs."""
    shuffled = [todo[i] for i in np.random.default_rng(0).permutation(len(todo))]
    window = 64 * batch_size
    ordered = []
    for begin in range(0, len(shuffled), window):
        chunk = shuffled[begin : begin + window]
        ordered += sorted(chunk, key=lambda item: int(item[0].rows[item[1]]["n_frames"]))
    return ordered


def _load(dataset: PreparedDataset, index: int) -> dict | str:
    """One utterance's tokens and mel, or why they cannot be scored."""
    try:
        item = dataset[index]
    except (OSError, ValueError, KeyError) as exc:
        return f"unreadable features ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
    mel = item["mel"]
    if mel.ndim != 2 or mel.shape[1] < 1 or not bool(torch.isfinite(mel).all()):
        return f"unusable features (shape {tuple(mel.shape)}, or not finite)"
    if len(item["tokens"]) < 1:
        return "no tokens"
    return item


def score_corpus(
    corpus: str | Path,
    checkpoint: str | Path | None,
    out_dir: str | Path,
    *,
    batch_size: int = 8,
    jobs: int = 0,
    splits: Sequence[str] = ("train", "val"),
    progress: Callable[[str, int, int], None] | None = None,
    notify: Callable[[str], None] | None = None,
    combination: Combination | None = None,
) -> ScoreRun:
    """Score every utterance of ``corpus`` (LJSpeech-format folder or prepared folder) with
    ``checkpoint`` (path, voice name, None for the default voice) into ``out_dir``.

    ``progress(stage, done, total)`` for preparation and scoring; ``notify`` gets one line per
    entry that cannot be scored. ``combination`` overrides the stored one (the study fits its
    own). Returns the rows worst first; ``OUT/scores.tsv`` holds the same. Ctrl-C or SIGTERM
    stops scoring, tabulates what was scored and sets ``interrupted``; a rerun continues."""
    if batch_size < 1:
        raise ValueError(f"batch size must be positive, got {batch_size}")
    corpus, out_dir = Path(corpus), Path(out_dir)
    if not corpus.exists():
        raise FileNotFoundError(f"corpus not found: {corpus}")
    ckpt = load_checkpoint(resolve_checkpoint(checkpoint))
    ckpt.model.eval()
    energy_of(ckpt.model)  # refuse a flow decoder before any work
    out_dir.mkdir(parents=True, exist_ok=True)
    prepared, unreadable = prepared_folder(
        corpus,
        out_dir,
        ckpt.frontend["kind"],
        jobs,
        (lambda done, total: progress("preparing", done, total)) if progress else None,
    )
    frontend = require_compatible(ckpt, prepared)
    features = json.loads((prepared / "prepare.json").read_text())["cache_key"]
    key = hashlib.sha256(
        (checkpoint_key(ckpt) + json.dumps(features, sort_keys=True)).encode()
    ).hexdigest()[:16]
    run = ScoreRun(out_dir, checkpoint_key(ckpt), combination or stored(checkpoint_key(ckpt)))
    run.unreadable = list(unreadable)
    step_size = float(ckpt.inference.get("step_size", 1.0))
    rate = float(ckpt.inference.get("speaking_rate", 1.0))

    partial_path = out_dir / PARTIAL
    datasets = [
        (split, PreparedDataset(prepared, split, frontend.tokenizer, ckpt.stats))
        for split in splits
        if (prepared / f"{split}.jsonl").is_file()
    ]
    signature = {r["id"]: _row_signature(prepared, r) for _, d in datasets for r in d.rows}
    done = {
        i: entry
        for i, entry in _read_partial(partial_path, key).items()
        if entry.get("row") == signature.get(i)
    }
    run.n_reused = len(done)
    todo = [
        (dataset, i)
        for _, dataset in datasets
        for i in range(len(dataset))
        if dataset.rows[i]["id"] not in done
    ]
    todo = _bucketed(todo, batch_size)
    total = sum(len(d) for _, d in datasets)
    count = total - len(todo)
    if progress:
        progress("scoring", count, total)
    start = time.perf_counter()
    try:
        with sigterm_as_interrupt(), partial_path.open("a") as partial:
            for begin in range(0, len(todo), batch_size):
                items = []
                for dataset, index in todo[begin : begin + batch_size]:
                    item = _load(dataset, index)
                    if isinstance(item, str):
                        run.unreadable.append(Skipped(dataset.rows[index]["id"], item))
                        if notify:
                            notify(f"skipped {dataset.rows[index]['id']}: {item}")
                    else:
                        items.append(item)
                if items:
                    batch = collate(items)
                    scored = score_batch(ckpt.model, batch, step_size, rate)
                    for utt_id, scores in zip(batch.ids, scored, strict=True):
                        entry = {"key": key, "id": utt_id, "row": signature[utt_id], **scores}
                        done[utt_id] = entry
                        partial.write(json.dumps(entry) + "\n")
                    partial.flush()
                count += len(todo[begin : begin + batch_size])
                if progress:
                    progress("scoring", count, total)
    except KeyboardInterrupt:
        run.interrupted = True  # what is scored so far is tabulated; a rerun continues
    run.scoring_seconds = time.perf_counter() - start

    for split, dataset in datasets:
        for row in dataset.rows:
            if row["id"] in done:
                scores = {name: done[row["id"]][name] for name in NAMES}
                run.rows.append(
                    {
                        "id": row["id"],
                        "split": split,
                        "seconds": int(row["n_frames"]) / FRAMES_PER_SECOND,
                        "text": row["text"],
                        "audio": row["audio"],
                        **scores,
                    }
                )
    (out_dir / UNREADABLE).write_text("".join(f"{s.id}\t{s.reason}\n" for s in run.unreadable))
    if not run.rows:
        raise ValueError(f"no utterance of {corpus} could be scored (see {out_dir / UNREADABLE})")
    combined = run.combination.apply({n: [r[n] for r in run.rows] for n in NAMES})
    for row, value in zip(run.rows, combined, strict=True):
        row["combined"] = float(value)
    run.rows.sort(key=lambda r: -r["combined"])
    write_table(run.rows, out_dir / TABLE)
    return run


def write_table(rows: list[dict], path: Path) -> None:
    """``scores.tsv``: rank, id, combined, every score, split, seconds, text; worst first."""
    columns = ["rank", "id", "combined", *NAMES, "split", "seconds", "text"]
    lines = ["\t".join(columns)]
    for rank, row in enumerate(rows, start=1):
        values = {**row, "rank": rank}
        lines.append(
            "\t".join(
                f"{values[c]:.4f}" if isinstance(values[c], float) else str(values[c])
                for c in columns
            )
        )
    path.write_text("\n".join(lines) + "\n")


def read_table(path: Path) -> list[dict]:
    """The rows of a ``scores.tsv``, numbers as floats."""
    header, *lines = path.read_text().splitlines()
    columns = header.split("\t")
    rows = []
    for line in lines:
        row = dict(zip(columns, line.split("\t", len(columns) - 1), strict=True))
        for name in ("combined", *NAMES, "seconds"):
            row[name] = float(row[name])
        rows.append(row)
    return rows


def drop_list(rows: list[dict], percent: float, voice: str) -> dict[str, str]:
    """The worst ``percent`` % of ``rows`` (worst first) as ``{id: reason}`` for skipped.tsv."""
    if not 0 <= percent <= 100:
        raise ValueError(f"--drop-worst must be a percentage in [0, 100], got {percent}")
    n = int(np.floor(len(rows) * percent / 100))
    return {
        r["id"]: f"screened out by {voice}: combined score {r['combined']:.2f}, "
        f"rank {rank} of {len(rows)} (worst {percent:g} %)"
        for rank, r in enumerate(rows[:n], start=1)
    }
