"""The energy network E_θ(Y; μ): one scalar per utterance whose negative Y-gradient is the score.

The model density is p(Y | text) ∝ exp(−E_θ(Y; μ)); training criteria and the sampler see it only
through :class:`EnergyModel` (``energy`` and ``score``), so analytic test energies and frozen
snapshots plug in wherever the network does.

The network is the shared 1-D U-Net trunk (:mod:`tts_ebm.model.unet`) over [Y; μ] without a time
input (an energy is time-free) and an energy head: a scalar energy per frame, masked and summed
over frames. The trunk is twice differentiable (training differentiates the score) and padding
invariant.

Cost, measured on the 2-core CPU (default size, float32, batch 16 × 400 frames, 2 threads):
forward 0.34 s; score (forward + input gradient) 0.64 s ≈ 1.9 forwards; a delta training step
(score with ``create_graph`` + loss backward) 2.7 s ≈ 8 forwards, ~2.7 GB peak memory. Score-based
criteria therefore cost 2.5–3× a flow-matching step (forward + backward ≈ 3 forwards) of the same
network.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from tts_ebm.model.unet import UNet1d


@runtime_checkable
class EnergyModel(Protocol):
    """What objectives and the sampler need from an energy: y, mu (B, n_mels, T), mask (B, 1, T)."""

    def energy(self, y: Tensor, mu: Tensor, mask: Tensor) -> Tensor:
        """E(Y; μ) per utterance, shape (B,)."""
        ...

    def score(self, y: Tensor, mu: Tensor, mask: Tensor, create_graph: bool = False) -> Tensor:
        """−∇_Y E, shape (B, n_mels, T), zero on padded frames."""
        ...


class EnergyModule(nn.Module, ABC):
    """Base for energies defined by a per-frame energy; supplies ``energy`` and ``score``."""

    @abstractmethod
    def frame_energy(self, y: Tensor, mu: Tensor, mask: Tensor) -> Tensor:
        """Per-frame energy (B, T), zero on padded frames."""

    def energy(self, y: Tensor, mu: Tensor, mask: Tensor) -> Tensor:
        """E(Y; μ) per utterance, shape (B,): the frame energies summed over valid frames."""
        return self.frame_energy(y, mu, mask).sum(dim=-1)

    def forward(self, y: Tensor, mu: Tensor, mask: Tensor) -> Tensor:
        return self.energy(y, mu, mask)

    def score(self, y: Tensor, mu: Tensor, mask: Tensor, create_graph: bool = False) -> Tensor:
        """s = −∇_Y E(Y; μ), masked, (B, n_mels, T).

        Works under ``torch.no_grad()`` and ``torch.inference_mode()`` (the sampler runs there) and
        whether or not ``y`` requires grad: a ``y`` that does keeps its graph, so a caller can
        differentiate through a sampling step. ``create_graph=True`` makes the score
        differentiable with respect to the parameters (training); otherwise it is detached.
        Utterances are independent (per-utterance energies, per-utterance normalisation), so the
        gradient of the summed energy is each utterance's own gradient.
        """
        with torch.inference_mode(False), torch.enable_grad():
            # Inference tensors cannot be saved for backward; normal copies can.
            y, mu, mask = (t.clone() if t.is_inference() else t for t in (y, mu, mask))
            if not y.requires_grad:
                y = y.detach().requires_grad_(True)
            energy = self.energy(y, mu, mask)
            (grad,) = torch.autograd.grad(energy.sum(), y, create_graph=create_graph)
        return -grad * mask


FORMS = ("scalar", "quadratic", "flow")


@dataclass
class EnergyConfig:
    """Size and head of the decoder U-Net; built from plain dicts (``EnergyConfig(**d)``).

    The default (channels (384, 384), 2 residual blocks per level, kernel 3) has 11.2 M
    parameters, the size of Matcha-TTS's decoder. ``EnergyConfig.tiny()`` — channels (32, 64),
    1 block, 8 groups, 150 k parameters at 80 mels — trains in milliseconds per step on a CPU,
    for tests and toy corpora.

    ``anchor_beta`` β adds ½β‖Y − μ‖² per frame: a quadratic well around the text condition that
    keeps the density normalisable and gives the score a sensible direction (towards μ) before
    training has shaped it. 0 disables it.

    ``form`` says what the U-Net's output is:

    * ``"scalar"``: one channel, the frame energy itself.
    * ``"quadratic"``: n_mels channels, a residual R_θ(Y; μ), and the frame energy is
      ½κ‖Y − μ − R‖² with κ = ``curvature`` (Salimans & Ho 2021, "Should EBMs model the energy or
      the score?"). Its Hessian is ≈ κ(I − J_R), full rank from the first step, so the score
      κ(I − J_R)ᵀ(μ + R − Y) is a denoiser and one step of size 1/κ lands near μ + R: learning it
      is a regression of R onto (clean Y) − μ. A scalar head's Hessian has to be built out of its
      hidden units' curvature, which score matching learns slowly (on the toy corpus SSM's loss
      reached a seventh of its optimum in 400 steps). Choose κ = 1/η for the inference step η
      (for SSM with data noise σ: η = σ², κ = 1/σ²). R starts at zero, so an untrained energy
      leaves μ where it is.
    * ``"flow"``: not an energy but a time-conditioned vector field v(x_t, μ, t) on the same trunk
      (:class:`~tts_ebm.model.flow.FlowDecoder`, trained by ``objective=flow``); synthesis then
      integrates it with Euler steps. ``build_decoder`` builds the network a form names.
    """

    n_mels: int = 80
    channels: Sequence[int] = (384, 384)
    n_blocks: int = 2
    kernel_size: int = 3
    groups: int = 8
    anchor_beta: float = 0.0
    dropout: float = 0.0
    form: Literal["scalar", "quadratic", "flow"] = "scalar"
    curvature: float = 1.0

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise ValueError(f"decoder form must be one of {FORMS}, got {self.form!r}")
        if self.curvature <= 0:
            raise ValueError(f"curvature must be positive, got {self.curvature}")
        self.channels = tuple(int(c) for c in self.channels)
        if not self.channels:
            raise ValueError("energy channels must name at least one U-Net level")
        if any(c % self.groups for c in self.channels):
            raise ValueError(f"every channel count {self.channels} must divide by {self.groups=}")
        if self.kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size must be odd to keep frames centred, got {self.kernel_size}"
            )
        if self.n_blocks < 1:
            raise ValueError(f"n_blocks must be at least 1, got {self.n_blocks}")

    @classmethod
    def tiny(cls, **overrides: object) -> EnergyConfig:
        """The CPU-sized preset (tests, toy corpora); ``overrides`` replace any field."""
        fields: dict = {"channels": (32, 64), "n_blocks": 1, "groups": 8}
        return cls(**{**fields, **overrides})


class EnergyNetwork(UNet1d, EnergyModule):
    """1-D U-Net energy E_θ(Y; μ) (see the module docstring); any T, any padding."""

    def __init__(self, config: EnergyConfig | None = None) -> None:
        config = config or EnergyConfig()
        if config.form == "flow":
            raise ValueError("form 'flow' is a vector field, not an energy: build a FlowDecoder")
        channels = config.channels
        super().__init__(
            2 * config.n_mels,
            channels,
            config.n_blocks,
            config.kernel_size,
            config.groups,
            config.dropout,
        )
        self.config = config
        if config.form == "quadratic":
            self.out = nn.Conv1d(channels[0], config.n_mels, 1)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)
        else:
            # No bias: a constant energy offset has no gradient in Y, so score-based criteria
            # would leave it untrained (and DDP would refuse the unused parameter); criteria that
            # need log Z (NCE) learn their own offset.
            self.out = nn.Conv1d(channels[0], 1, 1, bias=False)

    def frame_energy(self, y: Tensor, mu: Tensor, mask: Tensor) -> Tensor:
        """Per-frame energy (B, T): the U-Net's output (read as ``form`` says) plus the anchor."""
        n_frames = y.shape[-1]
        y, mu, mask = self.pad(y, mu, mask)
        x = self.trunk(torch.cat([y, mu], dim=1) * mask, mask)
        if self.config.form == "quadratic":
            residual = (y - mu - self.out(x)) * mask
            frame = 0.5 * self.config.curvature * residual.pow(2).sum(dim=1)
        else:
            frame = self.out(x).squeeze(1) * mask.squeeze(1)
        if self.config.anchor_beta:
            frame = frame + 0.5 * self.config.anchor_beta * ((y - mu) ** 2 * mask).sum(dim=1)
        return frame[..., :n_frames]
