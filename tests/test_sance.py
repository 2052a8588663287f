"""Self-adapting NCE's options for training next to a text encoder: frame logits on interleaved
candidates against values computed by hand, and the packaged config's exported sampler."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from test_criteria import GaussianEnergy, gaussian_inputs

from tts_ebm.objectives import SelfAdaptingNCE
from tts_ebm.objectives.nce import by_source, interleave
from tts_ebm.train.run import compose_config

pytestmark = pytest.mark.usefixtures("one_thread")


class Quadratic(GaussianEnergy):
    """e_t = ½κ‖y_t − μ_t‖² per frame."""

    def __init__(self, dim: int, kappa: float) -> None:
        super().__init__(dim)
        self.kappa = kappa

    def frame_energy(self, y, mu, mask):
        return 0.5 * self.kappa * ((y - mu) ** 2 * mask).sum(dim=1)


def test_interleave_draws_each_source_frame_once_and_by_source_undoes_it():
    torch.manual_seed(2)
    sources = [torch.full((2, 3, 5), float(i)) for i in range(4)]
    mixed, perm = interleave(sources, torch.ones(2, 5))
    labels = torch.stack([y[:, 0] for y in mixed])  # (4, B, T): which source each frame is
    assert torch.equal(labels.sort(dim=0).values, torch.arange(4.0)[:, None, None].expand(4, 2, 5))
    assert torch.equal(labels, perm.float())
    regrouped = by_source(labels, perm)
    assert torch.equal(regrouped, torch.arange(4.0)[:, None, None].expand(4, 2, 5))


def test_sance_frame_logits_give_the_hand_computed_loss():
    """Snapshot e' = ½‖y − μ‖², current e = ‖y − μ‖², negatives at μ (σ = 0, no chain steps),
    ν = 2, c = 0: h⁺_t = −½‖y_t − μ_t‖² − log 2 and h⁻_t = −log 2, so the loss per valid frame
    is softplus(½d_t + log 2) + 2·softplus(−log 2) and only the negatives are classified right."""
    torch.manual_seed(4)
    inputs = gaussian_inputs(batch=3, frames=4)
    inputs.mask[2, :, 2:] = 0
    inputs.y_ref = inputs.y_ref * inputs.mask
    objective = SelfAdaptingNCE(
        n_negatives=2, langevin_steps=0, sigma=0.0, logits="frame", n_mels=2
    )
    objective.snapshot(Quadratic(2, kappa=1.0), step=0)
    out = objective(Quadratic(2, kappa=2.0), inputs)
    d = ((inputs.y_ref - inputs.mu) ** 2).sum(dim=1)  # (B, T)
    per_frame = F.softplus(0.5 * d + math.log(2)) + 2 * math.log(1.5)
    valid = inputs.mask.squeeze(1)
    expected = (per_frame * valid).sum() / valid.sum()
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert out.logs["sance/accuracy"].item() == pytest.approx(2 / 3)
    # Each source's energy is its own frames' sum, whatever the interleaving: e = d per frame.
    elements = valid.sum(dim=1) * 2
    assert out.logs["sance/energy_pos"].item() == pytest.approx(
        ((d * valid).sum(dim=1) / elements).mean().item(), rel=1e-5
    )
    assert out.logs["sance/energy_neg"].item() == 0.0


def test_sance_frame_logits_reach_the_energy_with_the_snapshot_held_fixed():
    """∂L/∂κ of the current energy e = ½κ‖y − μ‖² against a fixed snapshot: by hand,
    mean over frames of σ(−h⁺_t)·½d_t (negatives at μ have e = 0 and no gradient)."""
    torch.manual_seed(5)
    inputs = gaussian_inputs(batch=2, frames=3)
    objective = SelfAdaptingNCE(langevin_steps=0, sigma=0.0, logits="frame", n_mels=2)
    objective.snapshot(Quadratic(2, kappa=1.0), step=0)
    kappa = torch.tensor(1.5, requires_grad=True)
    energy = Quadratic(2, kappa=1.0)
    energy.kappa = kappa
    grad = torch.autograd.grad(objective(energy, inputs).loss, kappa)[0]
    d = ((inputs.y_ref - inputs.mu) ** 2).sum(dim=1)
    h_pos = -0.5 * (1.5 - 1.0) * d
    expected = (torch.sigmoid(-h_pos) * 0.5 * d).mean()
    assert grad.item() == pytest.approx(expected.item(), rel=1e-5)


def test_sance_refuses_an_unknown_logit_kind():
    with pytest.raises(ValueError, match="logits"):
        SelfAdaptingNCE(logits="sequence")


def test_packaged_sance_synthesises_with_its_training_chain_without_noise():
    """The exported knobs follow the chain the energy was shaped for, overrides included."""
    config = compose_config(["experiment=toy", "objective=sance", "objective.langevin_steps=7"])
    assert config["inference"]["steps"] == 7
    assert config["inference"]["step_size"] == config["objective"]["langevin_step_size"]
    assert config["inference"]["langevin"] == 0.0
    assert config["model"]["detach_condition"] is True
    assert config["trainer"]["gradient_clip"] == "per_group"
