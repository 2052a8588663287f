"""The energy network against analytic truth: its score is its gradient, padding changes nothing."""

from __future__ import annotations

import pytest
import torch

from tts_ebm.model.energy import EnergyConfig, EnergyModel, EnergyNetwork

N_MELS = 8


def tiny_net(dtype: torch.dtype = torch.float64, **overrides: object) -> EnergyNetwork:
    """A seeded tiny network; a quadratic one gets a random (non-zero) residual head."""
    torch.manual_seed(0)
    net = EnergyNetwork(EnergyConfig.tiny(n_mels=N_MELS, **overrides))
    if net.config.form == "quadratic":
        torch.nn.init.normal_(net.out.weight, std=0.3)
        torch.nn.init.normal_(net.out.bias, std=0.3)
    return net.to(dtype).eval()


def batch(lengths: list[int], n_frames: int, dtype: torch.dtype = torch.float64):
    """Random y, mu and a (B, 1, T) mask; padded frames hold large garbage on purpose."""
    g = torch.Generator().manual_seed(1)
    y = 10 * torch.randn(len(lengths), N_MELS, n_frames, generator=g, dtype=dtype)
    mu = 10 * torch.randn(len(lengths), N_MELS, n_frames, generator=g, dtype=dtype)
    mask = (torch.arange(n_frames)[None, :] < torch.tensor(lengths)[:, None]).to(dtype)
    mask = mask.unsqueeze(1)
    y[:, :, :] = torch.where(mask.bool(), y / 10, y)
    mu[:, :, :] = torch.where(mask.bool(), mu / 10, mu)
    return y, mu, mask


def test_default_and_tiny_sizes():
    n_default = sum(p.numel() for p in EnergyNetwork().parameters())
    assert 10e6 <= n_default <= 12e6
    n_tiny = sum(p.numel() for p in EnergyNetwork(EnergyConfig.tiny()).parameters())
    assert n_tiny < 200_000


def test_config_accepts_lists_and_rejects_bad_sizes():
    assert EnergyConfig(channels=[16, 32], groups=4).channels == (16, 32)
    with pytest.raises(ValueError, match="divide"):
        EnergyConfig(channels=[20], groups=8)
    with pytest.raises(ValueError, match="odd"):
        EnergyConfig(kernel_size=4)
    with pytest.raises(ValueError, match="form"):
        EnergyConfig(form="cubic")
    with pytest.raises(ValueError, match="curvature"):
        EnergyConfig(form="quadratic", curvature=0.0)


def test_shapes_and_protocol():
    net = tiny_net()
    y, mu, mask = batch([13, 9, 1], 13)
    assert isinstance(net, EnergyModel)
    assert net.frame_energy(y, mu, mask).shape == (3, 13)
    assert net.energy(y, mu, mask).shape == (3,)
    assert torch.equal(net(y, mu, mask), net.energy(y, mu, mask))
    assert net.score(y, mu, mask).shape == y.shape


@pytest.mark.parametrize("form", ["scalar", "quadratic"])
def test_score_equals_finite_differences_of_energy(form):
    net = tiny_net(form=form)
    y, mu, mask = batch([21, 14], 21)
    score = net.score(y, mu, mask)
    h = 1e-5
    g = torch.Generator().manual_seed(2)
    for _ in range(3):
        v = torch.randn(y.shape, generator=g, dtype=y.dtype) * mask
        numeric = (net.energy(y + h * v, mu, mask) - net.energy(y - h * v, mu, mask)) / (2 * h)
        analytic = -(score * v).sum(dim=(1, 2))
        torch.testing.assert_close(analytic, numeric, rtol=1e-6, atol=1e-9)
    # A single coordinate too: the gradient is per element, not only per direction.
    e = torch.zeros_like(y)
    e[1, 3, 7] = 1.0
    numeric = (net.energy(y + h * e, mu, mask) - net.energy(y - h * e, mu, mask))[1] / (2 * h)
    assert -score[1, 3, 7].item() == pytest.approx(numeric.item(), rel=1e-6)


