"""Refinement against closed forms: quadratic energies, and pure noise for the Langevin scale."""

from __future__ import annotations

import pytest
import torch

from tts_ebm.model.energy import EnergyConfig, EnergyModule, EnergyNetwork
from tts_ebm.sampling import RefineConfig, refine

N_MELS = 8


class QuadraticEnergy(EnergyModule):
    """E(y) = ½‖y − target‖²_M / scale + 0·μ; scale = η makes one step of size η land on target."""

    def __init__(self, target: torch.Tensor, scale: float) -> None:
        super().__init__()
        self.register_buffer("target", target)
        self.scale = scale

    def frame_energy(self, y, mu, mask):
        return 0.5 * ((y - self.target) ** 2 * mask).sum(dim=1) / self.scale


class ZeroEnergy(EnergyModule):
    """E ≡ 0, so the score is 0 and a Langevin chain is pure noise."""

    def frame_energy(self, y, mu, mask):
        return (0 * y).sum(dim=1)


def condition(lengths=(30, 17), n_frames=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = (torch.arange(n_frames)[None, :] < torch.tensor(lengths)[:, None]).double()
    mask = mask.unsqueeze(1)
    mu = torch.randn(len(lengths), N_MELS, n_frames, generator=g, dtype=torch.float64) * mask
    target = torch.randn(mu.shape, generator=g, dtype=torch.float64) * mask
    return mu, mask, target


def test_zero_steps_at_zero_temperature_returns_mu():
    mu, mask, target = condition()
    out = refine(QuadraticEnergy(target, 1.0), mu, mask, RefineConfig(steps=0))
    assert torch.equal(out, mu)


def test_one_step_of_matching_size_lands_on_the_minimum():
    mu, mask, target = condition()
    eta = 0.3
    out = refine(QuadraticEnergy(target, eta), mu, mask, RefineConfig(steps=1, step_size=eta))
    torch.testing.assert_close(out, target, rtol=0, atol=1e-12)


def test_gradient_descent_contracts_geometrically_and_reports_energies():
    """With E = ½‖y − t‖²/a and step η, Y_k − t = (1 − η/a)^k (μ − t)."""
    mu, mask, target = condition()
    a, eta, steps = 1.0, 0.25, 4
    energy = QuadraticEnergy(target, a)
    config = RefineConfig(steps=steps, step_size=eta)
    out, energies = refine(energy, mu, mask, config, return_trajectory=True)
    factor = torch.tensor(1 - eta / a, dtype=torch.float64) ** torch.arange(steps + 1)
    torch.testing.assert_close(out - target, factor[-1] * (mu - target), rtol=1e-12, atol=1e-12)
    start = 0.5 * ((mu - target) ** 2).sum(dim=(1, 2)) / a
    assert energies.shape == (steps + 1, 2)
    torch.testing.assert_close(energies, factor[:, None] ** 2 * start, rtol=1e-12, atol=1e-12)


def test_temperature_scales_the_initial_noise():
    mu, mask, target = condition(lengths=[400] * 8, n_frames=400)
    tau = 0.6
    g = torch.Generator().manual_seed(0)
    out = refine(QuadraticEnergy(target, 1.0), mu, mask, RefineConfig(0, temperature=tau), g)
    assert (out - mu).std().item() == pytest.approx(tau, rel=0.03)


@pytest.mark.parametrize("steps", [1, 3])
def test_langevin_increments_have_variance_two_eta_lambda(steps):
    mu, mask, _ = condition(lengths=(400, 400, 400, 250), n_frames=400)
    eta, lam = 0.1, 0.5
    config = RefineConfig(steps=steps, step_size=eta, langevin=lam)
    out = refine(ZeroEnergy(), mu, mask, config, torch.Generator().manual_seed(1))
    increments = (out - mu)[mask.expand_as(mu).bool()]
    # Independent steps add variances: steps · 2ηλ. ~12 k samples: ~1.3 % standard error.
    assert increments.var().item() == pytest.approx(steps * 2 * eta * lam, rel=0.06)
    assert abs(increments.mean().item()) < 0.01
    assert out[3, :, 250:].abs().max() == 0


def test_seeded_generator_makes_runs_reproducible():
    mu, mask, target = condition()
    energy = QuadraticEnergy(target, 2.0)
    config = RefineConfig(steps=3, step_size=0.5, temperature=0.7, langevin=1.0)

    def run(seed: int) -> torch.Tensor:
        return refine(energy, mu, mask, config, torch.Generator().manual_seed(seed))

    assert torch.equal(run(5), run(5))
    assert not torch.allclose(run(5), run(6))


def test_network_refinement_keeps_mode_builds_no_graph_and_starts_from_y0():
    torch.manual_seed(0)
    net = EnergyNetwork(EnergyConfig.tiny(n_mels=N_MELS)).double().train()
    mu, mask, _ = condition()
    y0 = mu + 1.0
    out = refine(net, mu, mask, RefineConfig(steps=2, step_size=0.1), y0=y0)
    assert net.training
    assert not out.requires_grad
    assert all(p.grad is None for p in net.parameters())
    assert out.shape == mu.shape and out[1, :, 17:].abs().max() == 0
    # Zero steps from y0 is y0 (masked): the starting point replaces μ, μ stays the condition.
    same = refine(net, mu, mask, RefineConfig(steps=0), y0=y0)
    torch.testing.assert_close(same, y0 * mask, rtol=0, atol=0)
    with torch.inference_mode():
        torch.testing.assert_close(
            refine(net.eval(), mu, mask, RefineConfig(steps=2, step_size=0.1), y0=y0),
            refine(net, mu, mask, RefineConfig(steps=2, step_size=0.1), y0=y0),
        )


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="steps"):
        RefineConfig(steps=-1)
    with pytest.raises(ValueError, match="step_size"):
        RefineConfig(step_size=0.0)
    with pytest.raises(ValueError, match="langevin"):
        RefineConfig(langevin=-0.1)
