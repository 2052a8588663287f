"""Untrained networks small enough that tests build, save and run them in milliseconds."""

from __future__ import annotations

import torch

from tts_ebm.model.encoder import EncoderConfig
from tts_ebm.model.energy import EnergyConfig
from tts_ebm.model.tts import EBMTTS
from tts_ebm.text import TextFrontend
from tts_ebm.train.module import EBMTTSModule
from tts_ebm.train.run import compose_config


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


def toy_module(*overrides: str) -> EBMTTSModule:
    """An untrained training module of ``experiment=toy`` (12 symbols, fixed mel statistics),
    for driving single training steps by hand."""
    config = compose_config(["experiment=toy", *overrides])
    config["data"]["stats"] = {"mel_mean": -5.0, "mel_std": 2.0}
    config["model"]["network"]["encoder"]["n_vocab"] = 12
    torch.manual_seed(0)
    return EBMTTSModule(config)
