"""A frozen prior's encoder output and alignment of each utterance, computed once per run.

Under ``model.freeze_encoder`` the encoder has fixed weights and runs in eval mode, so its output
for an utterance, and the MAS durations against that utterance's mel, are the same at every
step. Recomputing them was about half of a training step in the equal-budget comparison (the
transformer on whole utterances, the decoder on 128-frame windows). The cache keeps, per
utterance id, the token-level means μ_x, the predicted log-durations and the frame durations
(~0.1 MB per LJSpeech utterance), and rebuilds the aligned prior from them through the model's
own ``align``: the same μ and losses the encoder and MAS give.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tts_ebm.model.encoder import EncoderOutput
from tts_ebm.model.layers import sequence_mask
from tts_ebm.model.tts import EBMTTS, AlignedPrior
from tts_ebm.train.data import Batch


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
