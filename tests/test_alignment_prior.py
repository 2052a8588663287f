"""The beta-binomial alignment prior (RAD-TTS) that steers MAS in early training steps.

The prior against scipy's beta-binomial and a closed form, its masking, MAS on a flat
likelihood with and without it, and the training option: off changes nothing, on changes the
path only inside its first ``steps`` steps.
"""

from __future__ import annotations

import math

import pytest
import torch
from models import toy_module
from scipy.stats import betabinom

from tts_ebm.model.alignment import beta_binomial_log_prior, durations_from_path, maximum_path
from tts_ebm.model.layers import sequence_mask
from tts_ebm.train.config_schema import check_training_config
from tts_ebm.train.data import Batch
from tts_ebm.train.module import EBMTTSModule, alignment_prior_weight
from tts_ebm.train.run import compose_config

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("scaling", [1.0, 2.5])
def test_prior_is_the_beta_binomial_over_each_utterances_tokens(scaling):
    prior = beta_binomial_log_prior(torch.tensor([4, 3]), torch.tensor([12, 7]), 4, 12, scaling)
    assert prior.shape == (2, 4, 12) and prior.dtype == torch.float32
    for row, (n_tokens, n_frames) in enumerate([(4, 12), (3, 7)]):
        for t in range(1, n_frames + 1):
            alpha, beta = scaling * t, scaling * (n_frames - t + 1)
            expected = betabinom.logpmf(range(n_tokens), n_tokens - 1, alpha, beta)
            got = prior[row, :n_tokens, t - 1].double()
            assert torch.allclose(got, torch.from_numpy(expected), atol=1e-5)


def test_two_token_prior_is_the_fraction_of_frames_left():
    # n = 1 trial: P(token 0 | frame t) = β/(α + β) = (T − t + 1)/(T + 1) at scaling 1.
    prior = beta_binomial_log_prior(torch.tensor([2]), torch.tensor([5]), 2, 5)
    first = torch.tensor([math.log((5 - t + 1) / 6) for t in range(1, 6)])
    assert torch.allclose(prior[0, 0], first, atol=1e-6)
    assert torch.allclose(prior[0, 1], torch.log1p(-first.exp()), atol=1e-6)


def test_prior_is_zero_outside_each_utterance_and_normalised_inside():
    prior = beta_binomial_log_prior(torch.tensor([4, 3, 1]), torch.tensor([12, 7, 5]), 5, 14)
    for row, (n_tokens, n_frames) in enumerate([(4, 12), (3, 7), (1, 5)]):
        inside = prior[row, :n_tokens, :n_frames]
        assert torch.allclose(inside.exp().sum(0), torch.ones(n_frames), atol=1e-5)
        assert torch.all(prior[row, n_tokens:] == 0) and torch.all(prior[row, :, n_frames:] == 0)
    assert torch.all(prior[2, 0, :5] == 0)  # one token: log 1 in every frame


def test_prior_turns_mas_on_a_flat_likelihood_into_the_diagonal():
    # μ_x all equal: every monotonic path is equally likely, and the kernel's tie-break gives
    # the last token all frames but one per earlier token.
    flat = torch.zeros(2, 4, 12)
    tokens, frames = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]), torch.ones(2, 12)
    without = durations_from_path(maximum_path(flat, tokens, frames))
    assert without.tolist() == [[1, 1, 1, 9], [1, 1, 10, 0]]
    prior = beta_binomial_log_prior(torch.tensor([4, 3]), torch.tensor([12, 12]), 4, 12)
    with_prior = durations_from_path(maximum_path(flat + prior, tokens, frames))
    assert with_prior.tolist() == [[3, 3, 3, 3], [4, 4, 4, 0]]


def test_prior_weight_anneals_linearly_to_zero_over_its_steps():
    options = {"steps": 4, "weight": 2.0, "scaling": 1.0}
    weights = [alignment_prior_weight(options, step) for step in range(6)]
    assert weights == [2.0, 1.5, 1.0, 0.5, 0.0, 0.0]
    assert alignment_prior_weight(None, 0) == 0.0  # a run saved before the option existed
    assert alignment_prior_weight({**options, "steps": 0}, 0) == 0.0


def test_bad_alignment_prior_options_are_refused_in_one_line():
    check_training_config(compose_config(["experiment=toy", "model.alignment_prior.steps=100"]))
    for override, message in [
        ("model.alignment_prior.scaling=0", "model.alignment_prior.scaling must be positive"),
        ("model.alignment_prior.weight=-1", "model.alignment_prior.weight must be >= 0"),
        ("+model.alignment_prior.step=5", "model.alignment_prior has an unknown key 'step'"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_training_config(compose_config(["experiment=toy", override]))


def toy_batch(durations: torch.Tensor | None = None) -> Batch:
    g = torch.Generator().manual_seed(1)
    return Batch(
        ids=["a", "b"],
        tokens=torch.randint(1, 12, (2, 6), generator=g),
        token_lengths=torch.tensor([6, 4]),
        mel=torch.randn(2, 80, 30, generator=g),
        mel_lengths=torch.tensor([30, 20]),
        durations=durations,
    )


def step_loss(module: EBMTTSModule, step: int) -> torch.Tensor:
    torch.manual_seed(7)  # the criterion's noise
    return module._losses(toy_batch(), step)[0]["loss"]


def test_option_off_leaves_training_bit_identical():
    absent = toy_module()
    del absent.config["model"]["alignment_prior"]  # as in a run saved before the option
    off = toy_module("model.alignment_prior.steps=0")
    ended = toy_module("model.alignment_prior.steps=3")
    assert torch.equal(step_loss(absent, 0), step_loss(off, 0))
    assert torch.equal(step_loss(absent, 3), step_loss(ended, 3))


def test_option_on_changes_the_mas_path_only_in_its_first_steps():
    # A weight that drowns the untrained encoder's likelihood: the path is the prior's own.
    steps = ["model.alignment_prior.steps=3", "model.alignment_prior.weight=1e4"]
    module, off = toy_module(*steps), toy_module()
    batch = toy_batch()
    reference = off._align(batch, 0).durations
    prior = beta_binomial_log_prior(batch.token_lengths, batch.mel_lengths, 6, 30)
    token_mask = sequence_mask(batch.token_lengths, 6)
    diagonal = durations_from_path(
        maximum_path(prior, token_mask, sequence_mask(batch.mel_lengths, 30))
    )
    assert diagonal.tolist() == [[5] * 6, [5] * 4 + [0, 0]]
    assert torch.equal(module._align(batch, 0).durations, diagonal)
    assert not torch.equal(reference, diagonal)
    for step in (3, 10):
        assert torch.equal(module._align(batch, step).durations, reference)
    assert torch.equal(module._align(batch).durations, reference)  # validation: never


def test_stored_durations_ignore_the_prior():
    durations = torch.tensor([[10, 5, 5, 4, 3, 3], [2, 8, 5, 5, 0, 0]])
    module = toy_module("model.alignment_prior.steps=3", "model.alignment_prior.weight=1e4")
    aligned = module._align(toy_batch(durations), 0)
    assert torch.equal(aligned.durations, durations)
