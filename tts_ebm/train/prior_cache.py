"""A frozen prior's encoder output and alignment of each utterance, computed once per run.

Under ``model.freeze_encoder`` the encoder has fixed weights and runs in eval mode, so its output
for an utterance, and the MAS durations against that utterance's mel, are the same at every
step. Recomputing them was about half of a training step in the equal-budget comparison (the
transformer on whole utterances, the decoder on 128-frame windows). The cache keeps, per
utterance id, the token-level means μ_x, the predicted log-durations and the frame durations
(~0.1 MB per LJSpeech utterance), and rebuilds the aligned prior from them through the model's
own ``align``: the same μ and losses the encoder and MAS give.

Filling it is the first epoch's cost (~12 minutes of one CPU thread on 8,100 festival
utterances), paid again by every process: a resumed run, each budget of a learning curve, each
criterion trained on the same prior. :class:`SharedPriorCache` keeps it on disk beside the
prepared features, named by a fingerprint of everything the entries depend on, so only the
first run on a prior and a corpus pays.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import lightning as L
import torch
from torch import Tensor

from tts_ebm.files import replacing
from tts_ebm.model.encoder import EncoderOutput
from tts_ebm.model.layers import sequence_mask
from tts_ebm.model.tts import EBMTTS, AlignedPrior
from tts_ebm.train.data import Batch

# Bumped when what an entry holds, or how it is computed, changes: old files are then not read.
CACHE_VERSION = 1
CACHE_FOLDER = "prior_cache"  # inside the prepared folder


class FrozenPriorCache:
    """``align(batch)`` as ``EBMTTS.align`` would, encoding each utterance id only once."""

    def __init__(self, model: EBMTTS) -> None:
        self.model = model
        self._entries: dict[str, tuple[Tensor, Tensor, Tensor]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @torch.no_grad()
    def align(self, batch: Batch) -> AlignedPrior:
        missing = [row for row, key in enumerate(batch.ids) if key not in self._entries]
        if missing:
            self._encode(batch, missing)
        entries = [self._entries[key] for key in batch.ids]
        n_tokens = batch.tokens.shape[1]
        mu_x = batch.mel.new_zeros(len(entries), batch.mel.shape[1], n_tokens)
        log_durations = batch.mel.new_zeros(len(entries), n_tokens)
        durations = torch.zeros_like(batch.tokens)
        for row, (mu, log_duration, duration) in enumerate(entries):
            n = mu.shape[-1]
            mu_x[row, :, :n] = mu
            log_durations[row, :n], durations[row, :n] = log_duration, duration
        mask = sequence_mask(batch.token_lengths, n_tokens).unsqueeze(1).to(mu_x.dtype)
        encoded = EncoderOutput(mu_x=mu_x, log_durations=log_durations, mask=mask)
        return self.model.align(
            batch.tokens, batch.token_lengths, batch.mel, batch.mel_lengths, durations, encoded
        )

    def _encode(self, batch: Batch, rows: list[int]) -> None:
        """Encode and align the utterances at ``rows`` of ``batch`` and keep what they gave."""
        index = torch.tensor(rows, device=batch.tokens.device)
        tokens, lengths = batch.tokens[index], batch.token_lengths[index]
        encoded = self.model.encoder(tokens, lengths)
        stored = None if batch.durations is None else batch.durations[index]
        mel, mel_lengths = batch.mel[index], batch.mel_lengths[index]
        aligned = self.model.align(tokens, lengths, mel, mel_lengths, stored, encoded)
        for j, row in enumerate(rows):
            n = int(lengths[j])
            self._entries[batch.ids[row]] = (
                encoded.mu_x[j, :, :n].clone(),
                encoded.log_durations[j, :n].clone(),
                aligned.durations[j, :n].clone(),
            )

    def fingerprint(self, prepared_dir: Path, stats: dict) -> str:
        """What the entries depend on: the encoder's weights, the statistics the batches' mels
        are normalised with (MAS aligns μ to them) and the prepared lists (each id's tokens)."""
        digest = hashlib.sha256(f"prior-cache-v{CACHE_VERSION}".encode())
        for name, tensor in sorted(self.model.encoder.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        digest.update(json.dumps(stats, sort_keys=True).encode())
        for split in ("train.jsonl", "val.jsonl"):
            path = prepared_dir / split
            digest.update(path.read_bytes() if path.is_file() else b"")
        return digest.hexdigest()[:20]

    def save(self, path: Path) -> None:
        """Every entry, written atomically (a reader sees the old file or the whole new one)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as tmp:
            torch.save(self._entries, tmp)

    def load(self, path: Path) -> int:
        """Adds the entries of ``path`` (tensors only, read without unpickling code); returns
        how many there are."""
        entries = torch.load(path, map_location="cpu", weights_only=True)
        self._entries.update({key: tuple(value) for key, value in entries.items()})
        return len(entries)


class SharedPriorCache(L.Callback):
    """A frozen prior's cache read from ``PREPARED/prior_cache/FINGERPRINT.pt`` when a run
    starts and written back whenever it has grown at a checkpoint and when training ends. A
    folder that cannot be written is said once and training goes on without it."""

    def __init__(self, prepared_dir: str | Path) -> None:
        self.prepared_dir = Path(prepared_dir)
        self.path: Path | None = None
        self.saved = 0

    def on_fit_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        cache: FrozenPriorCache = module.prior_cache
        name = cache.fingerprint(self.prepared_dir, module.stats.to_dict())
        self.path = self.prepared_dir / CACHE_FOLDER / f"{name}.pt"
        if self.path.is_file():
            try:
                self.saved = cache.load(self.path)
                print(f"prior cache: {self.saved} utterances from {self.path}")
            except (OSError, RuntimeError, EOFError, AttributeError) as exc:
                print(f"prior cache: {self.path} unreadable ({exc}); encoding afresh")

    def _save_if_grown(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        cache: FrozenPriorCache = module.prior_cache
        if self.path is None or len(cache) <= self.saved or not trainer.is_global_zero:
            return
        try:
            cache.save(self.path)
            self.saved = len(cache)
        except OSError as exc:
            print(f"prior cache: not kept ({exc}); each run encodes the corpus again")
            self.path = None

    def on_save_checkpoint(self, trainer: L.Trainer, module: L.LightningModule, _: dict) -> None:
        self._save_if_grown(trainer, module)

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._save_if_grown(trainer, module)
