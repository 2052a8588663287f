"""Text encoder, duration predictor and rotary attention."""

from __future__ import annotations

import pytest
import torch

from tts_ebm.model.alignment import (
    duration_loss,
    expand,
    monotonic_align,
    path_from_durations,
    prior_loss,
)
from tts_ebm.model.encoder import EncoderConfig, SelfAttention, TextEncoder
from tts_ebm.model.layers import RotaryEmbedding, sequence_mask

N_VOCAB = 40


def _tiny(**overrides: object) -> TextEncoder:
    config = EncoderConfig.tiny(N_VOCAB, n_mels=20)
    for key, value in overrides.items():
        setattr(config, key, value)
    return TextEncoder(config)


def test_output_shapes_and_padding_is_zero() -> None:
    torch.manual_seed(0)
    encoder = _tiny()
    out = encoder(torch.randint(0, N_VOCAB, (3, 11)), torch.tensor([11, 4, 7]))
    assert out.mu_x.shape == (3, 20, 11)
    assert out.log_durations.shape == (3, 11)
    assert out.mask.shape == (3, 1, 11) and out.mask.dtype == torch.float32
    assert torch.equal(out.mask[:, 0], sequence_mask(torch.tensor([11, 4, 7])).float())
    assert torch.all(out.mu_x[1, :, 4:] == 0) and torch.all(out.log_durations[2, 7:] == 0)


def test_default_config_size() -> None:
    config = EncoderConfig(**{"n_vocab": 180, "n_mels": 80})  # as built from a Hydra dict
    n_params = sum(p.numel() for p in TextEncoder(config).parameters())
    assert 5e6 < n_params < 9e6


@pytest.mark.parametrize("pre_norm", [False, True])
def test_padding_and_garbage_do_not_change_valid_outputs(pre_norm: bool) -> None:
    torch.manual_seed(1)
    encoder = _tiny(pre_norm=pre_norm).eval()
    lengths = torch.tensor([9, 5])
    tokens = torch.randint(0, N_VOCAB, (2, 9))
    longer = torch.randint(0, N_VOCAB, (2, 16))  # garbage everywhere beyond each length
    longer[0, :9], longer[1, :5] = tokens[0], tokens[1, :5]
    with torch.no_grad():
        short_out, long_out = encoder(tokens, lengths), encoder(longer, lengths)
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(
            long_out.mu_x[b, :, :n], short_out.mu_x[b, :, :n], atol=1e-5, rtol=0
        )
        torch.testing.assert_close(
            long_out.log_durations[b, :n], short_out.log_durations[b, :n], atol=1e-5, rtol=0
        )


def test_duration_loss_trains_only_the_duration_predictor() -> None:
    torch.manual_seed(2)
    encoder = _tiny()
    lengths = torch.tensor([6, 4])
    out = encoder(torch.randint(0, N_VOCAB, (2, 6)), lengths)
    duration_loss(out.log_durations, torch.full((2, 6), 3), out.mask).backward()
    for name, param in encoder.named_parameters():
        reached = param.grad is not None and bool(param.grad.abs().sum() > 0)
        assert reached == name.startswith("duration_predictor."), name


def test_rotary_scores_depend_only_on_relative_position() -> None:
    torch.manual_seed(3)
    rotary = RotaryEmbedding(16)
    q, k = torch.randn(2, 10, 16), torch.randn(2, 10, 16)
    scores = rotary(q) @ rotary(k).transpose(-1, -2)
    shifted = rotary(q, offset=37) @ rotary(k, offset=37).transpose(-1, -2)
    torch.testing.assert_close(shifted, scores, atol=1e-4, rtol=1e-4)
    # A different shift for queries and keys changes the scores: positions do matter.
    assert not torch.allclose(rotary(q, offset=3) @ rotary(k).transpose(-1, -2), scores, atol=1e-2)


def test_attention_is_invariant_to_where_the_content_sits() -> None:
    torch.manual_seed(4)
    attention = SelfAttention(channels=32, n_heads=2, dropout=0.0, rope_base=10000.0).eval()
    content = torch.randn(1, 32, 6)
    placed = torch.randn(1, 32, 15)  # garbage around the content, masked out as keys
    placed[:, :, 5:11] = content
    key_mask = torch.zeros(1, 15, dtype=torch.bool)
    key_mask[:, 5:11] = True
    with torch.no_grad():
        alone = attention(content, torch.ones(1, 6, dtype=torch.bool))
        inside = attention(placed, key_mask)[:, :, 5:11]
    torch.testing.assert_close(inside, alone, atol=1e-5, rtol=1e-5)


def test_tiny_encoder_learns_a_synthetic_language() -> None:
    """Encoder + MAS + expand + prior loss: 100 Adam steps should more than halve the loss."""
    torch.manual_seed(5)
    n_symbols, n_mels = 8, 20
    table = torch.randn(n_symbols, n_mels)
    token_lengths = torch.tensor([12, 9, 10, 7])
    token_mask = sequence_mask(token_lengths)
    tokens = torch.randint(0, n_symbols, (4, 12)) * token_mask
    durations = torch.randint(2, 6, (4, 12)) * token_mask
    frame_mask = sequence_mask(durations.sum(1))
    y = expand(table[tokens].transpose(1, 2), path_from_durations(durations, frame_mask))
    y = (y + 0.1 * torch.randn(y.shape)) * frame_mask.unsqueeze(1)

    encoder = TextEncoder(EncoderConfig.tiny(n_symbols, n_mels=n_mels))
    optimiser = torch.optim.Adam(encoder.parameters(), lr=3e-3)
    losses = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tensors this small only lose to thread hand-offs on a busy CPU
    try:
        for _ in range(100):
            out = encoder(tokens, token_lengths)
            path = monotonic_align(out.mu_x, y, out.mask, frame_mask)
            loss = prior_loss(y, expand(out.mu_x, path), frame_mask)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])
