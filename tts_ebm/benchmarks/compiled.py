"""``torch.compile`` twins of synthesis's two hot loops: the energy network inside refinement, and
the vocoder.

A twin shares the original's weights; only the call goes through the compiler, so compiled and
eager can be timed side by side on one model. On CUDA the mode is ``reduce-overhead`` (CUDA
graphs): at batch 1 a refinement step is hundreds of small kernels whose launches, not their
arithmetic, set the time. On a CPU it is inductor's default; a cold compile of the default
energy network takes minutes on a 2-core machine (inductor caches it for later processes).
"""

from __future__ import annotations

import copy

import torch

from tts_ebm.model.energy import EnergyModule
from tts_ebm.vocoder import Vocoder


def compile_mode(device: torch.device) -> str:
    return "reduce-overhead" if device.type == "cuda" else "default"


def compiled_energy(energy: EnergyModule, device: torch.device) -> EnergyModule:
    """A twin of ``energy`` whose per-frame network is compiled. Its ``energy()`` and ``score()``
    are the module's own, so the sampler's input gradient runs through the compiled backward."""
    twin = copy.copy(energy)  # a new attribute dict; submodules and weights are shared
    twin.frame_energy = torch.compile(energy.frame_energy, mode=compile_mode(device))
    return twin


def compiled_vocoder(vocoder: Vocoder, device: torch.device) -> Vocoder:
    """A twin of ``vocoder`` (same runtime, same memory-bounded chunks) with a compiled model."""
    twin = copy.copy(vocoder)
    twin.model = torch.compile(vocoder.model, mode=compile_mode(device))
    return twin
