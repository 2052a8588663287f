"""Delta loss (first-order criterion; Sun & Ragni, Interspeech 2025).

Train the score so that one gradient step of size η from a hypothesis lands on the reference:

    L_Δ = ‖ η·s_θ(Y_s; μ) − (Y⁺ − Y_s) ‖²_M   (masked mean over valid frames × channels)

with Y_s = Y⁻ by default. This is conditional flow matching at t = 0 with a time-free velocity
that is the gradient of an energy.

``path_sampling`` (DESIGN.md §3.4, "same target"): draw t ~ U[0, 1) per utterance and start from
Y_t = (1 − t)·Y⁻ + t·Y⁺. The target is still "one step lands on Y⁺", so the displacement is
Y⁺ − Y_t = (1 − t)(Y⁺ − Y⁻): the score is trained on the whole segment towards the reference, not
only at its far end, which is what repeated inference steps visit. (A constant-velocity target
Y⁺ − Y⁻ would instead ask one step from Y_t to overshoot Y⁺.)

Y⁻ carries no graph; μ is passed to the energy as given (see ``tts_ebm.objectives.base``).

Needs: a hypothesis source (any: ``prior``, ``noisy_ref``, ``langevin`` under the current energy,
``file``). Cost: one score with ``create_graph`` and the parameter backward through it, the
reference every other criterion is measured against in ``docs/criteria.md``. It trains exactly
what inference at K = 1 does (one step of size η from μ + τε), so it is the criterion to use for
few-step synthesis; ``path_sampling`` for more steps. Logs the RMS distance to Y⁺ before and
after one step (``dist_before``, ``dist_after``).
"""

from __future__ import annotations

import torch

from tts_ebm.model.energy import EnergyModel
from tts_ebm.objectives.base import (
    Objective,
    ObjectiveInputs,
    ObjectiveOutput,
    masked_mean,
    register_objective,
)
from tts_ebm.objectives.hypotheses import build_hypothesis_source


@register_objective("delta")
class DeltaObjective(Objective):
    """L_Δ with hypotheses from any source; logs the RMS distance to Y⁺ before/after one step."""

    name = "delta"

    def __init__(
        self,
        step_size: float = 1.0,
        hypothesis: dict | None = None,
        path_sampling: bool = False,
    ) -> None:
        super().__init__()
        if step_size <= 0:
            raise ValueError(f"delta step_size must be positive, got {step_size}")
        self.step_size = float(step_size)
        self.hypothesis = build_hypothesis_source(hypothesis or {"source": "prior", "sigma": 1.0})
        self.path_sampling = path_sampling

    def forward(self, energy: EnergyModel, inputs: ObjectiveInputs) -> ObjectiveOutput:
        y_ref, mask = inputs.y_ref, inputs.mask
        start = self.hypothesis.sample(inputs, energy)
        if self.path_sampling:
            t = torch.rand(y_ref.shape[0], 1, 1, dtype=y_ref.dtype, device=y_ref.device)
            start = (1 - t) * start + t * y_ref.detach()
        score = energy.score(start, inputs.mu, mask, create_graph=torch.is_grad_enabled())
        residual = self.step_size * score - (y_ref - start) * mask
        loss = masked_mean(residual.pow(2), mask)
        with torch.no_grad():
            before = masked_mean((y_ref - start).pow(2), mask).sqrt()
            after = loss.sqrt()
        return ObjectiveOutput(
            loss=loss,
            logs={
                "delta/loss": loss.detach(),
                "delta/dist_before": before,
                "delta/dist_after": after,
            },
        )
