"""``tts-ebm prepare``: corpus → cached mel features, phoneme ids, train/val lists, statistics.

Layout of the output folder (read by the training data module):

- ``mels/ID.npy``       float32 log-mel (80, T), HiFi-GAN V1 definition, not normalised
- ``train.jsonl``       one utterance per line: id, text, normalized, phonemes, ids, n_frames, mel
- ``val.jsonl``         the same for the validation split
- ``stats.json``        global mean/std of the training split's log-mel (:class:`MelStats`)
- ``skipped.tsv``       every unusable entry: id and reason
- ``prepare.json``      mel and front-end configuration, split settings
- ``cache.jsonl``       per-utterance cache (audio signature, frame statistics) for re-runs,
                        each entry keyed by the mel and front-end configuration
- ``prepare.lock``      held (``flock``) while a prepare writes here: a second one is refused

A bad entry is reported and skipped; good ones are never lost because of it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tts_ebm.audio import MelConfig, MelStats, MelStatsAccumulator
from tts_ebm.data.corpus import Skipped, Utterance, read_corpus, split_ids
from tts_ebm.files import write_atomic
from tts_ebm.text import TextFrontend

PREPARE_VERSION = 2  # 2: audio out of range or truncated is skipped; cache entries are keyed
LOCK_NAME = "prepare.lock"
CACHE_NAME = "cache.jsonl"


@dataclass(frozen=True)
class PrepareOptions:
    frontend: str = "ipa"
    val_size: int = 100
    seed: int = 0
    min_seconds: float = 0.3
    max_seconds: float = 20.0
    jobs: int = 0  # 0 = one per CPU core
    # (id, reason) pairs left out of the training split after the split is drawn, so the
    # validation split stays what it was (`tts-ebm prepare --screen`); listed in skipped.tsv.
    exclude: tuple[tuple[str, str], ...] = ()

    def worker_count(self) -> int:
        return self.jobs if self.jobs > 0 else max(1, os.cpu_count() or 1)


@dataclass
class PrepareReport:
    out_dir: Path
    n_train: int = 0
    n_val: int = 0
    n_reused: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    stats: MelStats | None = None


@dataclass(frozen=True)
class _AudioJob:
    id: str
    audio_path: str
    mel_path: str
    min_seconds: float
    max_seconds: float


def _audio_signature(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _compute_mel(job: _AudioJob) -> dict:
    """Runs in a worker process: returns frame statistics or an ``error`` reason."""
    import torch

    from tts_ebm.audio import AudioError, MelSpectrogram, load_audio

    torch.set_num_threads(1)
    try:
        wav = load_audio(job.audio_path)
    except AudioError as exc:
        reason = "missing audio file" if "not found" in str(exc) else f"unreadable audio ({exc})"
        return {"id": job.id, "error": reason}
    seconds = len(wav) / MelConfig().sample_rate
    if seconds < job.min_seconds:
        return {"id": job.id, "error": f"too short ({seconds:.2f} s < {job.min_seconds} s)"}
    if seconds > job.max_seconds:
        return {"id": job.id, "error": f"too long ({seconds:.2f} s > {job.max_seconds} s)"}
    if float(np.abs(wav).max()) < 1e-4:
        return {"id": job.id, "error": "silent audio"}
    with torch.no_grad():
        mel = MelSpectrogram()(torch.from_numpy(wav)).numpy().astype(np.float32)
    tmp = f"{job.mel_path}.tmp.npy"
    np.save(tmp, mel)
    os.replace(tmp, job.mel_path)
    values = mel.astype(np.float64)
    return {
        "id": job.id,
        "n_frames": int(mel.shape[1]),
        "sum": float(values.sum()),
        "sum_sq": float(np.square(values).sum()),
    }


def _cache_key(settings: dict) -> str:
    """Entries computed under other settings (another front end's symbol table, another mel)
    must never be reused, even when an interrupted run left no ``prepare.json``."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _load_cache(path: Path, key: str) -> dict[str, dict]:
    if not path.is_file():
        return {}
    cache = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
            if entry["key"] == key:
                cache[entry["id"]] = entry
        except (json.JSONDecodeError, KeyError, TypeError):
            continue  # a torn last line from an interrupted run: recompute that utterance
    return cache


@contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """Hold ``OUT/prepare.lock`` for the whole run: two prepares writing one folder would mix
    their lists, caches and temporary files. The lock goes with the process, even on kill -9."""
    import fcntl

    with (out_dir / LOCK_NAME).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OSError(
                f"another tts-ebm prepare is writing to {out_dir} (it holds {LOCK_NAME}); "
                "wait for it to finish or choose another output folder"
            ) from None
        yield


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _run_parallel(jobs: list[_AudioJob], workers: int) -> Iterator[dict]:
    if workers == 1 or len(jobs) < 8:
        yield from map(_compute_mel, jobs)
        return
    import multiprocessing

    # spawn: forking a process that already runs torch's thread pools can deadlock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield from pool.map(_compute_mel, jobs, chunksize=8)


def prepare_corpus(
    corpus: str | Path,
    out_dir: str | Path,
    options: PrepareOptions = PrepareOptions(),
    progress: Callable[[int, int], None] | None = None,
) -> PrepareReport:
    """Prepare ``corpus`` into ``out_dir``; ``progress(done, total)`` is called per utterance.

    Raises OSError at once when another prepare is writing to ``out_dir``.
    """
    corpus, out_dir = Path(corpus), Path(out_dir)
    utterances, skipped = read_corpus(corpus)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _locked(out_dir):
        return _prepare_locked(corpus, out_dir, utterances, skipped, options, progress)


def _prepare_locked(
    corpus: Path,
    out_dir: Path,
    utterances: list[Utterance],
    skipped: list[Skipped],
    options: PrepareOptions,
    progress: Callable[[int, int], None] | None,
) -> PrepareReport:
    (out_dir / "mels").mkdir(exist_ok=True)
    report = PrepareReport(out_dir=out_dir, skipped=list(skipped))

    frontend = TextFrontend(kind=options.frontend, add_blank=False)
    settings = {
        "version": PREPARE_VERSION,
        "mel": MelConfig().to_dict(),
        "frontend": frontend.to_config(),
        "min_seconds": options.min_seconds,
        "max_seconds": options.max_seconds,
    }
    key = _cache_key(settings)
    cache_path = out_dir / CACHE_NAME
    cache = _load_cache(cache_path, key)

    texts = _phonemize(utterances, frontend, cache, report)
    jobs, fresh = [], []
    for utt in utterances:
        if utt.id not in texts:
            continue
        entry = cache.get(utt.id)
        mel_path = out_dir / "mels" / f"{utt.id}.npy"
        signature = _audio_signature(utt.audio_path)
        if (
            entry
            and "n_frames" in entry
            and entry.get("audio_signature") == signature
            and mel_path.is_file()
        ):
            report.n_reused += 1
            continue
        cache.pop(utt.id, None)
        jobs.append(
            _AudioJob(
                utt.id, str(utt.audio_path), str(mel_path), options.min_seconds, options.max_seconds
            )
        )
        fresh.append(signature)

    done = len(texts) - len(jobs)
    total = len(texts)
    if progress:
        progress(done, total)
    signatures = {job.id: sig for job, sig in zip(jobs, fresh, strict=True)}
    with cache_path.open("a") as cache_file:
        for result in _run_parallel(jobs, options.worker_count()):
            done += 1
            if progress:
                progress(done, total)
            if "error" in result:
                report.skipped.append(Skipped(result["id"], result["error"]))
                continue
            entry = {
                **texts[result["id"]],
                **result,
                "audio_signature": signatures[result["id"]],
                "key": key,
            }
            cache[result["id"]] = entry
            cache_file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            cache_file.flush()

    usable = [u for u in utterances if u.id in cache and "n_frames" in cache[u.id]]
    if not usable:
        raise ValueError(
            f"no usable utterance in {corpus}: all {len(utterances) + len(skipped)} entries "
            "were skipped (see the reasons above)"
        )
    _write_outputs(out_dir, usable, cache, options, settings, report, corpus)
    return report


def _phonemize(
    utterances: list[Utterance], frontend: TextFrontend, cache: dict, report: PrepareReport
) -> dict[str, dict]:
    """Text → normalised text, phonemes and ids, batched; reuses cached results for same text."""
    texts: dict[str, dict] = {}
    todo = []
    for utt in utterances:
        entry = cache.get(utt.id)
        if entry and entry.get("text") == utt.text and "phonemes" in entry:
            texts[utt.id] = {k: entry[k] for k in ("text", "normalized", "phonemes", "ids")}
        else:
            todo.append(utt)
    outputs = frontend.process_many([u.text for u in todo], skip_empty=True)
    for utt, out in zip(todo, outputs, strict=True):
        if out is None or not out.ids:
            report.skipped.append(Skipped(utt.id, "transcript has nothing to pronounce"))
            continue
        texts[utt.id] = {
            "text": utt.text,
            "normalized": out.normalized,
            "phonemes": out.phonemes,
            "ids": out.ids,
        }
    return texts


def _write_outputs(
    out_dir: Path,
    usable: list[Utterance],
    cache: dict[str, dict],
    options: PrepareOptions,
    settings: dict,
    report: PrepareReport,
    corpus: Path,
) -> None:
    fixed_val = None
    val_list = corpus / "val_ids.txt" if corpus.is_dir() else None
    if val_list and val_list.is_file():
        fixed_val = val_list.read_text().split()
    train_ids, val_ids = split_ids(
        [u.id for u in usable], options.val_size, options.seed, fixed_val=fixed_val
    )
    excluded = dict(options.exclude)
    report.skipped += [Skipped(i, excluded[i]) for i in train_ids if i in excluded]
    train_ids = [i for i in train_ids if i not in excluded]
    rows = {
        u.id: {
            "id": u.id,
            **{k: cache[u.id][k] for k in ("text", "normalized", "phonemes", "ids", "n_frames")},
            "mel": f"mels/{u.id}.npy",
            "audio": str(u.audio_path),
        }
        for u in usable
    }
    report.stats = _statistics([cache[i] for i in train_ids or val_ids], settings["mel"]["n_mels"])
    _write_jsonl(out_dir / "train.jsonl", [rows[i] for i in train_ids])
    _write_jsonl(out_dir / "val.jsonl", [rows[i] for i in val_ids])
    _write_jsonl(out_dir / CACHE_NAME, [cache[u.id] for u in usable])
    report.stats.save(out_dir / "stats.json")

    (out_dir / "skipped.tsv").write_text("".join(f"{s.id}\t{s.reason}\n" for s in report.skipped))
    meta = {
        "cache_key": settings,
        "val_source": "val_ids.txt" if fixed_val is not None else f"seeded ({options.seed})",
        "n_train": len(train_ids),
        "n_val": len(val_ids),
        "n_skipped": len(report.skipped),
    }
    (out_dir / "prepare.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    report.n_train, report.n_val = len(train_ids), len(val_ids)


def _statistics(entries: list[dict], n_mels: int) -> MelStats:
    """Global mel statistics from cached sums; refused before anything is written unless finite
    (a model normalised by NaN statistics trains on nothing)."""
    stats = MelStatsAccumulator()
    for entry in entries:
        stats.add_sums(entry["sum"], entry["sum_sq"], entry["n_frames"] * n_mels)
    result = stats.result(n_mels)
    if not (math.isfinite(result.mean) and math.isfinite(result.std)):
        raise ValueError(
            f"mel statistics are not finite (mean {result.mean}, std {result.std}), so no lists "
            f"or stats.json were written; remove {CACHE_NAME} from the output folder to recompute"
        )
    return result
