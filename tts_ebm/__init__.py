"""tts-ebm: text-to-speech acoustic models trained as energy-based models."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Synthesizer", "__version__"]

if TYPE_CHECKING:
    from tts_ebm.synthesis import Synthesizer


def __getattr__(name: str) -> object:
    """``tts_ebm.Synthesizer`` on first use, so ``import tts_ebm`` (and the CLI) stays light."""
    if name == "Synthesizer":
        from tts_ebm.synthesis import Synthesizer

        return Synthesizer
    raise AttributeError(f"module 'tts_ebm' has no attribute {name!r}")
