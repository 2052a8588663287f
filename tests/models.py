"""Untrained networks small enough that tests build, save and run them in milliseconds."""

from __future__ import annotations

import torch

from tts_ebm.model.encoder import EncoderConfig
from tts_ebm.model.energy import EnergyConfig
from tts_ebm.model.tts import EBMTTS
from tts_ebm.text import TextFrontend


def untrained_tts(frontend: TextFrontend, energy: EnergyConfig, seed: int = 0) -> EBMTTS:
    """A one-layer encoder of 16 channels for ``frontend``'s symbols and the given energy."""
    torch.manual_seed(seed)
    encoder = EncoderConfig(
        n_vocab=len(frontend.symbols),
        channels=16,
        filter_channels=32,
        n_heads=1,
        n_layers=1,
        prenet_layers=1,
        duration_channels=16,
    )
    return EBMTTS(encoder, energy)
