"""Langevin chains for the criteria: detached short runs, optionally keeping the last step's graph.

    Y_{k+1} = Y_k + η·s(Y_k; μ) + √(2ηλ)·ε_k,    s = −∇_Y E

the same update, with the same knobs (η step size, λ noise scale), as ``tts_ebm.sampling.refine``.
It lives here rather than in the sampler because criteria need two things inference does not:

* chains under *any* energy, including a frozen snapshot (self-adapting NCE's noise model);
* improved CD's KL term, which differentiates the chain's output with respect to θ through the
  *last* step only: Y_K = sg(Y_{K−1}) + η·s_θ(sg(Y_{K−1})) + noise, where s_θ keeps its parameter
  graph (``create_graph``). Every earlier step is detached, so memory does not grow with K.

μ is used as given (see ``tts_ebm.objectives.base``); the detached steps build no graph into it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tts_ebm.model.energy import EnergyModel


def langevin_step(
    energy: EnergyModel,
    y: Tensor,
    mu: Tensor,
    mask: Tensor,
    step_size: float,
    noise: float,
    create_graph: bool = False,
) -> Tensor:
    """One update from ``y``; with ``create_graph`` the result depends on θ through s_θ(y)."""
    score = energy.score(y, mu, mask, create_graph=create_graph)
    y = y + step_size * score
    if noise > 0:
        y = y + (2 * step_size * noise) ** 0.5 * torch.randn_like(y)
    return y * mask


def langevin_chain(
    energy: EnergyModel,
    y0: Tensor,
    mu: Tensor,
    mask: Tensor,
    steps: int,
    step_size: float,
    noise: float,
    last_step_graph: bool = False,
) -> Tensor:
    """Run ``steps`` updates from ``y0`` (detached); the result carries no graph unless
    ``last_step_graph``, in which case the last step's score keeps its parameter graph."""
    if steps < 0 or step_size <= 0 or noise < 0:
        raise ValueError(
            f"need steps >= 0, step_size > 0, noise >= 0; got {steps}, {step_size}, {noise}"
        )
    y = y0.detach() * mask
    for k in range(steps):
        keep = last_step_graph and k == steps - 1 and torch.is_grad_enabled()
        y = langevin_step(energy, y, mu, mask, step_size, noise, create_graph=keep)
        if not keep:
            y = y.detach()
    return y