@pytest.mark.parametrize("form", ["scalar", "quadratic"])
@pytest.mark.parametrize("length", [1, 5, 16, 23])
def test_padding_changes_nothing_on_valid_frames(length, form):
    """An utterance alone (T = its length) and inside a padded batch with garbage after it."""
    net = tiny_net(torch.float32, form=form)
    y, mu, mask = batch([length, 30], 30, torch.float32)
    alone = (y[:1, :, :length], mu[:1, :, :length], mask[:1, :, :length])
    torch.testing.assert_close(
        net.energy(y, mu, mask)[:1], net.energy(*alone), rtol=1e-5, atol=1e-5
    )
    torch.testing.assert_close(
        net.score(y, mu, mask)[:1, :, :length], net.score(*alone), rtol=1e-5, atol=1e-5
    )


def test_score_is_zero_on_padded_frames():
    net = tiny_net()
    y, mu, mask = batch([17, 6], 17)
    score = net.score(y, mu, mask)
    assert score[1, :, 6:].abs().max() == 0
    assert score[1, :, :6].abs().max() > 0


def test_parameter_gradients_flow_through_score_with_create_graph():
    net = tiny_net().train()
    y, mu, mask = batch([12, 9], 12)
    score = net.score(y, mu, mask, create_graph=True)
    assert score.requires_grad
    score.pow(2).sum().backward()
    # Biases that reach the output only linearly add a constant per frame: no effect on the score.
    constant = {"out.bias", "up.1.0.residual.bias"}
    for name, p in net.named_parameters():
        if name in constant:
            assert p.grad is None or p.grad.abs().max() == 0
        else:
            assert p.grad is not None and p.grad.abs().max() > 0, name


def test_score_works_under_no_grad_and_inference_mode_without_graph():
    net = tiny_net()
    y, mu, mask = batch([10], 10)
    expected = net.score(y, mu, mask)
    with torch.no_grad():
        assert torch.equal(net.score(y, mu, mask), expected)
    with torch.inference_mode():
        y_inf, mu_inf, mask_inf = y.clone(), mu.clone(), mask.clone()
        torch.testing.assert_close(net.score(y_inf, mu_inf, mask_inf), expected)
    assert not expected.requires_grad
    assert all(p.grad is None for p in net.parameters())


def test_score_keeps_the_graph_of_an_input_that_requires_grad():
    """Back-propagating through a refinement step (CD's KL term) needs ∂s/∂y."""
    net = tiny_net()
    y, mu, mask = batch([10], 10)
    y = y.clone().requires_grad_(True)
    stepped = y + 0.1 * net.score(y, mu, mask, create_graph=True)
    (grad,) = torch.autograd.grad(stepped.sum(), y)
    assert grad.shape == y.shape and not torch.allclose(grad, torch.ones_like(grad))


def test_anchor_adds_exactly_half_beta_squared_distance():
    beta = 0.7
    plain, anchored = tiny_net(), tiny_net(anchor_beta=beta)
    anchored.load_state_dict(plain.state_dict())
    y, mu, mask = batch([15, 11], 15)
    expected = 0.5 * beta * ((y - mu) ** 2 * mask).sum(dim=(1, 2))
    diff = anchored.energy(y, mu, mask) - plain.energy(y, mu, mask)
    torch.testing.assert_close(diff, expected, rtol=1e-12, atol=1e-10)
    score_diff = anchored.score(y, mu, mask) - plain.score(y, mu, mask)
    torch.testing.assert_close(score_diff, -beta * (y - mu) * mask, rtol=1e-10, atol=1e-10)


def test_untrained_quadratic_energy_is_half_kappa_squared_distance_to_mu():
    """R starts at zero: E = ½κ‖Y − μ‖², so the score is κ(μ − Y): one step of 1/κ lands on μ."""
    kappa = 2.5
    torch.manual_seed(0)
    config = EnergyConfig.tiny(n_mels=N_MELS, form="quadratic", curvature=kappa)
    net = EnergyNetwork(config).double()
    y, mu, mask = batch([15, 11], 15)
    expected = 0.5 * kappa * ((y - mu) ** 2 * mask).sum(dim=(1, 2))
    torch.testing.assert_close(net.energy(y, mu, mask), expected, rtol=1e-12, atol=1e-10)
    score = net.score(y, mu, mask)
    torch.testing.assert_close(score, kappa * (mu - y) * mask, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close((y + score / kappa) * mask, mu * mask, rtol=1e-12, atol=1e-12)
