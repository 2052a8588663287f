"""Sources of hypotheses Y⁻: negatives for contrastive criteria, starting points for delta.

A source sees the whole batch and the current energy, so sources that run the model (short-run
Langevin under the current or a frozen energy) share the interface of those that do not:

* ``prior``      μ + σ·ε — the model's own first guess, what inference starts from;
* ``noisy_ref``  Y⁺ + σ·ε — a perturbed reference.

``langevin`` and ``file`` (precomputed mels aligned to Y⁺) arrive with the criteria that need them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor

from tts_ebm.model.energy import EnergyModel
from tts_ebm.objectives.base import ObjectiveInputs


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


@dataclass
class NoisyReference(_GaussianAround):
    """Y⁺ + σ·ε: hypotheses near the data, as in denoising score matching."""

    name = "noisy_ref"

    def _centre(self, inputs: ObjectiveInputs) -> Tensor:
        return inputs.y_ref


_SOURCES: dict[str, type[HypothesisSource]] = {
    "prior": PriorHypothesis,
    "noisy_ref": NoisyReference,
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
