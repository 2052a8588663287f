"""The WORLD analysis of the installed pyworld equals that of pyworld 0.3.5 built from source.

``tests/data/world_reference.npz`` was recorded with pyworld 0.3.5 compiled from its sdist
(``python tests/test_world_wheel.py`` writes it again): F0 by harvest and by dio + stonemask,
and the cheaptrick envelope (every 16th bin) of a quarter second of ``speech.wav``. The eval
extra installs ``pyworld-prebuilt`` (the same WORLD sources as a wheel), which must reproduce
those numbers to float round-off.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pyworld = pytest.importorskip("pyworld")

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "world_reference.npz"
FS = 22050
FLOOR, CEIL, PERIOD = 71.0, 800.0, 5.0  # tts_ebm.evaluate.world's settings
BINS = slice(None, None, 16)


def analysis() -> dict[str, np.ndarray]:
    x, fs = sf.read(DATA / "speech.wav", dtype="float64")
    assert fs == FS
    x = np.ascontiguousarray(x[FS : FS + FS // 4])
    f0, times = pyworld.harvest(x, fs, f0_floor=FLOOR, f0_ceil=CEIL, frame_period=PERIOD)
    dio, dio_times = pyworld.dio(x, fs, f0_floor=FLOOR, f0_ceil=CEIL, frame_period=PERIOD)
    envelope = pyworld.cheaptrick(x, f0, times, fs, f0_floor=FLOOR)
    return {
        "f0_harvest": f0,
        "f0_dio": pyworld.stonemask(x, dio, dio_times, fs),
        "log_envelope": np.log(envelope[:, BINS]),
    }


def test_world_analysis_equals_the_source_build():
    reference = np.load(REFERENCE)
    now = analysis()
    assert (reference["f0_harvest"] > 0).sum() > 20  # a voiced stretch, not silence
    for name in ("f0_harvest", "f0_dio"):
        np.testing.assert_allclose(now[name], reference[name], rtol=1e-9, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(now["log_envelope"], reference["log_envelope"], atol=1e-9)


if __name__ == "__main__":
    np.savez_compressed(REFERENCE, **analysis())
    print(f"wrote {REFERENCE} with pyworld {pyworld.__version__} from {pyworld.__file__}")
