"""The voices a server preloads: one :class:`Synthesizer` each, all sharing one vocoder."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from tts_ebm.synthesis import Synthesizer, resolve_checkpoint
from tts_ebm.vocoder import load_vocoder


def voice_name(spec: str) -> str:
    """What clients call a voice: a packaged name as it is, a file by its stem."""
    return Path(spec).stem if spec.endswith(".safetensors") or "/" in spec else spec


def load_voices(
    specs: list[str], device: str = "cpu", vocoder: str = "universal", runtime: str = "auto"
) -> dict[str, Synthesizer]:
    """``specs`` (packaged names, paths, hf:// specs; none: the default voice) by name."""
    shared = load_vocoder(vocoder, device, runtime=runtime)
    voices: dict[str, Synthesizer] = {}
    for spec in specs or ["default"]:
        name = voice_name(spec)
        if name in voices:
            raise ValueError(f"voice {name!r} is given twice")
        voices[name] = Synthesizer.from_pretrained(
            resolve_checkpoint(spec), device=device, vocoder=shared
        )
    return voices


def describe(name: str, synth: Synthesizer) -> dict:
    """A voice as ``GET /v1/audio/voices`` lists it."""
    knobs = asdict(synth.defaults)
    knobs.pop("batch_size")
    return {"name": name, "sample_rate": synth.sample_rate, "defaults": knobs}
