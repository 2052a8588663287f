"""The objective interface and the delta criterion against analytic energies."""

from __future__ import annotations

import pytest
import torch
from energies import QuadraticEnergy

from tts_ebm.model.energy import EnergyConfig, EnergyNetwork
from tts_ebm.objectives import (
    DeltaObjective,
    Objective,
    ObjectiveInputs,
    ObjectiveOutput,
    WeightedSum,
    build_hypothesis_source,
    build_objective,
    masked_mean,
    register_objective,
)

N_MELS = 6


def make_inputs(lengths=(20, 13, 7), n_frames=20, seed=0) -> ObjectiveInputs:
    g = torch.Generator().manual_seed(seed)
    mask = (torch.arange(n_frames)[None, :] < torch.tensor(lengths)[:, None]).double()
    mask = mask.unsqueeze(1)
    mu = torch.randn(len(lengths), N_MELS, n_frames, generator=g, dtype=torch.float64) * mask
    y_ref = (mu + 0.5 * torch.randn(mu.shape, generator=g, dtype=torch.float64)) * mask
    return ObjectiveInputs(y_ref=y_ref, mu=mu, mask=mask, utterance_ids=None, step=0)


@pytest.mark.parametrize("path_sampling", [False, True])
@pytest.mark.parametrize("source", ["prior", "noisy_ref"])
def test_delta_loss_is_zero_when_one_step_lands_on_target(source, path_sampling):
    inputs = make_inputs()
    eta = 0.37
    objective = DeltaObjective(eta, {"source": source, "sigma": 0.8}, path_sampling)
    out = objective(QuadraticEnergy(inputs.y_ref, eta), inputs)
    assert out.loss.shape == ()
    assert out.loss.item() < 1e-20
    assert out.logs["delta/dist_after"] < 1e-10
    assert out.logs["delta/dist_before"] > 0.1


