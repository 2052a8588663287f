"""Speech recognisers for intelligibility (WER/CER), strictly offline.

- :class:`PocketSphinx`: CMU PocketSphinx 5 with the en-US acoustic model, dictionary and
  language model that ship inside its PyPI wheel. Fast and always available, but coarse: it
  misrecognises ~26% of the words of festival's SLT voice (~0% on clean read speech), so compare
  systems with it, do not read its WER as an absolute intelligibility score.
- :class:`Whisper`: only when the weights are already on disk (a Hugging Face model folder, a
  name in the local Hugging Face cache, or an ``openai-whisper`` ``.pt`` file); nothing is ever
  downloaded, and a missing model is an error that says where we looked.

Both take 16 kHz mono float audio and return the text as recognised.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from tts_ebm.evaluate.pairs import EvaluationError
from tts_ebm.evaluate.world import INSTALL_HINT

ASR_RATE = 16000


class Recognizer(Protocol):
    name: str  # column prefix in the reports

    def transcribe(self, wav: np.ndarray) -> str:
        """16 kHz mono float audio → recognised text."""
        ...


class PocketSphinx:
    """PocketSphinx with the model bundled in its wheel; one decoder reused for every utterance.

    The decoder's feature state (cepstral-mean normalisation) is reset before each utterance: left
    to carry over, it made an utterance's transcript depend on the ones decoded before it (the
    same 20 sentences scored 21.0 % and 21.6 % WER in two orders; reset, 21.6 % in both).
    """

    name = "sphinx"

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise EvaluationError(f"pocketsphinx is not installed; {INSTALL_HINT}") from exc
        self._decoder = Decoder(samprate=ASR_RATE, logfn=os.devnull)

    def transcribe(self, wav: np.ndarray) -> str:
        pcm = (np.clip(np.asarray(wav, dtype=np.float32), -1.0, 1.0) * 32767).astype("<i2")
        self._decoder.reinit_feat()
        self._decoder.start_utt()
        self._decoder.process_raw(pcm.tobytes(), full_utt=True)
        self._decoder.end_utt()
        hypothesis = self._decoder.hyp()
        return hypothesis.hypstr if hypothesis is not None else ""


class Whisper:
    """A local Whisper model through ``transformers`` (a model folder) or ``openai-whisper``."""

    name = "whisper"

    def __init__(self, spec: str, device: str = "cpu") -> None:
        location = find_whisper(spec)
        self.device = device
        if location.is_dir():
            self._load_transformers(location)
        else:
            self._load_openai(location)

    def _load_transformers(self, folder: Path) -> None:
        try:
            from transformers import WhisperForConditionalGeneration, WhisperProcessor
        except ImportError as exc:
            raise EvaluationError(f"transformers is needed for {folder}; {INSTALL_HINT}") from exc
        self._processor = WhisperProcessor.from_pretrained(folder, local_files_only=True)
        model = WhisperForConditionalGeneration.from_pretrained(folder, local_files_only=True)
        self._model = model.to(self.device).eval()
        self._openai = None

    def _load_openai(self, file: Path) -> None:
        try:
            import whisper
        except ImportError as exc:
            raise EvaluationError(
                f"{file} is an openai-whisper checkpoint; pip install openai-whisper to use it"
            ) from exc
        self._openai = whisper.load_model(str(file), device=self.device)

    def transcribe(self, wav: np.ndarray) -> str:
        import torch

        audio = np.asarray(wav, dtype=np.float32)
        if self._openai is not None:
            result = self._openai.transcribe(audio, language="en", fp16=False)
            return str(result["text"]).strip()
        features = self._processor(audio, sampling_rate=ASR_RATE, return_tensors="pt")
        with torch.no_grad():
            tokens = self._model.generate(
                features.input_features.to(self.device), language="en", task="transcribe"
            )
        return self._processor.batch_decode(tokens, skip_special_tokens=True)[0].strip()


def find_whisper(spec: str) -> Path:
    """Where the Whisper model ``spec`` lies on this machine, without touching the network.

    Looked at, in order: ``spec`` as a path (a model folder with ``config.json`` or a ``.pt``
    file), the Hugging Face cache (``spec`` as a repo id such as ``openai/whisper-tiny``), and
    openai-whisper's cache (``~/.cache/whisper/SPEC.pt``, for names such as ``tiny``).
    """
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return path
    if path.is_file():
        return path
    looked = [f"{path} (no such model folder or file)"]
    if "/" in spec and not path.exists():
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(spec, local_files_only=True))
        except Exception:  # not cached (or not a valid repo id): no download, say where we looked
            looked.append(f"the Hugging Face cache ({spec})")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "whisper"
    candidate = cache / f"{spec}.pt"
    if candidate.is_file():
        return candidate
    looked.append(str(candidate))
    raise EvaluationError(
        f"Whisper model {spec!r} not found locally (looked at: {'; '.join(looked)}); "
        "evaluate never downloads models"
    )
