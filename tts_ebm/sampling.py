"""Refinement: turn μ into a mel by descending (or Langevin-sampling) the energy.

    Y₀ = μ + τ·ε,    Y_{k+1} = Y_k + η·s_θ(Y_k; μ) + √(2ηλ)·ε_k,    s_θ = −∇_Y E_θ

with the knobs exactly as DESIGN.md §2 defines them: ``steps`` K, ``step_size`` η,
``temperature`` τ multiplies the initial noise (0 = start at μ), ``langevin`` λ scales the
per-step noise (0 = plain gradient descent; 1 = unadjusted Langevin dynamics of p ∝ exp(−E)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, overload

import torch
from torch import Tensor

from tts_ebm.model.energy import EnergyModel


@dataclass
class RefineConfig:
    steps: int = 1
    step_size: float = 1.0
    temperature: float = 0.0
    langevin: float = 0.0

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if self.step_size <= 0:
            raise ValueError(f"step_size must be positive, got {self.step_size}")
        if self.temperature < 0 or self.langevin < 0:
            raise ValueError(
                f"temperature and langevin must be >= 0, got {self.temperature}, {self.langevin}"
            )


@overload
def refine(
    energy: EnergyModel,
    mu: Tensor,
    mask: Tensor,
    config: RefineConfig | None = ...,
    generator: torch.Generator | None = ...,
    y0: Tensor | None = ...,
    return_trajectory: Literal[False] = ...,
) -> Tensor: ...


@overload
def refine(
    energy: EnergyModel,
    mu: Tensor,
    mask: Tensor,
    config: RefineConfig | None = ...,
    generator: torch.Generator | None = ...,
    y0: Tensor | None = ...,
    *,
    return_trajectory: Literal[True],
) -> tuple[Tensor, Tensor]: ...


@torch.no_grad()
def refine(
    energy: EnergyModel,
    mu: Tensor,
    mask: Tensor,
    config: RefineConfig | None = None,
    generator: torch.Generator | None = None,
    y0: Tensor | None = None,
    return_trajectory: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Refine from μ (or from ``y0``, e.g. another system's mel) for ``config.steps`` steps.

    Returns Y (B, n_mels, T), zero on padded frames, with no graph; with ``return_trajectory``
    also the energies E(Y_0..Y_K) as (steps + 1, B), for plots (one extra forward per step).
    Noise comes from ``generator`` when given, so results are reproducible. The model's
    train/eval mode is left as the caller set it.
    """
    config = config or RefineConfig()

    def noise() -> Tensor:
        return torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)

    y = mu if y0 is None else y0
    if config.temperature > 0:
        y = y + config.temperature * noise()
    y = y * mask
    energies = [energy.energy(y, mu, mask)] if return_trajectory else []
    noise_scale = (2 * config.step_size * config.langevin) ** 0.5
    for _ in range(config.steps):
        y = y + config.step_size * energy.score(y, mu, mask)
        if noise_scale > 0:
            y = y + noise_scale * noise() * mask
        if return_trajectory:
            energies.append(energy.energy(y, mu, mask))
    if return_trajectory:
        return y, torch.stack(energies)
    return y
