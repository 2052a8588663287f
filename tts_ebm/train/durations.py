"""Stored durations: export a trained model's MAS alignment, and check it before training on it.

Training from stored durations (``data.durations_dir``) fixes the alignment, so a new model (a
different criterion, a bigger energy network) need not learn MAS from scratch and runs can be
compared on the same alignment. Durations are only meaningful for the exact token sequence they
were computed on, so the export records the front end it tokenised with (``durations.json``)
and training refuses a folder made for another front end or other prepared data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from tts_ebm.checkpoint import InferenceCheckpoint, load_checkpoint
from tts_ebm.text import TextFrontend
from tts_ebm.train.data import PreparedDataset, collate, read_manifest

FORMAT = "tts-ebm-durations/1"
META_FILE = "durations.json"
SPLITS = ("train", "val")

# What must agree for ids to mean the same symbols; add_blank is the model's own choice.
_TOKEN_KEYS = ("kind", "language", "symbol_table")


def _plain(value: Any) -> Any:
    """JSON round trip: tuples and lists (config vs. file) compare equal."""
    return json.loads(json.dumps(value))


def _describe(key: str, value: Any) -> str:
    if key == "symbol_table" and isinstance(value, dict):
        return f"symbol table {value['name']} v{value['version']} ({len(value['symbols'])} symbols)"
    return f"{key}={value!r}"


def frontend_differences(
    ours: Mapping[str, Any], theirs: Mapping[str, Any], keys: Iterable[str]
) -> list[str]:
    """Readable ``ours vs theirs`` for every front-end key that differs."""
    ours, theirs = _plain(dict(ours)), _plain(dict(theirs))
    return [
        f"{_describe(key, ours.get(key))} vs {_describe(key, theirs.get(key))}"
        for key in keys
        if ours.get(key) != theirs.get(key)
    ]


def require_compatible(ckpt: InferenceCheckpoint, prepared_dir: Path) -> TextFrontend:
    """The checkpoint's own front end, if it can read the prepared folder's phoneme strings.

    Phoneme strings of an IPA-prepared folder mean nothing to a model trained on letters (and
    vice versa); a different mel definition would align features the model never saw.
    """
    meta_path = prepared_dir / "prepare.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{prepared_dir} is not a prepared folder (no prepare.json)")
    prepared = json.loads(meta_path.read_text())["cache_key"]
    differences = frontend_differences(ckpt.frontend, prepared["frontend"], _TOKEN_KEYS)
    if differences:
        raise ValueError(
            f"the checkpoint's text front end cannot read {prepared_dir} "
            f"(checkpoint vs. prepared data: {'; '.join(differences)}); use a checkpoint "
            f"trained on data prepared with the same --frontend, or prepare the corpus again"
        )
    if _plain(ckpt.mel.to_dict()) != _plain(prepared["mel"]):
        raise ValueError(
            f"the checkpoint's mel configuration differs from {prepared_dir}'s "
            f"({ckpt.mel.to_dict()} vs. {prepared['mel']})"
        )
    return TextFrontend.from_config(ckpt.frontend)


def _length_sorted_batches(dataset: PreparedDataset, batch_size: int) -> list[list[int]]:
    """Batches of similar length: little padding, so little wasted encoder work."""
    order = np.argsort(dataset.frame_counts, kind="stable").tolist()
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def export_durations(
    checkpoint: str | Path,
    prepared_dir: str | Path,
    out_dir: str | Path,
    splits: Sequence[str] = SPLITS,
    batch_size: int = 16,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Write ``OUT/ID.npy`` (int64 frames per token) for every utterance of ``splits``.

    The tokens are exactly those :class:`PreparedDataset` gives training with the checkpoint's
    front end (blanks included), the mels are normalised with the checkpoint's statistics, and
    the alignment is ``EBMTTS.align`` by MAS. ``durations.json`` is written last, so its
    presence means a complete export; it is returned. ``progress(done, total)`` per batch.
    """
    prepared_dir, out_dir = Path(prepared_dir), Path(out_dir)
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown or not splits:
        raise ValueError(f"unknown split(s) {unknown}: choose from {SPLITS}")
    if batch_size < 1:
        raise ValueError(f"batch size must be positive, got {batch_size}")
    ckpt = load_checkpoint(checkpoint, device)
    frontend = require_compatible(ckpt, prepared_dir)
    datasets = {s: PreparedDataset(prepared_dir, s, frontend.tokenizer, ckpt.stats) for s in splits}

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / META_FILE).unlink(missing_ok=True)
    total = sum(len(d) for d in datasets.values())
    done = n_tokens = n_frames = n_zero = 0
    if progress:
        progress(done, total)
    for dataset in datasets.values():
        batches = _length_sorted_batches(dataset, batch_size)
        for batch in DataLoader(dataset, batch_sampler=batches, collate_fn=collate):
            batch = batch.to(device)
            with torch.no_grad():
                aligned = ckpt.model.align(
                    batch.tokens, batch.token_lengths, batch.mel, batch.mel_lengths
                )
            durations = aligned.durations.cpu().numpy().astype(np.int64)
            for k, utt_id in enumerate(batch.ids):
                own = durations[k, : int(batch.token_lengths[k])]
                np.save(out_dir / f"{utt_id}.npy", own)
                n_tokens += len(own)
                n_frames += int(own.sum())
                n_zero += int((own == 0).sum())
            done += len(batch.ids)
            if progress:
                progress(done, total)

    meta = {
        "format": FORMAT,
        "checkpoint": str(checkpoint),
        "checkpoint_info": ckpt.info,
        "frontend": ckpt.frontend,
        "mel": ckpt.mel.to_dict(),
        "prepared_dir": str(prepared_dir),
        "splits": {s: len(d) for s, d in datasets.items()},
        "n_utterances": total,
        "n_tokens": n_tokens,
        "n_frames": n_frames,
        "n_zero_duration_tokens": n_zero,  # only when an utterance has fewer frames than tokens
    }
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return meta


