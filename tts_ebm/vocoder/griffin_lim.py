"""Griffin-Lim vocoder from the HiFi-GAN log-mel, in torch only.

A fallback needing no weights (and no librosa, which GPU machines lack): useful for checking
a pipeline end to end and as a lower bound in evaluations, not for listening tests.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tts_ebm.audio import MelConfig, mel_filterbank


class GriffinLim(nn.Module):
    """Natural-log mel (B, n_mels, T) → waveform (B, T · hop) in [-1, 1].

    The magnitude is recovered by non-negative least squares against the mel filterbank, the
    phase by fast Griffin-Lim (Perraudin et al. 2013: Griffin-Lim with momentum). Frames are
    laid out exactly as :class:`~tts_ebm.audio.MelSpectrogram` lays them out (reflect padding
    of (n_fft − hop)/2, ``center=False``), so T frames give exactly T · hop samples.
    """

    def __init__(
        self,
        mel_config: MelConfig | None = None,
        n_iter: int = 32,
        momentum: float = 0.99,
        nnls_iter: int = 50,
        seed: int = 0,
    ):
        super().__init__()
        mel_config = mel_config or MelConfig()
        if mel_config.win_length != mel_config.n_fft:
            raise ValueError("GriffinLim assumes win_length == n_fft, as in HiFi-GAN V1")
        self.mel_config = mel_config
        self.n_iter = n_iter
        self.momentum = momentum
        self.nnls_iter = nnls_iter
        self.seed = seed
        basis = mel_filterbank(mel_config, dtype=np.float64)
        self.register_buffer("basis", torch.from_numpy(basis).float(), persistent=False)
        self.register_buffer(
            "basis_pinv", torch.from_numpy(np.linalg.pinv(basis)).float(), persistent=False
        )
        self.register_buffer("window", torch.hann_window(mel_config.n_fft), persistent=False)

    def magnitude(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Linear magnitude (B, n_fft/2+1, T) ≥ 0 whose mel projection best matches the input.

        Starts from the clipped pseudo-inverse and refines with multiplicative updates, which
        keep the solution non-negative and never increase the squared error.
        """
        mel = log_mel.exp()
        mag = (self.basis_pinv @ mel).clamp(min=1e-6)
        numerator = self.basis.T @ mel
        for _ in range(self.nnls_iter):
            mag = mag * numerator / (self.basis.T @ (self.basis @ mag) + 1e-10)
        return mag

    def _stft(self, signal: torch.Tensor) -> torch.Tensor:
        cfg = self.mel_config
        return torch.stft(
            signal,
            cfg.n_fft,
            hop_length=cfg.hop_length,
            win_length=cfg.win_length,
            window=self.window,
            center=False,
            return_complex=True,
        )

    def _overlap_add(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, n_fft, T) frames → (B, (T − 1)·hop + n_fft) samples."""
        cfg = self.mel_config
        length = (frames.shape[-1] - 1) * cfg.hop_length + cfg.n_fft
        folded = F.fold(frames, (1, length), (1, cfg.n_fft), stride=(1, cfg.hop_length))
        return folded.flatten(1)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        cfg = self.mel_config
        n_frames = log_mel.shape[-1]
        mag = self.magnitude(log_mel.float())
        # Least-squares inverse STFT (weighted overlap-add), written out because torch.istft with
        # center=False rejects a Hann window: its envelope is zero at the first sample.
        envelope = self._overlap_add(self.window.pow(2)[None, :, None].expand(1, -1, n_frames))
        inverse_envelope = 1.0 / envelope.clamp(min=1e-8)

        def istft(spec: torch.Tensor) -> torch.Tensor:
            frames = torch.fft.irfft(spec, n=cfg.n_fft, dim=1) * self.window[:, None]
            return self._overlap_add(frames) * inverse_envelope

        generator = torch.Generator().manual_seed(self.seed)
        phase = torch.rand(mag.shape, generator=generator) * (2 * torch.pi)
        angles = torch.polar(torch.ones_like(phase), phase).to(mag.device)
        previous = torch.zeros_like(angles)
        for _ in range(self.n_iter):
            rebuilt = self._stft(istft(mag * angles))
            angles = rebuilt - previous * (self.momentum / (1 + self.momentum))
            angles = angles / (angles.abs() + 1e-16)
            previous = rebuilt
        signal = istft(mag * angles)
        pad = (cfg.n_fft - cfg.hop_length) // 2
        return signal[:, pad : pad + n_frames * cfg.hop_length].clamp(-1.0, 1.0)
