"""Acoustic model: text encoder, durations and monotonic alignment, energy network."""

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
from tts_ebm.model.encoder import (
    DurationPredictor,
    EncoderConfig,
    EncoderOutput,
    TextEncoder,
)
from tts_ebm.model.layers import ChannelLayerNorm, RotaryEmbedding, flat_mask, sequence_mask

__all__ = [
    "ChannelLayerNorm",
    "DurationPredictor",
    "EncoderConfig",
    "EncoderOutput",
    "RotaryEmbedding",
    "TextEncoder",
    "duration_loss",
    "durations_from_path",
    "expand",
    "flat_mask",
    "gaussian_log_likelihood",
    "maximum_path",
    "monotonic_align",
    "path_from_durations",
    "predict_durations",
    "prior_loss",
    "sequence_mask",
]