def check_durations(
    durations_dir: str | Path,
    frontend_config: Mapping[str, Any],
    prepared_dir: str | Path,
    splits: Sequence[str] = SPLITS,
) -> dict:
    """Refuse, before training starts, stored durations that do not fit this run.

    ``frontend_config`` is the run's ``data.frontend_config``. Every utterance of ``splits``
    needs its file, one duration per token (as the run tokenises it) and the manifest's frame
    count in total; the first one that does not is named. Returns ``durations.json``.
    """
    durations_dir, prepared_dir = Path(durations_dir), Path(prepared_dir)
    meta_path = durations_dir / META_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{durations_dir} holds no {META_FILE}, so it is no complete durations export: run "
            f"`tts-ebm durations CHECKPOINT {prepared_dir} {durations_dir}`"
        )
    meta = json.loads(meta_path.read_text())
    differences = frontend_differences(
        meta["frontend"], frontend_config, ("add_blank", *_TOKEN_KEYS)
    )
    if differences:
        raise ValueError(
            f"durations in {durations_dir} were exported for another text front end than this "
            f"run's (durations vs. run: {'; '.join(differences)}); train with the exporting "
            f"model's front end (e.g. data.add_blank) or export durations with a matching model"
        )
    tokenizer = TextFrontend.from_config(frontend_config).tokenizer
    for split in splits:
        for row in read_manifest(prepared_dir, split):
            path = durations_dir / f"{row['id']}.npy"
            if not path.is_file():
                raise FileNotFoundError(
                    f"utterance {row['id']} ({split}) has no stored durations ({path}): "
                    f"export durations for splits {','.join(splits)} of {prepared_dir}"
                )
            durations = np.load(path)
            # The same call PreparedDataset makes, on the manifest alone: no mel is read here.
            n_tokens = len(tokenizer.encode(row["phonemes"]))
            n_frames = int(row["n_frames"])
            if (
                durations.ndim != 1
                or durations.dtype.kind not in "iu"
                or len(durations) != n_tokens
                or int(durations.sum()) != n_frames
                or bool((durations < 0).any())
            ):
                raise ValueError(
                    f"stored durations of utterance {row['id']} ({path}) do not fit the prepared "
                    f"data: {durations.shape} {durations.dtype} summing to {durations.sum()}, "
                    f"expected {n_tokens} non-negative integers summing to {n_frames} frames; "
                    "export them again"
                )
    return meta
