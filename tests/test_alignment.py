"""Durations, MAS and the alignment losses."""

from __future__ import annotations

import math

import pytest
import torch

from tts_ebm.model.alignment import (
    duration_loss,
    durations_from_path,
    expand,
    gaussian_log_likelihood,
    maximum_path,
    monotonic_align,
    path_from_durations,
    predict_durations,
    prior_loss,
)
from tts_ebm.model.layers import sequence_mask


def _assert_valid_path(path: torch.Tensor, token_mask: torch.Tensor, frame_mask: torch.Tensor):
    """Hard, inside both masks, one token per valid frame, monotonic from first to last token."""
    tm, fm = token_mask.float(), frame_mask.float()
    assert set(path.unique().tolist()) <= {0.0, 1.0}
    assert torch.all(path * (1 - tm).unsqueeze(2) == 0)
    assert torch.all(path * (1 - fm).unsqueeze(1) == 0)
    assert torch.equal(path.sum(1), fm)
    token_of_frame = path.argmax(1)  # (B, T)
    for b in range(path.shape[0]):
        n_frames = int(fm[b].sum())
        steps = token_of_frame[b, :n_frames].diff()
        assert torch.all((steps == 0) | (steps == 1))
        assert token_of_frame[b, 0] == 0
        assert token_of_frame[b, n_frames - 1] == int(tm[b].sum()) - 1


def test_maximum_path_recovers_known_durations() -> None:
    gen = torch.Generator().manual_seed(0)
    n_mels, n_symbols = 16, 6
    table = 3.0 * torch.randn(n_symbols, n_mels, generator=gen)  # K distinct token vectors
    token_lengths = torch.tensor([9, 5])
    tokens = torch.randint(0, n_symbols, (2, 9), generator=gen)
    true = torch.randint(1, 7, (2, 9), generator=gen) * sequence_mask(token_lengths, 9)
    frame_lengths = true.sum(1)
    token_mask = sequence_mask(token_lengths)
    frame_mask = sequence_mask(frame_lengths)

    mu_x = table[tokens].transpose(1, 2) * token_mask.unsqueeze(1)  # (B, C, L)
    # Neighbouring tokens may share a symbol; nudge them so every boundary is identifiable.
    mu_x = mu_x + 0.5 * torch.arange(9).float().view(1, 1, 9) * token_mask.unsqueeze(1)
    y = expand(mu_x, path_from_durations(true, frame_mask))
    y = (y + 0.05 * torch.randn(y.shape, generator=gen)) * frame_mask.unsqueeze(1)

    path = monotonic_align(mu_x, y, token_mask, frame_mask.unsqueeze(1))
    _assert_valid_path(path, token_mask, frame_mask)
    assert torch.equal(durations_from_path(path), true)


def test_maximum_path_respects_masks_and_gives_every_token_a_frame() -> None:
    gen = torch.Generator().manual_seed(1)
    token_lengths, frame_lengths = torch.tensor([7, 3, 12]), torch.tensor([30, 3, 25])
    token_mask, frame_mask = sequence_mask(token_lengths), sequence_mask(frame_lengths)
    log_likelihood = 10.0 * torch.randn(3, 12, 30, generator=gen)

    path = maximum_path(log_likelihood, token_mask.float().unsqueeze(1), frame_mask)
    assert path.shape == (3, 12, 30)
    assert path.dtype == torch.float32 and path.device == log_likelihood.device
    _assert_valid_path(path, token_mask, frame_mask)
    durations = durations_from_path(path)
    assert torch.all(durations[token_mask] >= 1)
    assert torch.equal(durations.sum(1), frame_lengths)


def test_maximum_path_rejects_empty_items() -> None:
    with pytest.raises(ValueError):
        maximum_path(torch.zeros(2, 3, 4), torch.tensor([[1, 1, 1], [0, 0, 0]]), torch.ones(2, 4))


