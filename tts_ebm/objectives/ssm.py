"""Sliced score matching (SSM) and its variance-reduced form (SSM-VR); Song et al. 2019.

    J = E_v[ vᵀ∇_Y(vᵀ s_θ(Y)) + ½(vᵀ s_θ(Y))² ]      (SSM)
    J = E_v[ vᵀ∇_Y(vᵀ s_θ(Y)) ] + ½‖s_θ(Y)‖²         (SSM-VR, exact for E[vvᵀ] = I)

at Y = Y⁺ (or Y⁺ + σε with ``noise_sigma``), v ~ N(0, I) or Rademacher, ``n_projections`` draws.
Both equal the Fisher divergence ½E‖s_θ − ∇log p_data‖² up to a constant, without the data
score: the first term is a Hessian-vector product, i.e. a second autograd pass through the score.

Data noise: with ``noise_sigma`` σ > 0 the criterion is SSM of the noised data p_σ = p * N(0, σ²I),
whose score obeys Tweedie's formula E[Y⁺ | Y] = Y + σ²·∇log p_σ(Y): with σ² = η one inference
step of size η from a point in the noised region (μ, when ‖Y⁺ − μ‖ ≲ σ) is the posterior mean.
In 80·T dimensions the noised points lie on a thin shell at distance σ per element from Y⁺, so
the score is only learned *there*: μ, at the prior's distance r per element, is off a single-σ
shell unless σ ≈ r. ``noise_sigma_min`` draws σ ~ U[σ_min, σ] per utterance (losses weighted by
(σ/σ_max)²), so the score is learned at every distance in that range; a point at distance r then
sees a score ≈ (Y⁺ − Y)/r², and one step of η ≈ r² (the prior's MSE per element) lands near Y⁺.
With σ = 0 the score is trained only on the data itself, and where Y⁺ is (nearly) a function of
the text the optimum has unbounded curvature: the loss falls without limit and one step from μ
overshoots (measured on the toy corpus, ``docs/criteria.md``).

Normalisation: both terms are summed over valid elements and divided by their number
(frames × channels, over the batch; averaged over projections), like every masked mean here,
so the loss of a long utterance is comparable to that of a short one and to the other criteria.

Needs: Y⁺ only (no hypotheses, no sampler). Cost: one score with ``create_graph`` (forward +
input gradient), one extra backward per projection for the Hessian-vector product, then the
parameter gradient through both (measured in ``docs/criteria.md``). Logs ``ssm/jacobian`` (the
trace term) and ``ssm/norm`` (the squared-score term) separately: the trace term should go
negative and the norm term positive as the energy learns curvature around the data; and, as a
free diagnostic, the RMS distance to Y⁺ of Y and of one inference step Y + η·s from it.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from tts_ebm.model.energy import EnergyModel
from tts_ebm.objectives.base import (
    Objective,
    ObjectiveInputs,
    ObjectiveOutput,
    masked_mean,
    register_objective,
)


def random_directions(like: Tensor, kind: str) -> Tensor:
    """Projection directions with E[vvᵀ] = I: standard normal or Rademacher (±1)."""
    if kind == "gaussian":
        return torch.randn_like(like)
    if kind == "rademacher":
        return torch.randint_like(like, 0, 2) * 2 - 1
    raise ValueError(f"directions must be 'gaussian' or 'rademacher', got {kind!r}")


def sliced_terms(score: Tensor, y: Tensor, v: Tensor, create_graph: bool) -> tuple[Tensor, Tensor]:
    """Per utterance (B,): vᵀ∇_Y(vᵀs) (a Hessian-vector product of −E) and vᵀs.

    ``score`` must have been computed from ``y`` with ``create_graph=True``. Utterances are
    independent, so the gradient of the batch sum is each utterance's own gradient.
    """
    projected = (v * score).sum(dim=(1, 2))
    (hvp,) = torch.autograd.grad(projected.sum(), y, create_graph=create_graph, retain_graph=True)
    return (v * hvp).sum(dim=(1, 2)), projected


@register_objective("ssm")
class SlicedScoreMatching(Objective):
    """SSM / SSM-VR on (optionally slightly noised) references; see the module docstring."""

    name = "ssm"

    def __init__(
        self,
        n_projections: int = 1,
        directions: Literal["gaussian", "rademacher"] = "gaussian",
        variance_reduction: bool = False,
        noise_sigma: float = 0.0,
        noise_sigma_min: float | None = None,
        step_size: float = 1.0,
    ) -> None:
        super().__init__()
        if n_projections < 1:
            raise ValueError(f"n_projections must be at least 1, got {n_projections}")
        if noise_sigma < 0 or step_size <= 0:
            raise ValueError(f"need noise_sigma >= 0, step_size > 0: {noise_sigma}, {step_size}")
        random_directions(torch.zeros(1), directions)  # fail at build time on a bad name
        self.n_projections = n_projections
        self.directions = directions
        self.variance_reduction = variance_reduction
        if noise_sigma_min is not None and not 0 <= noise_sigma_min <= noise_sigma:
            raise ValueError(f"need 0 <= noise_sigma_min <= noise_sigma, got {noise_sigma_min}")
        self.noise_sigma = float(noise_sigma)
        self.noise_sigma_min = None if noise_sigma_min is None else float(noise_sigma_min)
        self.step_size = float(step_size)  # for the one-step diagnostic only

    def _noise_levels(self, y_ref: Tensor) -> tuple[Tensor, Tensor]:
        """σ per utterance (B, 1, 1) and its loss weight (B,): (σ/σ_max)², 1 for a fixed σ.

        The score of p_σ grows like 1/σ; the σ² weighting (as in multi-level denoising score
        matching) keeps every noise level's share of the loss comparable.
        """
        batch = y_ref.shape[0]
        sigma = y_ref.new_full((batch,), self.noise_sigma)
        if self.noise_sigma_min is not None:
            sigma = self.noise_sigma_min + (self.noise_sigma - self.noise_sigma_min) * torch.rand(
                batch, device=y_ref.device, dtype=y_ref.dtype
            )
        if self.noise_sigma == 0:
            return sigma.view(-1, 1, 1), torch.ones_like(sigma)
        weight = (sigma / self.noise_sigma).pow(2)
        return sigma.view(-1, 1, 1), weight

    def forward(self, energy: EnergyModel, inputs: ObjectiveInputs) -> ObjectiveOutput:
        training = torch.is_grad_enabled()
        # The trace term is a second derivative in Y: it needs a graph even when validating.
        with torch.inference_mode(False), torch.enable_grad():
            y_ref, mu, mask = (
                t.clone() if t.is_inference() else t for t in (inputs.y_ref, inputs.mu, inputs.mask)
            )
            sigma, weight = self._noise_levels(y_ref)
            y = y_ref.detach() + sigma * torch.randn_like(y_ref)
            y = (y * mask).requires_grad_(True)
            score = energy.score(y, mu, mask, create_graph=True)
            n_valid = (mask.sum() * y.shape[1]).clamp_min(1.0)
            trace = y.new_zeros(())
            square = y.new_zeros(())
            for _ in range(self.n_projections):
                v = random_directions(y, self.directions) * mask
                hvp, projected = sliced_terms(score, y, v, create_graph=training)
                trace = trace + (weight * hvp).sum()
                if not self.variance_reduction:
                    square = square + 0.5 * (weight * projected.pow(2)).sum()
            trace = trace / (self.n_projections * n_valid)
            if self.variance_reduction:
                square = 0.5 * (weight * score.pow(2).sum(dim=(1, 2))).sum() / n_valid
            else:
                square = square / (self.n_projections * n_valid)
            loss = trace + square
        if not training:
            loss = loss.detach()
        with torch.no_grad():
            y = y.detach()
            before = masked_mean((y - y_ref) ** 2, mask).sqrt()
            after = masked_mean((y + self.step_size * score.detach() - y_ref) ** 2, mask).sqrt()
        return ObjectiveOutput(
            loss=loss,
            logs={
                "ssm/loss": loss.detach(),
                "ssm/jacobian": trace.detach(),
                "ssm/norm": square.detach(),
                "ssm/dist_before": before,
                "ssm/dist_after": after,
            },
        )
