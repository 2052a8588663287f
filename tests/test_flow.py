"""The flow-matching decoder: one trunk with the energy, its loss and Euler sampler by hand, and
a toy run that trains, exports and synthesises through the same commands as the energies."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import soundfile as sf
import torch
from test_train import metrics, run_training, series

from tts_ebm.checkpoint import load_inference_checkpoint
from tts_ebm.model.energy import EnergyConfig, EnergyNetwork
from tts_ebm.model.flow import FlowDecoder, VectorField, build_decoder
from tts_ebm.objectives import FlowMatching, ObjectiveInputs, build_objective
from tts_ebm.sampling import RefineConfig, refine, refine_details
from tts_ebm.train.config_schema import check_training_config
from tts_ebm.train.run import compose_config

pytestmark = pytest.mark.usefixtures("one_thread")

FLOW = EnergyConfig.tiny(form="flow")


def test_decoder_shares_the_energy_trunk_and_is_padding_invariant():
    decoder = FlowDecoder(FLOW).eval()
    energy = EnergyNetwork(EnergyConfig.tiny())
    trunk = {n: p.shape for n, p in energy.named_parameters() if not n.startswith("out")}
    flow = dict(decoder.named_parameters())
    # The energy's stacks under the same names and shapes; only time and head are added.
    assert all(flow[n].shape == shape for n, shape in trunk.items())
    assert {n.split(".")[0] for n in flow.keys() - trunk.keys()} == {
        "time_embedding",
        "time_projections",
        "out",
    }
    assert isinstance(build_decoder(FLOW), FlowDecoder)
    assert isinstance(build_decoder(EnergyConfig.tiny()), EnergyNetwork)
    with pytest.raises(ValueError, match="not an energy"):
        EnergyNetwork(FLOW)
    mu, mask = torch.randn(2, 80, 37), torch.ones(2, 1, 37)
    mask[1, :, 30:] = 0
    x, t = torch.randn(2, 80, 37), torch.tensor([0.2, 0.7])
    v = decoder.velocity(x, mu, mask, t)
    assert v.shape == (2, 80, 37) and torch.all(v[1, :, 30:] == 0)
    alone = decoder.velocity(x[1:, :, :30], mu[1:, :, :30], mask[1:, :, :30], t[1:])
    torch.testing.assert_close(alone, v[1:, :, :30], atol=1e-5, rtol=1e-5)
    # The time input matters: the same x at another t moves differently.
    assert not torch.allclose(decoder.velocity(x, mu, mask, 0.9), v)


class RecordingField:
    """v(x, μ, t) = a·x + b·μ + c·t, remembering the t it was asked at."""

    def __init__(self, a: float, b: float, c: float) -> None:
        self.a, self.b, self.c = a, b, c
        self.times: list[torch.Tensor] = []

    def velocity(self, x, mu, mask, t):
        t = torch.as_tensor(t, dtype=x.dtype).expand(x.shape[0])
        self.times.append(t.clone())
        return (self.a * x + self.b * mu + self.c * t[:, None, None]) * mask


def test_flow_loss_against_the_hand_computed_value():
    torch.manual_seed(0)
    y, mu = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    mask = torch.ones(2, 1, 4)
    mask[1, :, 3:] = 0
    inputs = ObjectiveInputs(y_ref=y, mu=mu, mask=mask)
    objective = FlowMatching(sigma=0.0)  # x₀ = μ: only t is random
    field = RecordingField(a=1.0, b=0.0, c=0.0)  # v = x_t
    loss = objective(field, inputs).loss
    (t,) = field.times
    # x_t = μ + t(Y − μ), target Y − μ: L = mean over valid elements of (x_t − (Y − μ))².
    expected_terms = []
    for b in range(2):
        n = int(mask[b].sum())
        x_t = mu[b, :, :n] + t[b] * (y[b, :, :n] - mu[b, :, :n])
        expected_terms.append((x_t - (y[b, :, :n] - mu[b, :, :n])).pow(2).flatten())
    expected = torch.cat(expected_terms).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    # The exact field of the straight path (Y − μ, known to the test) has zero loss.
    exact = RecordingField(a=0.0, b=0.0, c=0.0)
    exact.velocity = lambda x, mu_, m, t_: (y - mu) * m  # type: ignore[method-assign]
    assert objective(exact, inputs).loss.item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(TypeError, match="flow decoder"):
        objective(EnergyNetwork(EnergyConfig.tiny(n_mels=3, groups=4)), inputs)
    assert isinstance(build_objective({"name": "flow", "sigma": 0.5}), FlowMatching)


def test_euler_sampler_against_the_exact_solution_of_a_linear_field():
    """dx/dt = λ(μ − x): x(1) = μ + (x₀ − μ)e^{−λ}; K Euler steps give (1 − λ/K)^K, at t = k/K."""
    lam = 2.0
    mu, x0 = torch.randn(1, 80, 5), torch.randn(1, 80, 5)
    mask = torch.ones(1, 1, 5)
    exact = mu + (x0 - mu) * math.exp(-lam)
    errors = {}
    for k in (1, 10, 20, 40):
        field = RecordingField(a=-lam, b=lam, c=0.0)
        out = refine(field, mu, mask, RefineConfig(steps=k), y0=x0)
        torch.testing.assert_close(out, mu + (x0 - mu) * (1 - lam / k) ** k)
        assert [float(t[0]) for t in field.times] == pytest.approx([i / k for i in range(k)])
        errors[k] = (out - exact).abs().max().item()
    # K = 0 is the start itself, as for an energy.
    assert torch.equal(refine(RecordingField(1.0, 0.0, 0.0), mu, mask, RefineConfig(steps=0)), mu)
    # First order: doubling the steps halves the error.
    assert errors[20] / errors[10] == pytest.approx(0.5, abs=0.05)
    assert errors[40] / errors[20] == pytest.approx(0.5, abs=0.03)
    # A field in t only, v = c·t: Euler's left sum Σ c(k/K)/K = c/2·(1 − 1/K), not the exact c/2.
    field = RecordingField(a=0.0, b=0.0, c=3.0)
    out = refine(field, mu, mask, RefineConfig(steps=4), y0=x0)
    torch.testing.assert_close(out, x0 + 3.0 / 2 * (1 - 1 / 4))


def test_knobs_only_an_energy_has_are_refused():
    field = RecordingField(a=0.0, b=0.0, c=0.0)
    assert isinstance(field, VectorField)
    mu, mask = torch.zeros(1, 80, 4), torch.ones(1, 1, 4)
    for config, trajectory in (
        (RefineConfig(steps=2, langevin=1.0), False),
        (RefineConfig(steps=2, stop_threshold=0.1), False),
        (RefineConfig(steps=2), True),
    ):
        with pytest.raises(ValueError, match="Euler steps"):
            refine_details(field, mu, mask, config, return_trajectory=trajectory)


def test_objective_and_network_form_must_agree():
    check_training_config(compose_config(["experiment=toy", "objective=flow"]))
    with pytest.raises(ValueError, match="cannot train network form 'scalar'"):
        check_training_config(
            compose_config(["experiment=toy", "objective=flow", "model.network.energy.form=scalar"])
        )
    with pytest.raises(ValueError, match="objective 'delta' cannot train network form 'flow'"):
        check_training_config(compose_config(["experiment=toy", "model.network.energy.form=flow"]))


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("flow") / "run"
    run_training(run_dir, "objective=flow", "trainer.max_steps=200", "trainer.val_every_steps=100")
    return run_dir


def test_flow_trains_on_the_toy_corpus_and_euler_steps_beat_the_prior(flow_run):
    rows = metrics(flow_run)
    prior = series(rows, "val/mse_prior")
    one, ten = series(rows, "val/mse_refined_1"), series(rows, "val/mse_refined_10")
    losses = series(rows, "train/objective")
    first, last = min(losses), max(losses)
    assert losses[last] < 0.7 * losses[first]
    assert one[199] < 0.85 * prior[199] and ten[199] < 0.85 * prior[199]
    checkpoint = load_inference_checkpoint(flow_run / "model.safetensors")
    assert isinstance(checkpoint.model.energy, FlowDecoder)
    assert checkpoint.inference["steps"] == 10 and checkpoint.inference["temperature"] == 0.667


def test_flow_checkpoint_synthesises_through_the_cli(flow_run, tmp_path):
    model = str(flow_run / "model.safetensors")
    common = ["--checkpoint", model, "--vocoder", "griffin-lim", "--save-mel"]

    def synthesize(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "tts_ebm.cli", "synthesize", "la mi.", *args, *common]
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    done = synthesize(str(tmp_path / "k2.wav"), "--steps", "2")
    assert done.returncode == 0, done.stderr
    assert sf.info(tmp_path / "k2.wav").frames > 0
    refused = synthesize(str(tmp_path / "noisy.wav"), "--langevin", "0.5")
    assert refused.returncode != 0
    assert "Euler steps" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "noisy.wav").exists()
