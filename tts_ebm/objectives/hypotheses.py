"""Sources of hypotheses Y⁻: negatives for contrastive criteria, starting points for delta.

A source sees the whole batch and the current energy, so sources that run the model (short-run
Langevin under the current or a frozen energy) share the interface of those that do not:

* ``prior``      μ + σ·ε — the model's own first guess, what inference starts from;
* ``noisy_ref``  Y⁺ + σ·ε — a perturbed reference;
* ``langevin``   a short Langevin chain started from ``prior``, under the energy the criterion
  passes: the current one (delta, NCE) or a frozen snapshot (self-adapting NCE passes its θ');
* ``file``       precomputed mels ``DIR/ID.npy`` (e.g. another TTS system's output), looked up by
  utterance id, normalised and stretched to the reference length.

Only ``prior`` with a fixed σ has a density that binary NCE can use (:meth:`log_density`); the
density of ``noisy_ref`` depends on Y⁺ itself, and chains and files have none.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from tts_ebm.audio import MelStats
from tts_ebm.model.energy import EnergyModel
from tts_ebm.objectives.base import ObjectiveInputs
from tts_ebm.objectives.langevin import langevin_chain


class HypothesisSource(ABC):
    name: str

    @abstractmethod
    def sample(self, inputs: ObjectiveInputs, energy: EnergyModel) -> Tensor:
        """Y⁻ with the shape of ``inputs.y_ref``, zero on padded frames, without a graph."""


@dataclass
class _GaussianAround(HypothesisSource):
    """centre + σ·ε, with σ fixed or, when ``sigma_min`` is set, drawn per utterance from
    U[sigma_min, sigma]: a range that reaches 0 also trains the noise-free starting point that
    inference at temperature 0 uses (a fixed σ = 1 never visits it in 80 × T dimensions)."""

    sigma: float = 1.0
    sigma_min: float | None = None

    def __post_init__(self) -> None:
        low = self.sigma if self.sigma_min is None else self.sigma_min
        if not 0 <= low <= self.sigma:
            raise ValueError(f"need 0 <= sigma_min <= sigma, got {self.sigma_min}, {self.sigma}")

    @abstractmethod
    def _centre(self, inputs: ObjectiveInputs) -> Tensor:
        """What the noise is added to."""

    def sample(self, inputs: ObjectiveInputs, energy: EnergyModel) -> Tensor:
        centre = self._centre(inputs).detach()
        sigma = torch.full((centre.shape[0], 1, 1), self.sigma, dtype=centre.dtype)
        if self.sigma_min is not None:
            sigma = self.sigma_min + (self.sigma - self.sigma_min) * torch.rand_like(sigma)
        return (centre + sigma.to(centre.device) * torch.randn_like(centre)) * inputs.mask


@dataclass
class PriorHypothesis(_GaussianAround):
    """μ + σ·ε: what a one-step sampler at temperature σ starts from."""

    name = "prior"

    def _centre(self, inputs: ObjectiveInputs) -> Tensor:
        return inputs.mu

    def log_density(self, y: Tensor, inputs: ObjectiveInputs) -> Tensor:
        """log q(Y) per utterance (B,) of N(μ, σ²I) over the valid elements (frames × channels).

        Only for a fixed σ: with ``sigma_min`` the noise is a scale mixture without a closed form.
        """
        return self.frame_log_density(y, inputs).sum(dim=-1)

    def frame_log_density(self, y: Tensor, inputs: ObjectiveInputs) -> Tensor:
        """log q(yₜ) per valid frame (B, T), zero on padding: the density factorises over frames."""
        if self.sigma_min is not None or self.sigma <= 0:
            raise ValueError(
                f"the prior's density needs a fixed sigma > 0 (sigma_min null), "
                f"got sigma={self.sigma}, sigma_min={self.sigma_min}"
            )
        mask = inputs.mask
        squared = (((y - inputs.mu.detach()) / self.sigma) ** 2 * mask).sum(dim=1)
        constant = 0.5 * y.shape[1] * math.log(2 * math.pi * self.sigma**2)
        return (-0.5 * squared - constant) * mask.squeeze(1)


@dataclass
class NoisyReference(_GaussianAround):
    """Y⁺ + σ·ε: hypotheses near the data, as in denoising score matching."""

    name = "noisy_ref"

    def _centre(self, inputs: ObjectiveInputs) -> Tensor:
        return inputs.y_ref


@dataclass
class LangevinHypothesis(HypothesisSource):
    """``steps`` Langevin updates (step η = ``step_size``, noise scale λ = ``noise``) from
    μ + σ·ε, under the energy given to :meth:`sample`; detached, like every source."""

    name = "langevin"
    steps: int = 10
    step_size: float = 0.1
    noise: float = 1.0
    sigma: float = 1.0
    sigma_min: float | None = None
    start: PriorHypothesis = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.steps < 0 or self.step_size <= 0 or self.noise < 0:
            raise ValueError(
                f"langevin needs steps >= 0, step_size > 0, noise >= 0; "
                f"got {self.steps}, {self.step_size}, {self.noise}"
            )
        self.start = PriorHypothesis(self.sigma, self.sigma_min)

    def run(self, energy: EnergyModel, y0: Tensor, inputs: ObjectiveInputs) -> Tensor:
        """The chain alone, from a given start (criteria that log where chains begin)."""
        mu, mask = inputs.mu, inputs.mask
        return langevin_chain(energy, y0, mu, mask, self.steps, self.step_size, self.noise)

    def sample(self, inputs: ObjectiveInputs, energy: EnergyModel) -> Tensor:
        return self.run(energy, self.start.sample(inputs, energy), inputs)


@dataclass
class FileHypothesis(HypothesisSource):
    """Precomputed un-normalised log-mels ``directory/ID.npy`` (n_mels × T'), one per utterance.

    They are normalised with the run's mel statistics — ``stats`` as ``{mel_mean, mel_std}``, or
    the path of a ``stats.json`` (e.g. the prepared corpus' own), by default
    ``directory/stats.json`` — because the files come from outside the run, which cannot know
    what they were made with. When T' ≠ T (another system's durations) the mel is resampled
    linearly along time onto the reference's valid frames, first and last frames aligned.
    """

    name = "file"
    directory: str = ""
    stats: dict | str | None = None
    mel_stats: MelStats = field(init=False, repr=False)

    def __post_init__(self) -> None:
        root = Path(self.directory)
        if not self.directory or not root.is_dir():
            raise ValueError(f"file hypotheses need an existing directory, got {self.directory!r}")
        if isinstance(self.stats, dict):
            self.mel_stats = MelStats.from_dict(self.stats)
            return
        path = Path(self.stats) if self.stats else root / "stats.json"
        if not path.is_file():
            raise ValueError(
                f"file hypotheses need mel statistics: {path} not found; give "
                f"stats: {{mel_mean: ..., mel_std: ...}} or the path of the run's stats.json"
            )
        self.mel_stats = MelStats.load(path)

    def sample(self, inputs: ObjectiveInputs, energy: EnergyModel) -> Tensor:
        if inputs.utterance_ids is None:
            raise ValueError(
                "file hypotheses need whole utterances with ids: set model.segment_frames=null"
            )
        y_ref, mask = inputs.y_ref, inputs.mask
        out = torch.zeros_like(y_ref)
        lengths = mask.sum(dim=(1, 2)).round().long().tolist()
        for b, (uid, length) in enumerate(zip(inputs.utterance_ids, lengths, strict=True)):
            path = Path(self.directory) / f"{uid}.npy"
            if not path.is_file():
                raise FileNotFoundError(f"no hypothesis for utterance {uid!r}: {path} is missing")
            mel = torch.from_numpy(np.load(path).astype(np.float32))
            if mel.ndim != 2 or mel.shape[0] != y_ref.shape[1]:
                raise ValueError(
                    f"{path}: expected a ({y_ref.shape[1]}, T) log-mel, got {tuple(mel.shape)}"
                )
            mel = self.mel_stats.normalize(mel).to(y_ref.device, y_ref.dtype)
            if mel.shape[1] != length:
                mel = F.interpolate(mel[None], size=length, mode="linear", align_corners=True)[0]
            out[b, :, :length] = mel
        return out * mask


_SOURCES: dict[str, type[HypothesisSource]] = {
    "prior": PriorHypothesis,
    "noisy_ref": NoisyReference,
    "langevin": LangevinHypothesis,
    "file": FileHypothesis,
}


def build_hypothesis_source(config: dict) -> HypothesisSource:
    """``{"source": "prior", "sigma": 1.0}`` → a source; unknown sources raise ValueError."""
    options = dict(config)
    source = options.pop("source", None)
    if source not in _SOURCES:
        raise ValueError(f"unknown hypothesis source {source!r}; known: {', '.join(_SOURCES)}")
    try:
        return _SOURCES[source](**options)
    except TypeError as err:
        raise ValueError(f"bad options for hypothesis source {source!r}: {err}") from None
