"""Options that make the likelihood criteria (NCE, SANCE) train next to a text encoder.

Per-group gradient clipping, a frozen encoder for an energy trained against a pretrained prior,
and data noise on NCE's positives, each against a value computed by hand.
"""

from __future__ import annotations

import math

import pytest
import torch
from models import toy_module
from test_criteria import TRUE_MEAN, TRUE_PRECISION, GaussianEnergy, fit, gaussian_inputs
from torch import nn

from tts_ebm.objectives import NoiseContrastiveEstimation, SelfAdaptingNCE
from tts_ebm.objectives.nce import noised_positives
from tts_ebm.train.data import Batch
from tts_ebm.train.module import clip_groups

pytestmark = pytest.mark.usefixtures("one_thread")


def test_clip_groups_clips_each_group_to_its_own_norm():
    big = nn.Parameter(torch.zeros(2))
    small = nn.Parameter(torch.zeros(2))
    unused = nn.Parameter(torch.zeros(1))
    big.grad = torch.tensor([30.0, 40.0])  # norm 50
    small.grad = torch.tensor([0.3, 0.4])  # norm 0.5
    norms = clip_groups({"encoder": [small], "energy": [big, unused]}, max_norm=1.0)
    assert norms["encoder"].item() == pytest.approx(0.5)
    assert norms["energy"].item() == pytest.approx(50.0)
    # The energy's group is scaled to norm 1; the encoder's, under the limit, is untouched
    # (one global clip would have scaled it by 1/√2500.25 too).
    assert torch.allclose(big.grad, torch.tensor([0.6, 0.8]), atol=1e-6)
    assert torch.equal(small.grad, torch.tensor([0.3, 0.4]))
    assert clip_groups({"encoder": [unused]}, 1.0) == {}  # no gradient, no norm


def toy_batch(n_mels: int = 80) -> Batch:
    g = torch.Generator().manual_seed(1)
    return Batch(
        ids=["a", "b"],
        tokens=torch.randint(1, 12, (2, 5), generator=g),
        token_lengths=torch.tensor([5, 4]),
        mel=torch.randn(2, n_mels, 16, generator=g),
        mel_lengths=torch.tensor([16, 12]),
    )


def test_parameter_groups_split_encoder_from_energy_and_criterion():
    module = toy_module("objective=nce")
    groups = module.parameter_groups()
    assert {id(p) for p in groups["encoder"]} == {id(p) for p in module.model.encoder.parameters()}
    assert {id(p) for p in groups["energy"]} == {
        id(p) for p in [*module.model.energy.parameters(), *module.objective.parameters()]
    }
    assert sum(len(g) for g in groups.values()) == len(list(module.parameters()))


def test_frozen_encoder_gets_no_gradient_and_does_not_change():
    module = toy_module("objective=nce", "model.freeze_encoder=true")
    [optimizer], _ = module.configure_optimizers()
    encoder = [p.detach().clone() for p in module.model.encoder.parameters()]
    energy = [p.detach().clone() for p in module.model.energy.parameters()]
    losses, _ = module._losses(toy_batch(), step=0)
    losses["loss"].backward()
    optimizer.step()
    assert all(p.grad is None for p in module.model.encoder.parameters())
    for before, param in zip(encoder, module.model.encoder.parameters(), strict=True):
        assert torch.equal(before, param)
    changed = [
        not torch.equal(b, p) for b, p in zip(energy, module.model.energy.parameters(), strict=True)
    ]
    assert any(changed)
    optimised = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert optimised.isdisjoint(id(p) for p in module.model.encoder.parameters())


def test_noised_positives_add_data_noise_on_valid_elements_only():
    y = torch.ones(2, 3, 4)
    mask = torch.tensor([[1.0, 1, 1, 1], [1, 1, 0, 0]])[:, None]
    assert noised_positives(y, mask, 0.0) is y
    torch.manual_seed(3)
    noised = noised_positives(y, mask, 0.5)
    torch.manual_seed(3)
    expected = (y + 0.5 * torch.randn(2, 3, 4)) * mask
    assert torch.equal(noised, expected)
    assert torch.equal(noised[1, :, 2:], torch.zeros(3, 2))


