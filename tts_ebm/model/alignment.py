"""Durations and monotonic alignment search (MAS), as in Glow-TTS / Grad-TTS / Matcha-TTS.

Training aligns the encoder's per-token means ``mu_x`` (B, C, L) with the reference mel
``y`` (B, C, T) by the most likely monotonic path under N(y_t; mu_x_l, I); the path gives the
durations the duration predictor learns and expands ``mu_x`` to the frame-level μ (B, C, T).
At inference the predicted durations build the path instead. In early training steps the
likelihood may be given RAD-TTS's beta-binomial alignment prior (:func:`beta_binomial_log_prior`),
while μ_x is still too uninformative to keep MAS off a path shifted by a token.

Paths are float (B, L, T) tensors of zeros and ones: ``path[b, l, t] = 1`` when frame t belongs
to token l. Masks may be given as (B, N) or (B, 1, N), boolean or float.

Durations are learned in the log domain with target ``log(max(d, 1))``: identical to
``log(d)`` for every token MAS gives a frame (all of them whenever T >= L), and never the
``log(1e-8)`` outlier a zero-frame token would produce. :func:`predict_durations` inverts it
(``ceil(exp(·))``, at least one frame), so a perfect prediction returns the MAS durations.
"""

from __future__ import annotations

import math

import monotonic_alignment_search
import torch
from torch import Tensor

from tts_ebm.model.layers import flat_mask

# exp(log(d)) lands a few ulps above d in float32; ceil would then add a whole frame.
_CEIL_TOLERANCE = 1e-3


def gaussian_log_likelihood(mu_x: Tensor, y: Tensor) -> Tensor:
    """log N(y_t; mu_x_l, I) for every token l and frame t: (B, C, L), (B, C, T) → (B, L, T).

    Expands ‖y − μ‖² = ‖y‖² − 2μ·y + ‖μ‖² so the only large operation is one batched matmul;
    no (B, L, T, C) tensor is built. Always float32: the MAS dynamic programme sums T of these
    terms, which bf16/fp16 under autocast would round to useless precision.
    """
    with torch.autocast(device_type=mu_x.device.type, enabled=False):
        mu = mu_x.float()
        yf = y.float()
        mu_sq = mu.pow(2).sum(1).unsqueeze(2)  # (B, L, 1)
        y_sq = yf.pow(2).sum(1).unsqueeze(1)  # (B, 1, T)
        constant = 0.5 * mu.shape[1] * math.log(2 * math.pi)
        return torch.baddbmm(-0.5 * (mu_sq + y_sq) - constant, mu.transpose(1, 2), yf)


def _log_beta(a: Tensor, b: Tensor) -> Tensor:
    """log B(a, b) = lgamma(a) + lgamma(b) − lgamma(a + b)."""
    return torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)


def beta_binomial_log_prior(
    token_lengths: Tensor,
    frame_lengths: Tensor,
    n_tokens: int,
    n_frames: int,
    scaling: float = 1.0,
) -> Tensor:
    """log P(token l | frame t) (B, L, T), float32: RAD-TTS's static alignment prior.

    For frame t = 1..T of an utterance of L tokens and T frames, the token index l = 0..L−1 is
    beta-binomial with n = L − 1 trials, α = scaling·t and β = scaling·(T − t + 1) (Badlani et
    al. 2021, "One TTS Alignment To Rule Them All", §2.3; RAD-TTS, Shih et al. 2021). Its mean
    (L − 1)·t/(T + 1) runs along the diagonal l/L ≈ t/T; larger ``scaling`` narrows it around
    the diagonal. n = L − 1 puts the whole mass on the L tokens, so on a flat likelihood MAS
    follows it to equal durations (a support of L + 1 points cut at the last one lengthens the
    last token instead). Entries outside an utterance's own L × T are 0, so adding the prior
    leaves padding as it was. Computed in float64 (lgamma of values up to ~scaling·T differ by
    less than their float32 rounding) and returned as float32; no (B, L, T, C) tensor.
    """
    device = token_lengths.device
    lengths = token_lengths.to(torch.float64).view(-1, 1, 1)
    frames = frame_lengths.to(torch.float64).view(-1, 1, 1)
    k = torch.arange(n_tokens, dtype=torch.float64, device=device).view(1, -1, 1)
    t = torch.arange(1, n_frames + 1, dtype=torch.float64, device=device).view(1, 1, -1)
    valid = (k < lengths) & (t <= frames)
    # Clamped so padding never reaches lgamma's poles; those entries are masked below.
    trials = (lengths - 1).clamp(min=0)
    rest = (trials - k).clamp(min=0)
    alpha = scaling * t
    beta = scaling * (frames - t + 1).clamp(min=1)
    log_choose = torch.lgamma(trials + 1) - torch.lgamma(k + 1) - torch.lgamma(rest + 1)
    log_pmf = log_choose + _log_beta(k + alpha, rest + beta) - _log_beta(alpha, beta)
    return torch.where(valid, log_pmf, torch.zeros_like(log_pmf)).float()