def test_delta_loss_equals_hand_computed_value_for_a_mismatched_step():
    inputs = make_inputs()
    eta, eta_energy, sigma = 0.5, 2.0, 0.8
    objective = DeltaObjective(eta, {"source": "prior", "sigma": sigma})
    torch.manual_seed(3)
    out = objective(QuadraticEnergy(inputs.y_ref, eta_energy), inputs)
    torch.manual_seed(3)  # the same draw, by hand: Y⁻ = μ + σε
    y_neg = (inputs.mu + sigma * torch.randn_like(inputs.mu)) * inputs.mask
    gap = ((inputs.y_ref - y_neg) ** 2 * inputs.mask).sum() / (inputs.mask.sum() * N_MELS)
    expected = (1 - eta / eta_energy) ** 2 * gap
    torch.testing.assert_close(out.loss, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(out.logs["delta/dist_before"], gap.sqrt(), rtol=1e-12, atol=0)


def test_path_sampling_starts_between_hypothesis_and_reference():
    """From Y_t the target is Y⁺ − Y_t = (1 − t)(Y⁺ − Y⁻): the distances shrink by (1 − t)."""
    inputs = make_inputs(lengths=[4] * 2000, n_frames=4, seed=4)
    eta, eta_energy = 1.0, 4.0
    sigma = 1.0
    plain = DeltaObjective(eta, {"source": "noisy_ref", "sigma": sigma})
    path = DeltaObjective(eta, {"source": "noisy_ref", "sigma": sigma}, path_sampling=True)
    energy = QuadraticEnergy(inputs.y_ref, eta_energy)
    before_plain = plain(energy, inputs).logs["delta/dist_before"]
    out = path(energy, inputs)
    # ‖Y⁺ − Y⁻‖² = σ² per element; with t ~ U[0, 1): E(1 − t)² = 1/3.
    assert before_plain.item() == pytest.approx(sigma, rel=0.05)
    assert out.logs["delta/dist_before"].item() ** 2 == pytest.approx(sigma**2 / 3, rel=0.1)
    expected = (1 - eta / eta_energy) ** 2 * out.logs["delta/dist_before"] ** 2
    torch.testing.assert_close(out.loss, expected, rtol=1e-12, atol=0)


def test_delta_trains_a_tiny_energy_network(one_thread):
    """150 Adam steps on Y⁺ = f(μ) must make one step from μ + ε land much nearer Y⁺."""
    torch.manual_seed(0)
    n_mels, n_frames = 8, 32
    kernel = torch.tensor([0.25, 0.5, 0.25]).repeat(n_mels, 1, 1)

    def problem(batch_size: int) -> ObjectiveInputs:
        mu = torch.randn(batch_size, n_mels, n_frames).repeat_interleave(4, dim=-1)[..., :n_frames]
        y_ref = 1.5 * torch.tanh(torch.conv1d(mu, kernel, padding=1, groups=n_mels)) - 0.5
        lengths = torch.randint(n_frames // 2, n_frames + 1, (batch_size,))
        mask = (torch.arange(n_frames)[None, :] < lengths[:, None]).float().unsqueeze(1)
        return ObjectiveInputs(y_ref=y_ref * mask, mu=mu * mask, mask=mask)

    net = EnergyNetwork(EnergyConfig.tiny(n_mels=n_mels))
    objective = DeltaObjective(step_size=1.0, hypothesis={"source": "prior", "sigma": 1.0})
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(150):
        out = objective(net, problem(16))
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    with torch.no_grad():
        out = objective(net.eval(), problem(64))
    ratio = out.logs["delta/dist_after"] / out.logs["delta/dist_before"]
    # Untrained ≈ 100 %; stepping back to μ itself would keep ≈ 51 %; trained reaches ≈ 24 %.
    assert ratio < 0.4, f"one step keeps {ratio:.0%} of the distance"


def test_validation_under_no_grad_or_inference_mode_builds_no_graph():
    net = EnergyNetwork(EnergyConfig.tiny(n_mels=N_MELS)).double()
    with torch.no_grad():
        out = DeltaObjective()(net, make_inputs())
    assert not out.loss.requires_grad and out.loss.item() > 0
    with torch.inference_mode():
        out = DeltaObjective()(net, make_inputs())
    assert out.loss.item() > 0


def test_weighted_sum_of_two_deltas():
    inputs = make_inputs()
    energy = QuadraticEnergy(inputs.y_ref, 1.0)
    # σ = 0 makes Y⁻ = μ, so each term's loss is known: (1 − η)²·‖Y⁺ − μ‖² masked mean.
    gap = masked_mean((inputs.y_ref - inputs.mu) ** 2, inputs.mask)
    config = {
        "name": "sum",
        "terms": [
            {
                "weight": 0.3,
                "name": "delta",
                "step_size": 0.5,
                "hypothesis": {"sigma": 0.0, "source": "prior"},
            },
            {
                "weight": 2.0,
                "name": "delta",
                "step_size": 2.0,
                "hypothesis": {"sigma": 0.0, "source": "prior"},
            },
        ],
    }
    total = build_objective(config)
    assert isinstance(total, WeightedSum)
    out = total(energy, inputs)
    torch.testing.assert_close(out.loss, (0.3 * 0.25 + 2.0 * 1.0) * gap, rtol=1e-12, atol=0)
    torch.testing.assert_close(out.logs["delta0/loss"], 0.25 * gap, rtol=1e-12, atol=0)
    torch.testing.assert_close(out.logs["delta1/loss"], 1.0 * gap, rtol=1e-12, atol=0)
    assert out.logs["sum/loss"] == out.loss
    single = WeightedSum([(2.0, DeltaObjective(0.5, {"source": "prior", "sigma": 0.0}))])
    assert "delta/dist_after" in single(energy, inputs).logs


class CountingObjective(Objective):
    """A stateful stand-in: hook calls and extra state, and no parameters for its state."""

    name = "counting"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def forward(self, energy, inputs):
        return ObjectiveOutput(loss=energy.energy(inputs.y_ref, inputs.mu, inputs.mask).mean())

    def on_train_batch_end(self, energy, step):
        self.calls.append(step)

    def get_extra_state(self):
        return {"calls": list(self.calls)}

    def set_extra_state(self, state):
        self.calls = list(state["calls"])


def test_weighted_sum_forwards_hooks_and_state():
    counting = CountingObjective()
    total = WeightedSum([(1.0, counting), (1.0, DeltaObjective())])
    total.on_train_batch_end(QuadraticEnergy(torch.zeros(1), 1.0), step=7)
    assert counting.calls == [7]
    restored = WeightedSum([(1.0, CountingObjective()), (1.0, DeltaObjective())])
    restored.load_state_dict(total.state_dict())
    assert restored.terms[0].calls == [7]
    assert list(total.parameters()) == []


def test_registry_errors():
    with pytest.raises(ValueError, match="unknown objective 'nope'.*delta.*sum"):
        build_objective({"name": "nope"})
    with pytest.raises(ValueError, match="bad options for objective 'delta'"):
        build_objective({"name": "delta", "stepsize": 1.0})
    with pytest.raises(ValueError, match="unknown hypothesis source 'nope'.*prior"):
        build_objective({"name": "delta", "hypothesis": {"source": "nope"}})
    with pytest.raises(ValueError, match="bad options for hypothesis source"):
        build_hypothesis_source({"source": "prior", "temperature": 1.0})
    with pytest.raises(ValueError, match="registered twice"):
        register_objective("delta")(DeltaObjective)
    built = build_objective({"name": "delta", "step_size": 0.5, "path_sampling": True})
    assert isinstance(built, DeltaObjective) and built.path_sampling and built.step_size == 0.5