def test_gaussian_log_likelihood_matches_direct_computation() -> None:
    gen = torch.Generator().manual_seed(2)
    mu_x, y = torch.randn(2, 5, 4, generator=gen), torch.randn(2, 5, 7, generator=gen)
    diff = y.unsqueeze(2) - mu_x.unsqueeze(3)  # (B, C, L, T)
    direct = -0.5 * diff.pow(2).sum(1) - 0.5 * 5 * math.log(2 * math.pi)
    torch.testing.assert_close(gaussian_log_likelihood(mu_x, y), direct, atol=1e-5, rtol=1e-5)

    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = gaussian_log_likelihood(mu_x, y)
    assert under_autocast.dtype == torch.float32
    torch.testing.assert_close(under_autocast, direct, atol=1e-5, rtol=1e-5)


def test_path_durations_round_trip() -> None:
    durations = torch.tensor([[2, 1, 3, 0], [1, 4, 0, 0]])
    path = path_from_durations(durations)
    assert path.shape == (2, 4, 6)
    expected_first = torch.tensor(
        [[1, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0]]
    ).float()
    assert torch.equal(path[0], expected_first)
    assert torch.equal(path[1].sum(0), torch.tensor([1, 1, 1, 1, 1, 0]).float())
    assert torch.equal(durations_from_path(path), durations)
    assert torch.equal(path_from_durations(durations_from_path(path), 6), path)
    assert path_from_durations(durations, 9).shape == (2, 4, 9)

    frame_mask = sequence_mask(torch.tensor([6, 4]), 8)
    cut = path_from_durations(durations, frame_mask.unsqueeze(1))
    assert cut.shape == (2, 4, 8)
    assert torch.equal(cut[:, :, :6], path * frame_mask[:, :6].unsqueeze(1))


def test_expand_repeats_token_vectors() -> None:
    mu_x = torch.arange(6).float().view(1, 2, 3)  # channels [0, 1, 2] and [3, 4, 5]
    out = expand(mu_x, path_from_durations(torch.tensor([[1, 0, 3]])))
    assert out.shape == (1, 2, 4)
    assert torch.equal(out[0], torch.tensor([[0.0, 2, 2, 2], [3, 5, 5, 5]]))


def test_duration_loss() -> None:
    durations = torch.tensor([[2, 3, 1], [4, 0, 0]])
    mask = sequence_mask(torch.tensor([3, 1]))
    perfect = torch.log(durations.clamp(min=1).float())
    assert duration_loss(perfect, durations, mask).item() == pytest.approx(0.0, abs=1e-12)

    pred = torch.tensor([[0.0, 1.0, 0.5], [2.0, 9.0, -9.0]])  # padded entries must not count
    by_hand = (0 - math.log(2)) ** 2 + (1 - math.log(3)) ** 2 + 0.5**2 + (2 - math.log(4)) ** 2
    assert duration_loss(pred, durations, mask.unsqueeze(1)).item() == pytest.approx(by_hand / 4)


def test_predict_durations_inverts_the_log_target() -> None:
    durations = torch.tensor([[2, 3, 17, 1], [5, 1, 0, 0]])
    mask = sequence_mask(torch.tensor([4, 2]))
    log_durations = torch.log(durations.clamp(min=1).float())
    assert torch.equal(predict_durations(log_durations, mask), durations)

    slower = predict_durations(log_durations, mask, speaking_rate=2.0)
    assert torch.equal(slower, 2 * durations)
    faster = predict_durations(torch.full((2, 4), -5.0), mask.unsqueeze(1), speaking_rate=0.5)
    assert torch.equal(faster, mask.long())  # at least one frame per valid token, none on padding
    assert predict_durations(torch.full((1, 1), math.log(2.2)), torch.ones(1, 1)).item() == 3


def test_prior_loss_is_mean_over_valid_frames_and_channels() -> None:
    y = torch.zeros(2, 3, 4)
    mu = torch.ones(2, 3, 4)
    mu[1, :, 2:] = 100.0  # beyond item 1's frames: ignored
    frame_mask = sequence_mask(torch.tensor([4, 2]))
    assert prior_loss(y, mu, frame_mask).item() == pytest.approx(1.0)
    mu[0, 0, 0] = 3.0  # one element's squared error 1 → 9 over 18 valid elements
    assert prior_loss(y, mu, frame_mask.unsqueeze(1)).item() == pytest.approx(1.0 + 8.0 / 18)
