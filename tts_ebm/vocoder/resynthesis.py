"""Copy synthesis: recorded wav → log-mel → vocoder → wav.

The "vocoded reference" is the upper bound an acoustic model can reach with a given vocoder:
listening tests and objective metrics put it beside the systems so that the vocoder's own
artefacts are not blamed on the acoustic model. It uses exactly the training features
(:class:`tts_ebm.audio.MelSpectrogram`), so a mismatch here would show up as a bad reference.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from tts_ebm.audio import AudioError, MelSpectrogram, load_audio, save_wav
from tts_ebm.vocoder.sources import Vocoder

PARTIAL_DIR = ".partial"


@dataclass
class ResynthesisReport:
    made: int = 0
    reused: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # file name → reason
    seconds: float = 0.0  # audio made


def resynthesize_dir(
    in_dir: Path,
    out_dir: Path,
    vocoder: Vocoder,
    *,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ResynthesisReport:
    """Vocode every ``*.wav`` of ``in_dir`` into ``out_dir`` under the same name.

    Outputs that exist are kept unless ``overwrite`` (so an interrupted run resumes); each is
    written under ``out_dir/.partial`` first and moved into place when complete. A wav that
    cannot be read is reported in the result and skipped.
    """
    wavs = sorted(p for p in Path(in_dir).iterdir() if p.suffix.lower() == ".wav")
    if not wavs:
        raise AudioError(f"no .wav files in {in_dir}")
    mel_fn = MelSpectrogram(vocoder.mel_config).to(vocoder.device)
    partial = Path(out_dir) / PARTIAL_DIR
    partial.mkdir(parents=True, exist_ok=True)
    report = ResynthesisReport()
    for done, wav_path in enumerate(wavs, start=1):
        out = Path(out_dir) / wav_path.name
        if out.is_file() and not overwrite:
            report.reused += 1
        else:
            try:
                wav = load_audio(wav_path, vocoder.sample_rate)
            except AudioError as exc:
                report.failed[wav_path.name] = str(exc)
            else:
                with torch.no_grad():
                    mel = mel_fn(torch.from_numpy(wav).to(vocoder.device))
                    audio = vocoder(mel)[: len(wav)]
                save_wav(partial / wav_path.name, audio, vocoder.sample_rate)
                os.replace(partial / wav_path.name, out)
                report.made += 1
                report.seconds += len(wav) / vocoder.sample_rate
        if progress:
            progress(done, len(wavs))
    if not any(partial.iterdir()):
        partial.rmdir()
    return report
