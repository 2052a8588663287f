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
        with pytest.raises(ValueError, match="flow decoder integrates an ODE"):
            refine_details(field, mu, mask, config, return_trajectory=trajectory)


@pytest.mark.parametrize("solver", ["midpoint", "heun"])
def test_second_order_solvers_against_the_exact_solution_of_a_linear_field(solver):
    """dx/dt = λ(μ − x) + c·t: both solvers are exact for the t-only part (a linear slope) and
    second order for the rest: doubling the steps quarters the error; they take two evaluations
    per step, so at equal evaluations they beat Euler on this smooth field."""
    lam, c = 2.0, 3.0
    mu, x0 = torch.randn(1, 80, 5), torch.randn(1, 80, 5)
    mask = torch.ones(1, 1, 5)
    # x(1) of x' = λ(μ − x) + c·t: μ + (x₀ − μ)e^{−λ} + c(λ − 1 + e^{−λ})/λ².
    exact = mu + (x0 - mu) * math.exp(-lam) + c * (lam - 1 + math.exp(-lam)) / lam**2
    errors = {}
    for k in (5, 10, 20):
        field = RecordingField(a=-lam, b=lam, c=c)
        config = RefineConfig(steps=k, solver=solver)
        out = refine(field, mu, mask, config, y0=x0)
        assert len(field.times) == config.network_evaluations(flow=True) == 2 * k
        errors[k] = (out - exact).abs().max().item()
    assert errors[10] / errors[5] == pytest.approx(0.25, abs=0.04)
    assert errors[20] / errors[10] == pytest.approx(0.25, abs=0.02)
    euler = refine(RecordingField(a=-lam, b=lam, c=c), mu, mask, RefineConfig(steps=20), y0=x0)
    assert errors[10] < 0.2 * (euler - exact).abs().max().item()
    # A field in t only: the midpoint and trapezoid rules are exact for a linear slope.
    field = RecordingField(a=0.0, b=0.0, c=3.0)
    out = refine(field, mu, mask, RefineConfig(steps=4, solver=solver), y0=x0)
    torch.testing.assert_close(out, x0 + 3.0 / 2)


def test_an_energy_refuses_an_ode_solver():
    energy = EnergyNetwork(EnergyConfig.tiny(n_mels=80))
    mu, mask = torch.zeros(1, 80, 4), torch.ones(1, 1, 4)
    with pytest.raises(ValueError, match="solver 'heun' integrates a flow decoder"):
        refine(energy, mu, mask, RefineConfig(steps=2, solver="heun"))
    with pytest.raises(ValueError, match="solver"):
        RefineConfig(solver="rk4")


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
    assert "integrates an ODE" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "noisy.wav").exists()


def test_step_sizes_tunes_a_flow_by_temperature_and_solver_at_equal_evaluations(
    flow_run, tmp_path, capsys
):
    """`tts-ebm step-sizes` on a flow: every (solver, K, τ), one recomputed by hand from the same
    seeded source, and the best knobs keyed by network evaluations (midpoint: 2 per step)."""
    import json

    from omegaconf import OmegaConf

    from tts_ebm.cli import main
    from tts_ebm.train.refinement import masked_mse
    from tts_ebm.train.step_sizes import prepared_batches

    model = flow_run / "model.safetensors"
    prepared = OmegaConf.load(flow_run / "config.yaml").data.prepared_dir
    out = tmp_path / "flow.json"
    args = ["step-sizes", str(model), prepared, "--steps", "1,2", "--temperatures", "0,0.5"]
    assert main([*args, "--solvers", "midpoint,euler", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "midpoint  2   4" in printed and "best at 4 evaluations" in printed
    table = json.loads(out.read_text())
    assert table["solvers"] == ["euler", "midpoint"] and table["temperatures"] == [0.0, 0.5]
    assert len(table["errors"]) == 2 * 2 * 2
    ckpt = load_inference_checkpoint(model)
    squares = elements = 0.0
    for batch in prepared_batches(ckpt, prepared):
        aligned = ckpt.model.align(batch.tokens, batch.token_lengths, batch.mel, batch.mel_lengths)
        mask = aligned.frame_mask
        noise = torch.randn(aligned.mu.shape, generator=torch.Generator().manual_seed(0))
        start = (aligned.mu + 0.5 * noise) * mask
        config = RefineConfig(steps=2, solver="midpoint")
        y = refine(ckpt.model.energy, aligned.mu, mask, config, y0=start)
        n = float(mask.sum()) * y.shape[1]
        squares += float(masked_mse(y, batch.mel, mask)) * n
        elements += n
    assert table["errors"]["midpoint/2@0.5"] == pytest.approx(squares / elements, rel=1e-5)
    # Evaluations: Euler 1 and 2, midpoint 2 and 4; each entry the least error among its knobs.
    assert sorted(table["best"], key=int) == ["1", "2", "4"]
    at_two = [
        table["errors"][f"{s}/{k}@{t:g}"]
        for s, k in (("euler", 2), ("midpoint", 1))
        for t in (0, 0.5)
    ]
    assert table["best"]["2"]["mse"] == min(at_two)
    assert table["prior"] > table["best"]["1"]["mse"]
    # An energy's knobs are its step sizes: the flow table refuses one.
    from tts_ebm.train.step_sizes import flow_knob_table

    with pytest.raises(ValueError, match="not a flow decoder"):
        flow_knob_table("tts_ebm/voices/default.safetensors", prepared, [1])
