"""Shared fixtures: a short real utterance (festival's SLT voice, Harvard sentences), a fake
Hugging Face cache, a toy-trained checkpoint (synthesis and evaluation tests), one torch thread."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def speech_wav() -> Path:
    return DATA / "speech.wav"


def _write_hub_cache(cache: Path, repo_id: str, filename: str, payload: bytes) -> str:
    """The layout ``huggingface_hub`` writes: content-addressed blobs, snapshot symlinks, refs.

    Returns the (made-up) commit hash the snapshot is filed under.
    """
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    commit = hashlib.sha1(repo_id.encode() + payload).hexdigest()
    blob = repo / "blobs" / hashlib.sha256(payload).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(payload)
    link = repo / "snapshots" / commit / filename
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return commit


@pytest.fixture()
def fake_hub_cache() -> Callable[[Path, str, str, bytes], str]:
    """Builds a real Hugging Face cache on disk, so hf:// loading is tested offline."""
    return _write_hub_cache


@pytest.fixture(scope="session")
def toy_checkpoint(tmp_path_factory) -> Path:
    """``tts-ebm train experiment=toy`` for 150 steps (about a minute on one thread)."""
    run_dir = tmp_path_factory.mktemp("toy") / "run"
    cache = str(tmp_path_factory.mktemp("cache"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TTS_EBM_CACHE": cache}
    command = [sys.executable, "-m", "tts_ebm.cli", "train", "experiment=toy"]
    command += ["data.toy.n_utterances=120", "data.val_size=8", "trainer.max_steps=150"]
    command += ["trainer.val_media=0", f"run_dir={run_dir}"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir / "model.safetensors"


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module's tests: tiny tensors gain nothing from intra-op threads,
    and on a shared CPU the threads spin against other processes (100 toy steps took 25 s with
    one thread, 250 s with two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
