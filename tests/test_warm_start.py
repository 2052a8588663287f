"""``init_from``: a new run copies the matching tensors of a trained checkpoint, lists the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from models import untrained_tts

from tts_ebm.audio import MelStats
from tts_ebm.checkpoint import CheckpointError, save_inference_checkpoint
from tts_ebm.model.energy import EnergyConfig
from tts_ebm.model.tts import EBMTTS
from tts_ebm.text import TextFrontend
from tts_ebm.train.warm_start import warm_start

INFERENCE = {"steps": 1, "step_size": 1.0, "temperature": 0.0, "langevin": 0.0}


def small_model(frontend: TextFrontend, form: str, seed: int) -> EBMTTS:
    return untrained_tts(
        frontend, EnergyConfig(channels=(16,), n_blocks=1, groups=4, form=form), seed
    )


@pytest.fixture
def scalar_checkpoint(tmp_path) -> tuple[Path, EBMTTS, TextFrontend]:
    frontend = TextFrontend("chars")
    model = small_model(frontend, "scalar", seed=0)
    path = save_inference_checkpoint(
        tmp_path / "scalar.safetensors", model, frontend.to_config(), MelStats(-6.0, 2.0), INFERENCE
    )
    return path, model, frontend


def test_a_new_quadratic_head_on_a_trained_network(scalar_checkpoint):
    path, trained, frontend = scalar_checkpoint
    model = small_model(frontend, "quadratic", seed=1)
    started = warm_start(model, path, frontend.to_config())
    # Only the energy's head differs in shape (1 channel → n_mels channels + bias).
    assert started.fresh == ["energy.out.weight", "energy.out.bias"]
    theirs, ours = trained.state_dict(), model.state_dict()
    assert set(started.loaded) == set(theirs) - {"energy.out.weight"}
    for name in started.loaded:
        assert torch.equal(ours[name], theirs[name]), name
    assert ours["energy.out.weight"].abs().max() == 0  # the fresh head keeps its zero init
    assert "2 start fresh (energy.out.weight, energy.out.bias)" in started.summary()


def test_only_the_named_modules_are_copied(scalar_checkpoint):
    """A shared prior under a fresh decoder: the energy would fit, but stays as built."""
    path, trained, frontend = scalar_checkpoint
    model = small_model(frontend, "scalar", seed=1)
    fresh_energy = {k: v.clone() for k, v in model.energy.state_dict().items()}
    started = warm_start(model, path, frontend.to_config(), only=["encoder"])
    theirs, ours = trained.state_dict(), model.state_dict()
    assert set(started.loaded) == {k for k in theirs if k.startswith("encoder.")}
    assert set(started.fresh) == {f"energy.{k}" for k in fresh_energy}
    for name in started.loaded:
        assert torch.equal(ours[name], theirs[name]), name
    for name, tensor in model.energy.state_dict().items():
        assert torch.equal(tensor, fresh_energy[name]), name
    with pytest.raises(ValueError, match="no module named encodr"):
        warm_start(model, path, frontend.to_config(), only=["encodr"])


def test_a_checkpoint_with_other_symbols_is_refused(scalar_checkpoint):
    path, _, _ = scalar_checkpoint
    ipa = TextFrontend("ipa")
    with pytest.raises(CheckpointError, match="other symbols"):
        warm_start(small_model(ipa, "scalar", seed=1), path, ipa.to_config())


def test_a_missing_checkpoint_says_so(tmp_path):
    frontend = TextFrontend("chars")
    with pytest.raises(CheckpointError, match="not found"):
        warm_start(small_model(frontend, "scalar", 0), tmp_path / "none.ckpt", frontend.to_config())


def test_a_frozen_encoder_gives_the_inference_prior_at_every_training_step():
    """Dropout stays off in a frozen encoder: μ is the same at every step and equals the eval μ."""
    from tts_ebm.train.module import EBMTTSModule
    from tts_ebm.train.run import compose_config

    overrides = ["model.freeze_encoder=true", "model.network.encoder.dropout=0.3"]
    config = compose_config(["experiment=toy", *overrides])
    config["data"]["stats"] = {"mel_mean": -5.0, "mel_std": 2.0}
    config["model"]["network"]["encoder"]["n_vocab"] = 12
    module = EBMTTSModule(config).train()
    assert config["model"]["network"]["encoder"]["dropout"] > 0
    assert not module.model.encoder.training and module.model.energy.training
    tokens, lengths = torch.randint(1, 12, (2, 7)), torch.tensor([7, 5])
    mel, mel_lengths = torch.randn(2, 80, 20), torch.tensor([20, 15])
    mus = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        mus.append(module.model.align(tokens, lengths, mel, mel_lengths).mu)
    torch.testing.assert_close(mus[0], mus[1], rtol=0, atol=0)
    module.model.eval()
    torch.testing.assert_close(module.model.align(tokens, lengths, mel, mel_lengths).mu, mus[0])
    # Without freezing, the encoder trains, with its dropout.
    config["model"]["freeze_encoder"] = False
    free = EBMTTSModule(config).train()
    assert free.model.encoder.training


def test_the_frozen_prior_is_encoded_once_per_utterance_and_stays_exact():
    from tts_ebm.train.data import Batch
    from tts_ebm.train.module import EBMTTSModule
    from tts_ebm.train.run import compose_config

    config = compose_config(["experiment=toy", "model.freeze_encoder=true"])
    config["data"]["stats"] = {"mel_mean": -5.0, "mel_std": 2.0}
    config["model"]["network"]["encoder"]["n_vocab"] = 12
    module = EBMTTSModule(config).train()
    calls = []
    module.model.encoder.register_forward_hook(lambda *_: calls.append(1))
    g = torch.Generator().manual_seed(3)
    tokens, mel = torch.randint(1, 12, (3, 9), generator=g), torch.randn(3, 80, 30, generator=g)
    full = Batch(["a", "b", "c"], tokens, torch.tensor([9, 6, 8]), mel, torch.tensor([30, 21, 26]))
    # The same utterances again, reordered, in a batch padded differently.
    again = Batch(
        ["c", "a"], tokens[[2, 0]], torch.tensor([8, 9]), mel[[2, 0]], torch.tensor([26, 30])
    )
    for batch in (full, again, full):
        cached = module._align(batch)
        direct = module.model.align(batch.tokens, batch.token_lengths, batch.mel, batch.mel_lengths)
        for field in ("mu", "path", "durations", "prior_loss", "duration_loss"):
            torch.testing.assert_close(getattr(cached, field), getattr(direct, field))
    assert len(module.prior_cache) == 3
    assert len(calls) == 1 + 3  # the one fill, then only the direct references


def test_a_second_run_on_the_same_frozen_prior_reads_its_cache_and_trains_alike(tmp_path):
    """The frozen prior's cache is kept beside the prepared features: a second run (a resumed
    one, another budget, another criterion) reads it instead of re-encoding. Its entries are
    what the prior gives, and the second run's losses follow the first's (to float rounding:
    the two processes' kernels see different memory, and Adam magnifies the last bits)."""
    import os

    from test_train import metrics, run_training, series

    from tts_ebm.checkpoint import load_checkpoint
    from tts_ebm.train.prior_cache import FrozenPriorCache
    from tts_ebm.train.step_sizes import prepared_batches

    os.environ["TTS_EBM_CACHE"] = str(tmp_path / "cache")
    frozen = ("model.freeze_encoder=true", "trainer.max_steps=12", "trainer.val_media=0")
    frozen += ("trainer.log_every_steps=1",)
    first = run_training(tmp_path / "first", *frozen)
    assert "prior cache:" not in first.stdout
    (path,) = (tmp_path / "cache").rglob("prior_cache/*.pt")
    stored = torch.load(path, weights_only=True)
    # Every entry is the prior's own: the exported (frozen) encoder encodes the same.
    prior = load_checkpoint(tmp_path / "first/model.safetensors")
    fresh = FrozenPriorCache(prior.model.eval())
    for split in ("train", "val"):
        for batch in prepared_batches(prior, path.parents[1], split):
            fresh.align(batch)
    assert len(stored) >= 8 and set(stored) <= set(fresh._entries)
    for key, entry in stored.items():
        for saved, computed in zip(entry, fresh._entries[key], strict=True):
            torch.testing.assert_close(saved, computed, rtol=1e-5, atol=1e-5)
    second = run_training(tmp_path / "second", *frozen)
    assert f"prior cache: {len(stored)} utterances from {path}" in second.stdout
    losses = [series(metrics(tmp_path / run), "train/loss") for run in ("first", "second")]
    assert len(losses[0]) == 12 and losses[0].keys() == losses[1].keys()
    assert losses[0][0] == losses[1][0]
    for step, loss in losses[0].items():
        assert losses[1][step] == pytest.approx(loss, rel=1e-3), step
    # Another prior (here a different encoder seed) is another file, not a wrong read.
    run_training(tmp_path / "third", *frozen, "seed=7", "trainer.max_steps=2")
    assert len(list((tmp_path / "cache").rglob("prior_cache/*.pt"))) == 2
