"""The acoustic model: text encoder + durations/alignment + energy network (or flow decoder).

Training aligns the encoder's per-token means to the reference mel (MAS, or stored durations)
to get the frame-level condition μ; inference expands μ with predicted durations. The energy
network E_θ(Y; μ) is trained by an objective (``tts_ebm.objectives``) and used by the sampler
(``tts_ebm.sampling``); this module only produces μ and the alignment losses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from tts_ebm.model.alignment import (
    beta_binomial_log_prior,
    duration_loss,
    durations_from_path,
    expand,
    gaussian_log_likelihood,
    maximum_path,
    path_from_durations,
    predict_durations,
    prior_loss,
)
from tts_ebm.model.encoder import EncoderConfig, EncoderOutput, TextEncoder
from tts_ebm.model.energy import EnergyConfig
from tts_ebm.model.flow import build_decoder
from tts_ebm.model.layers import sequence_mask


@dataclass
class AlignedPrior:
    """μ aligned to a reference mel, and the losses that train the encoder."""

    mu: torch.Tensor  # (B, n_mels, T)
    frame_mask: torch.Tensor  # (B, 1, T) float
    path: torch.Tensor  # (B, L, T) hard alignment
    durations: torch.Tensor  # (B, L) frames per token
    prior_loss: torch.Tensor
    duration_loss: torch.Tensor


@dataclass
class Prior:
    """μ expanded by predicted durations (inference)."""

    mu: torch.Tensor
    frame_mask: torch.Tensor
    durations: torch.Tensor
    path: torch.Tensor


class EBMTTS(torch.nn.Module):
    def __init__(self, encoder: EncoderConfig, energy: EnergyConfig):
        super().__init__()
        self.encoder_config = encoder
        self.energy_config = energy
        self.encoder = TextEncoder(encoder)
        # The energy network, or with form 'flow' the flow decoder (same trunk, same key).
        self.energy = build_decoder(energy)

    @classmethod
    def from_config(cls, config: dict) -> EBMTTS:
        """``{"encoder": {...}, "energy": {...}}`` as stored in checkpoints."""
        return cls(EncoderConfig(**config["encoder"]), EnergyConfig(**config["energy"]))

    def to_config(self) -> dict:
        return {"encoder": asdict(self.encoder_config), "energy": asdict(self.energy_config)}

    def align(
        self,
        tokens: torch.Tensor,
        token_lengths: torch.Tensor,
        mel: torch.Tensor,
        mel_lengths: torch.Tensor,
        durations: torch.Tensor | None = None,
        encoded: EncoderOutput | None = None,
        alignment_prior_weight: float = 0.0,
        alignment_prior_scaling: float = 1.0,
    ) -> AlignedPrior:
        """Align to the reference ``mel`` by MAS, or by stored ``durations`` when given;
        ``encoded``: the encoder's output for these tokens, when already known. A positive
        ``alignment_prior_weight`` adds that multiple of the beta-binomial alignment prior
        (:func:`beta_binomial_log_prior`, ``alignment_prior_scaling``) to MAS's log-likelihood:
        early training, when μ_x cannot tell tokens apart yet, then finds a near-diagonal path."""
        enc = self.encoder(tokens, token_lengths) if encoded is None else encoded
        frame_mask = sequence_mask(mel_lengths, mel.shape[-1]).unsqueeze(1).to(mel.dtype)
        if durations is None:
            with torch.no_grad():
                log_lik = gaussian_log_likelihood(enc.mu_x, mel)
                if alignment_prior_weight > 0:
                    log_lik += alignment_prior_weight * beta_binomial_log_prior(
                        token_lengths, mel_lengths, *log_lik.shape[1:], alignment_prior_scaling
                    )
                path = maximum_path(log_lik, enc.mask, frame_mask)
        else:
            path = path_from_durations(durations, frame_mask)
        mu = expand(enc.mu_x, path)
        frame_durations = durations_from_path(path)
        return AlignedPrior(
            mu=mu,
            frame_mask=frame_mask,
            path=path,
            durations=frame_durations,
            prior_loss=prior_loss(mel, mu, frame_mask),
            duration_loss=duration_loss(enc.log_durations, frame_durations, enc.mask),
        )

    @torch.no_grad()
    def prior(
        self, tokens: torch.Tensor, token_lengths: torch.Tensor, speaking_rate: float = 1.0
    ) -> Prior:
        """μ for new text: durations from the predictor, scaled by ``speaking_rate`` (>1 slower)."""
        enc = self.encoder(tokens, token_lengths)
        durations = predict_durations(enc.log_durations, enc.mask, speaking_rate)
        n_frames = durations.sum(dim=1)
        frame_mask = sequence_mask(n_frames, int(n_frames.max())).unsqueeze(1).to(enc.mu_x.dtype)
        path = path_from_durations(durations, frame_mask)
        return Prior(
            mu=expand(enc.mu_x, path), frame_mask=frame_mask, durations=durations, path=path
        )
