"""Training data from a prepared folder (``tts-ebm prepare``): dataset, batching, collation.

Batches are a pure function of (seed, batch index): a resumed run asks the sampler to start at
the batch it stopped at and sees exactly the batches the original run would have seen, with
no sampler state to save. Batches group utterances of similar length to waste little padding.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from tts_ebm.audio import MelStats
from tts_ebm.text import Tokenizer


@dataclass
class Batch:
    ids: list[str]
    tokens: torch.Tensor  # (B, L) long, 0-padded
    token_lengths: torch.Tensor  # (B,)
    mel: torch.Tensor  # (B, n_mels, T) normalised, 0-padded
    mel_lengths: torch.Tensor  # (B,)
    durations: torch.Tensor | None = None  # (B, L) stored durations, when training from them

    def to(self, device: torch.device | str) -> Batch:
        move = {
            k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in vars(self).items()
        }
        return Batch(**move)


def read_manifest(prepared_dir: str | Path, split: str) -> list[dict]:
    path = Path(prepared_dir) / f"{split}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: run `tts-ebm prepare CORPUS {prepared_dir}` first"
        )
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class PreparedDataset(Dataset):
    """Utterances of one split: token ids (blank-interspersed if asked) and normalised mels."""

    def __init__(
        self,
        prepared_dir: str | Path,
        split: str,
        tokenizer: Tokenizer,
        stats: MelStats,
        durations_dir: str | Path | None = None,
    ):
        self.root = Path(prepared_dir)
        self.rows = read_manifest(prepared_dir, split)
        self.tokenizer = tokenizer
        self.stats = stats
        self.durations_dir = Path(durations_dir) if durations_dir else None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def frame_counts(self) -> list[int]:
        return [int(r["n_frames"]) for r in self.rows]

    def __getitem__(self, index: int) -> dict:
        row = self.rows[index]
        tokens = self.tokenizer.encode(row["phonemes"])
        mel = torch.from_numpy(np.load(self.root / row["mel"])).float()
        item = {"id": row["id"], "tokens": torch.tensor(tokens), "mel": self.stats.normalize(mel)}
        if self.durations_dir is not None:
            durations = np.load(self.durations_dir / f"{row['id']}.npy")
            if len(durations) != len(tokens) or int(durations.sum()) != mel.shape[1]:
                raise ValueError(
                    f"stored durations of {row['id']} do not match its tokens/frames; "
                    "re-export them with the same front end"
                )
            item["durations"] = torch.from_numpy(durations).long()
        return item


def collate(items: list[dict]) -> Batch:
    token_lengths = torch.tensor([len(i["tokens"]) for i in items])
    mel_lengths = torch.tensor([i["mel"].shape[1] for i in items])
    n_mels = items[0]["mel"].shape[0]
    tokens = torch.zeros(len(items), int(token_lengths.max()), dtype=torch.long)
    mel = torch.zeros(len(items), n_mels, int(mel_lengths.max()))
    durations = None
    if "durations" in items[0]:
        durations = torch.zeros_like(tokens)
    for k, item in enumerate(items):
        tokens[k, : len(item["tokens"])] = item["tokens"]
        mel[k, :, : item["mel"].shape[1]] = item["mel"]
        if durations is not None:
            durations[k, : len(item["durations"])] = item["durations"]
    return Batch([i["id"] for i in items], tokens, token_lengths, mel, mel_lengths, durations)


class BucketBatchSampler(Sampler[list[int]]):
    """Endless length-bucketed batches; batch ``k`` depends only on (seed, k).

    Each pass ("epoch") shuffles indices, sorts them by length within windows of
    ``bucket_factor`` batches, cuts batches and shuffles the batches. Under DDP every rank takes
    every ``world_size``-th batch, so ranks never see the same batch. ``start`` skips batches
    already consumed (resume).
    """

    def __init__(
        self,
        lengths: list[int],
        batch_size: int,
        seed: int = 0,
        start: int = 0,
        rank: int = 0,
        world_size: int = 1,
        bucket_factor: int = 50,
    ):
        if not lengths:
            raise ValueError("the training split is empty")
        self.lengths = np.asarray(lengths)
        self.batch_size = min(batch_size, len(lengths))
        self.seed = seed
        self.start = start
        self.rank = rank
        self.world_size = world_size
        self.bucket_factor = bucket_factor

    def _pass(self, number: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, number])
        order = rng.permutation(len(self.lengths))
        window = self.batch_size * self.bucket_factor
        batches = []
        for begin in range(0, len(order), window):
            chunk = order[begin : begin + window]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [
                chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)
            ]
        batches = [b for b in batches if len(b) == self.batch_size] or batches
        return [batches[i] for i in rng.permutation(len(batches))]

    def __iter__(self) -> Iterator[list[int]]:
        global_index = self.start * self.world_size + self.rank
        # Every pass has the same number of batches: window sizes do not depend on the shuffle.
        number, offset = divmod(global_index, len(self._pass(0)))
        while True:
            batches = self._pass(number)
            while offset < len(batches):
                yield batches[offset].tolist()
                offset += self.world_size
            offset -= len(batches)
            number += 1