def test_nce_with_data_noise_fits_the_smoothed_density():
    """Positives Y⁺ + sε: the optimum is N(m*, Σ* + s²I), whose precision is (Σ* + s²I)⁻¹."""
    torch.manual_seed(11)
    s = 0.5
    energy = GaussianEnergy(2)
    objective = NoiseContrastiveEstimation(
        n_negatives=4, hypothesis={"source": "prior", "sigma": 2.0}, data_sigma=s, n_mels=2
    )
    fit(objective, energy, steps=400, batch=256, lr=0.03)
    smoothed = torch.linalg.inv(torch.linalg.inv(TRUE_PRECISION) + s**2 * torch.eye(2))
    precision = energy.precision.detach()
    error = torch.linalg.matrix_norm(precision - smoothed) / torch.linalg.matrix_norm(smoothed)
    assert error < 0.15, precision
    assert (energy.mean.detach() - TRUE_MEAN).abs().max() < 0.1
    # Without data noise the same fit lands on the sharper P*, not on the smoothed one.
    assert torch.linalg.matrix_norm(TRUE_PRECISION - smoothed) / torch.linalg.matrix_norm(
        smoothed
    ) > 3 * max(error.item(), 0.05)


def test_sance_scores_noised_positives(monkeypatch):
    """SANCE's positive is Y⁺ + sε (the same helper as NCE), scored by E_θ and E_θ'."""
    import tts_ebm.objectives.sance as sance

    calls = []

    def shifted(y_ref, mask, data_sigma):
        calls.append(data_sigma)
        return y_ref + 100.0  # far from every negative: the energies show where it was scored

    monkeypatch.setattr(sance, "noised_positives", shifted)
    inputs = gaussian_inputs(batch=3)
    out = SelfAdaptingNCE(langevin_steps=0, data_sigma=0.3, n_mels=2)(GaussianEnergy(2), inputs)
    assert calls == [0.3]
    # E of the identity Gaussian per element at y + 100: ½(y + 100)², far above the negatives'.
    expected = 0.5 * ((inputs.y_ref + 100.0) ** 2).mean()
    assert out.logs["sance/energy_pos"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_nce_offset_starts_at_the_noise_log_normaliser():
    """c₀ = ½·n_mels·log 2πσ² per frame: for E = ½‖Y − μ‖²/σ² (the untrained quadratic form at
    κ = 1/σ²) every logit starts at −log ν, not at ~73 nats per frame."""
    objective = NoiseContrastiveEstimation(hypothesis={"source": "prior", "sigma": 2.0}, n_mels=3)
    assert objective.offset.per_frame.item() == pytest.approx(1.5 * math.log(8 * math.pi))


class IdentityQuadratic(GaussianEnergy):
    """E = ½‖Y − μ‖² per frame (σ = 1 noise's own energy): every NCE logit is −log ν."""

    def frame_energy(self, y, mu, mask):
        return 0.5 * ((y - mu) ** 2 * mask).sum(dim=1)


def test_frame_logits_of_the_noise_energy_give_the_hand_computed_loss():
    """h_t = −log ν on every frame: loss per frame −log σ(−log ν) − ν·log σ(log ν), and
    accuracy counts only the ν negatives (h < 0) of the valid frames."""
    torch.manual_seed(0)
    nu = 3
    objective = NoiseContrastiveEstimation(n_negatives=nu, logits="frame", data_sigma=1.0, n_mels=2)
    inputs = gaussian_inputs(batch=4, frames=5)
    inputs.mask[1, :, 3:] = 0
    out = objective(IdentityQuadratic(2), inputs)
    h = -math.log(nu)
    expected = -(
        math.log(torch.sigmoid(torch.tensor(h))) + nu * math.log(torch.sigmoid(-torch.tensor(h)))
    )
    assert out.loss.item() == pytest.approx(expected, rel=1e-5)
    assert out.logs["nce/accuracy"].item() == pytest.approx(nu / (1 + nu))


def test_frame_logits_interleave_sources_and_score_each_frame_once(monkeypatch):
    """Each candidate's frame t comes from a distinct source, and the logits are mapped back:
    with an energy that is huge on positives' frames only, the positives' logits are all
    negative and the negatives' all positive, whatever the interleaving."""
    torch.manual_seed(1)
    inputs = gaussian_inputs(batch=2, frames=6)
    inputs.y_ref = torch.full_like(inputs.y_ref, 50.0)  # positives far from μ = 0 ± noise

    class FarIsHigh(GaussianEnergy):
        def frame_energy(self, y, mu, mask):
            return 1e4 * (y.mean(dim=1) > 25).float() * mask.squeeze(1)

    objective = NoiseContrastiveEstimation(n_negatives=2, logits="frame", n_mels=2)
    seen = []
    monkeypatch.setattr(
        "tts_ebm.objectives.nce.frame_binary_nce",
        lambda pos, neg, mask: seen.append((pos, neg)) or (pos.sum(), pos.sum()),
    )
    objective(FarIsHigh(2), inputs)
    positives, negatives = seen[0]
    assert (positives < -1e3).all() and (negatives.abs() < 1e3).all()
