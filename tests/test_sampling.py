"""Refinement against closed forms: quadratic energies, and pure noise for the Langevin scale."""

from __future__ import annotations

import math

import pytest
import torch
from energies import QuadraticEnergy

from tts_ebm.model.energy import EnergyConfig, EnergyModule, EnergyNetwork
from tts_ebm.sampling import RefineConfig, refine, refine_details

N_MELS = 8


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


# -- schedules, early stopping, per-utterance noise ---------------------------------------------


def test_schedules_follow_their_documented_formulas():
    def sizes(**kw):
        return RefineConfig(steps=5, step_size=1.0, step_size_min=0.2, **kw).step_sizes()

    assert sizes() == [1.0] * 5
    assert sizes(schedule="linear") == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2])
    cosine = [0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(5)]
    assert sizes(schedule="cosine") == pytest.approx(cosine)
    assert sizes(schedule="cosine")[2] == pytest.approx(0.6)  # halfway: the mean of η, η_min
    assert RefineConfig(steps=1, schedule="linear", step_size_min=0.1).step_sizes() == [1.0]
    assert RefineConfig(steps=3, step_size=[0.5, 0.2, 0.1]).step_sizes() == [0.5, 0.2, 0.1]
    assert RefineConfig(steps=0, schedule="cosine").step_sizes() == []


def test_bad_schedules_are_rejected():
    with pytest.raises(ValueError, match="one value per step"):
        RefineConfig(steps=3, step_size=[0.5, 0.2])
    with pytest.raises(ValueError, match="not both"):
        RefineConfig(steps=2, step_size=[0.5, 0.2], schedule="linear")
    with pytest.raises(ValueError, match="step_size must be positive"):
        RefineConfig(steps=2, step_size=[0.5, 0.0])
    with pytest.raises(ValueError, match="unknown schedule"):
        RefineConfig(schedule="exponential")
    with pytest.raises(ValueError, match="step_size_min"):
        RefineConfig(schedule="linear", step_size=0.5, step_size_min=0.6)
    with pytest.raises(ValueError, match="stop_threshold"):
        RefineConfig(stop_threshold=-1.0)


def test_scheduled_steps_are_the_ones_taken():
    """Quadratic energy, scale a: Y_K − t = Π_k (1 − η_k/a) (μ − t)."""
    mu, mask, target = condition()
    config = RefineConfig(steps=4, step_size=0.8, schedule="cosine", step_size_min=0.1)
    out = refine(QuadraticEnergy(target, 1.0), mu, mask, config)
    factor = math.prod(1 - eta for eta in config.step_sizes())
    torch.testing.assert_close(out - target, factor * (mu - target), rtol=1e-12, atol=1e-12)


class CountingEnergy(QuadraticEnergy):
    """Counts score evaluations, to see when the loop really ends."""

    calls = 0

    def score(self, y, mu, mask, create_graph=False):
        self.calls += 1
        return super().score(y, mu, mask, create_graph)


def _rms(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return ((x**2).sum(dim=(1, 2)) / (mask.sum(dim=(1, 2)) * x.shape[1])).sqrt()


@pytest.mark.parametrize("check_every", [1, 3])
def test_early_stop_freezes_each_utterance_and_ends_the_loop(check_every):
    """Score RMS shrinks by (1 − η) per step; an utterance stops at the first step below."""
    mu, mask, target = condition(lengths=(30, 17, 25))
    mu = mu + torch.tensor([4.0, 1.0, 0.0], dtype=mu.dtype)[:, None, None] * (target - mu)
    mu = mu * mask
    eta, threshold = 0.5, 0.3
    energy = CountingEnergy(target, 1.0)
    config = RefineConfig(
        steps=20, step_size=eta, stop_threshold=threshold, stop_check_every=check_every
    )
    out = refine_details(energy, mu, mask, config)
    rms0 = _rms(target - mu, mask)
    expected = [
        0 if r < threshold else math.ceil(math.log(threshold / r) / math.log(1 - eta))
        for r in rms0.tolist()
    ]
    assert out.steps_taken.tolist() == expected
    for b, k in enumerate(expected):
        torch.testing.assert_close(
            out.y[b] - target[b], (1 - eta) ** k * (mu[b] - target[b]), rtol=1e-12, atol=1e-12
        )
    # The loop ends at the first check after every utterance stopped, not after 20 steps.
    last_step = max(expected) + 1
    assert energy.calls == math.ceil(last_step / check_every) * check_every < 20


def test_a_large_threshold_means_zero_effective_steps():
    mu, mask, target = condition()
    config = RefineConfig(steps=6, step_size=0.5, langevin=1.0, stop_threshold=1e9)
    out = refine_details(QuadraticEnergy(target, 1.0), mu, mask, config, torch.Generator())
    assert out.steps_taken.tolist() == [0, 0]
    assert torch.equal(out.y, mu)


def test_per_utterance_generators_make_results_independent_of_the_batch():
    mu, mask, target = condition(lengths=(30, 17))
    energy = QuadraticEnergy(target, 2.0)
    config = RefineConfig(steps=3, step_size=0.5, temperature=0.7, langevin=1.0)

    def gens(*seeds):
        return [torch.Generator().manual_seed(s) for s in seeds]

    both = refine(energy, mu, mask, config, gens(1, 2))
    second = refine(
        QuadraticEnergy(target[1:, :, :17], 2.0),
        mu[1:, :, :17],
        mask[1:, :, :17],
        config,
        gens(2),
    )
    torch.testing.assert_close(both[1:, :, :17], second, rtol=0, atol=1e-12)
    assert both[1, :, 17:].abs().max() == 0
    with pytest.raises(ValueError, match="3 generators for a batch of 2"):
        refine(energy, mu, mask, config, gens(1, 2, 3))


def test_refined_errors_match_the_geometric_decay_of_gradient_descent():
    """On E = ½‖y − t‖²/s, K steps of η leave (1 − η/s)^K of μ − t: MSE × (1 − η/s)^2K."""
    from tts_ebm.train.refinement import masked_mse, refined_errors

    mu, mask, target = condition()
    scale = 2.0
    energy = QuadraticEnergy(target, scale).double()
    errors = refined_errors(energy, mu, target, mask, steps=[4, 0, 1, 16], step_sizes=[1.0, 0.5])
    prior = masked_mse(mu, target, mask)
    assert set(errors) == {(0, 0.0)} | {(k, eta) for k in (1, 4, 16) for eta in (1.0, 0.5)}
    torch.testing.assert_close(errors[(0, 0.0)], prior)
    for (k, eta), error in errors.items():
        expected = prior * (1 - eta / scale) ** (2 * k)
        torch.testing.assert_close(error, expected, rtol=1e-10, atol=1e-14)