def maximum_path(log_likelihood: Tensor, token_mask: Tensor, frame_mask: Tensor) -> Tensor:
    """Most likely monotonic hard alignment (B, L, T) of 0/1 floats, on the input's device.

    Every valid frame goes to exactly one valid token, token indices never decrease over time,
    the first frame goes to the first token and the last frame to the last token; so every
    token gets at least one frame when T >= L (if T < L some tokens necessarily get none).
    Runs the ``monotonic_alignment_search`` Cython kernel on the CPU, without gradient.
    """
    tokens = flat_mask(token_mask)
    frames = flat_mask(frame_mask)
    # The kernel indexes row (length − 1) without bounds checks: an empty item would corrupt memory.
    if bool((tokens.sum(1) < 1).any()) or bool((frames.sum(1) < 1).any()):
        raise ValueError("maximum_path needs at least one valid token and one valid frame per item")
    mask = tokens.unsqueeze(2) * frames.unsqueeze(1)
    with torch.no_grad():
        return monotonic_alignment_search.maximum_path(log_likelihood.detach().float(), mask)


def monotonic_align(mu_x: Tensor, y: Tensor, token_mask: Tensor, frame_mask: Tensor) -> Tensor:
    """MAS path (B, L, T) between token means and reference frames, without gradient."""
    with torch.no_grad():
        return maximum_path(gaussian_log_likelihood(mu_x, y), token_mask, frame_mask)


def durations_from_path(path: Tensor) -> Tensor:
    """Frames per token (B, L) long: the row sums of a hard path."""
    return path.sum(-1).round().long()


def path_from_durations(durations: Tensor, frames: Tensor | int | None = None) -> Tensor:
    """Monotonic hard path (B, L, T) that gives token l frames [Σ_{k<l} d_k, Σ_{k<=l} d_k).

    ``durations`` (B, L) integer, zero on padded tokens. ``frames`` is a frame mask (B, T) or
    (B, 1, T) (the path is cut to it), a frame count T, or None for the longest total duration.
    """
    if durations.is_floating_point():
        raise TypeError("durations must be integer; round them first (see predict_durations)")
    ends = durations.long().cumsum(1)
    starts = ends - durations
    frame_mask = None
    if frames is None:
        n_frames = int(ends[:, -1].max()) if ends.numel() else 0
    elif isinstance(frames, int):
        n_frames = frames
    else:
        frame_mask = flat_mask(frames)
        n_frames = frame_mask.shape[1]
    t = torch.arange(n_frames, device=durations.device)
    path = ((t >= starts.unsqueeze(2)) & (t < ends.unsqueeze(2))).float()
    if frame_mask is not None:
        path = path * frame_mask.unsqueeze(1)
    return path


def expand(mu_x: Tensor, path: Tensor) -> Tensor:
    """Repeat each token's vector over its frames: (B, C, L) @ (B, L, T) → (B, C, T)."""
    return torch.bmm(mu_x, path.to(mu_x.dtype))


def predict_durations(
    log_durations: Tensor, token_mask: Tensor, speaking_rate: float = 1.0
) -> Tensor:
    """Integer durations (B, L) from predicted log-durations: ceil(exp(logw) · rate), >= 1.

    ``speaking_rate`` > 1 stretches every token (slower speech), < 1 compresses it. Padded
    tokens get 0 frames, valid tokens at least 1, so no phone is ever skipped.
    """
    mask = flat_mask(token_mask)
    frames = torch.exp(log_durations.float()) * speaking_rate
    durations = torch.ceil(frames - _CEIL_TOLERANCE).clamp(min=1.0) * mask
    return durations.long()


def duration_loss(log_durations_pred: Tensor, durations: Tensor, token_mask: Tensor) -> Tensor:
    """Mean over valid tokens of (predicted log-duration − log(max(d, 1)))²."""
    mask = flat_mask(token_mask)
    target = torch.log(durations.float().clamp(min=1.0))
    return ((log_durations_pred.float() - target).pow(2) * mask).sum() / mask.sum()


def prior_loss(y: Tensor, mu_y: Tensor, frame_mask: Tensor) -> Tensor:
    """‖Y⁺ − μ‖² per element, averaged over valid frames × channels (so it is ~1 at init)."""
    mask = flat_mask(frame_mask).unsqueeze(1)
    squared = (y.float() - mu_y.float()).pow(2) * mask
    return squared.sum() / (mask.sum() * y.shape[1])
