"""Predicted MOS with DistillMOS (Stahl & Gamper 2025), whose weights ship in its PyPI wheel.

DistillMOS is a small CNN + transformer distilled from XLS-R-based speech-quality models and
trained on listening tests; it predicts a 1–5 quality score from 16 kHz audio (longer clips are
cut into overlapping 7.68 s windows whose scores are averaged; each window is peak-normalised,
so the level of the file does not matter). It is a proxy: it ranks systems like listeners do
more often than not, but it was not trained on our voice or our artefacts, and absolute values
are not comparable to a real listening test.

``distillmos/sqa.py`` imports ``torchaudio`` at module level, for its command line only, and
torchaudio cannot be loaded beside this torch; the import runs with a placeholder module in its
place, and the weights are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import torch

from tts_ebm.evaluate.pairs import EvaluationError
from tts_ebm.evaluate.world import INSTALL_HINT

MOS_RATE = 16000
WEIGHTS = ("weights", "distill_mos_v7.pt")


def _import_sqa() -> types.ModuleType:
    """``distillmos.sqa`` with ``torchaudio`` stubbed for the duration of the import."""
    if importlib.util.find_spec("distillmos") is None:
        raise EvaluationError(f"distillmos is not installed; {INSTALL_HINT}")
    saved = {
        k: v for k, v in sys.modules.items() if k == "torchaudio" or k.startswith("torchaudio.")
    }
    for name in saved:
        del sys.modules[name]
    sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    try:
        return importlib.import_module("distillmos.sqa")
    except ImportError as exc:
        raise EvaluationError(f"distillmos is not usable ({exc}); {INSTALL_HINT}") from exc
    finally:
        del sys.modules["torchaudio"]
        sys.modules.update(saved)


class DistillMOS:
    """``predict(wav_16k) -> MOS`` with the model loaded once."""

    def __init__(self, device: str = "cpu") -> None:
        sqa = _import_sqa()
        self.model = sqa.ConvTransformerSQAModel(load_weights=False)
        weights = Path(sqa.__file__).parent.joinpath(*WEIGHTS)
        state = torch.load(weights, map_location="cpu", weights_only=True)["model"]
        self.model.load_state_dict(state)
        self.device = torch.device(device)
        self.model.to(self.device).eval()

    @torch.no_grad()
    def predict(self, wav: np.ndarray) -> float:
        """Predicted MOS (1–5) of one 16 kHz mono waveform."""
        x = torch.as_tensor(np.asarray(wav, dtype=np.float32), device=self.device)[None]
        return float(self.model(x).reshape(-1)[0])
