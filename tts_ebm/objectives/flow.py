"""Conditional flow matching (OT-CFM, Lipman et al. 2023; as Matcha-TTS trains its decoder).

For a reference Y⁺ and a source point x₀ = μ + σε, the straight path x_t = (1 − t)·x₀ + t·Y⁺
moves at the constant velocity Y⁺ − x₀; the decoder's field is regressed onto it at t ~ U[0, 1):

    L_flow = ‖ v_θ(x_t, μ, t) − (Y⁺ − x₀) ‖²_M   (masked mean over valid frames × channels)

The source is centred on μ, where the EBM sampler starts (:mod:`tts_ebm.model.flow` says why);
Matcha-TTS's σ_min is left out (0): at σ_min = 10⁻⁴ the path is the same to four digits.
At t = 0 this is the delta criterion with the prior hypothesis (``delta``: one step of size
η = 1 from μ + σε lands on Y⁺), with a time input and without the gradient constraint.

Needs a :class:`~tts_ebm.model.flow.VectorField` (``model.network.energy.form: flow``), not an
energy. Cost: one forward and its backward (≈ 3 forwards), no input gradient.
"""

from __future__ import annotations

import torch

from tts_ebm.model.flow import VectorField
from tts_ebm.objectives.base import (
    Objective,
    ObjectiveInputs,
    ObjectiveOutput,
    masked_mean,
    register_objective,
)


@register_objective("flow")
class FlowMatching(Objective):
    """L_flow with source μ + σε; logs the RMS of the target velocity (the loss's scale)."""

    name = "flow"

    def __init__(self, sigma: float = 1.0) -> None:
        super().__init__()
        if not sigma >= 0:
            raise ValueError(f"flow sigma must be >= 0, got {sigma}")
        self.sigma = float(sigma)

    def forward(self, energy: VectorField, inputs: ObjectiveInputs) -> ObjectiveOutput:
        if not isinstance(energy, VectorField):
            raise TypeError("objective 'flow' trains a flow decoder (network form 'flow')")
        y_ref, mu, mask = inputs.y_ref, inputs.mu, inputs.mask
        x0 = (mu + self.sigma * torch.randn_like(mu)) * mask
        t = torch.rand(y_ref.shape[0], dtype=y_ref.dtype, device=y_ref.device)
        target = (y_ref - x0) * mask
        x_t = x0 + t[:, None, None] * target
        loss = masked_mean((energy.velocity(x_t, mu, mask, t) - target).pow(2), mask)
        with torch.no_grad():
            target_rms = masked_mean(target.pow(2), mask).sqrt()
        return ObjectiveOutput(
            loss=loss, logs={"flow/loss": loss.detach(), "flow/target_rms": target_rms}
        )
