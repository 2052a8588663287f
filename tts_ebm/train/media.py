"""Validation images and audio in TensorBoard: what people look at to judge a run."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch

from tts_ebm.sampling import RefineConfig, refine
from tts_ebm.train.data import collate


def _figure_to_array(figure) -> np.ndarray:
    figure.canvas.draw()
    image = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
    import matplotlib.pyplot as plt

    plt.close(figure)
    return image


def mel_comparison_figure(panels: dict[str, np.ndarray], title: str = "") -> np.ndarray:
    """Stacked mel images (same colour scale) → RGB array (H, W, 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = np.concatenate([p.ravel() for p in panels.values()])
    vmin, vmax = np.percentile(values, [1, 99.5])
    figure, axes = plt.subplots(len(panels), 1, figsize=(10, 2.2 * len(panels)), squeeze=False)
    for axis, (name, mel) in zip(axes[:, 0], panels.items(), strict=True):
        image = axis.imshow(mel, origin="lower", aspect="auto", vmin=vmin, vmax=vmax)
        axis.set_title(name, fontsize=9)
        axis.set_ylabel("mel band")
        figure.colorbar(image, ax=axis, pad=0.01)
    axes[-1, 0].set_xlabel("frame")
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return _figure_to_array(figure)


def alignment_figure(path: np.ndarray) -> np.ndarray:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4))
    axis.imshow(path, origin="lower", aspect="auto", interpolation="none")
    axis.set_xlabel("frame")
    axis.set_ylabel("token")
    figure.tight_layout()
    return _figure_to_array(figure)


def energy_figure(energies: np.ndarray) -> np.ndarray:
    """Energy per refinement step (one line per utterance): it should go down."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3.5))
    for k, line in enumerate(energies.T):
        axis.plot(np.arange(len(line)), line, marker="o", label=f"utt {k}")
    axis.set_xlabel("refinement step (from μ, predicted durations)")
    axis.xaxis.get_major_locator().set_params(integer=True)
    axis.set_ylabel("energy E(Y; μ)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return _figure_to_array(figure)


class ValidationMedia(L.Callback):
    """After each validation: mels (reference / μ / refined), alignment, energy, audio."""

    def __init__(self, n_utterances: int, vocoder: str):
        self.n_utterances = n_utterances
        self.vocoder_name = vocoder
        self._vocoder = None

    def _vocoder_for(self, device: torch.device):
        if self._vocoder is None:
            from tts_ebm.vocoder import load_vocoder

            try:
                self._vocoder = load_vocoder(self.vocoder_name, device=str(device))
            except ValueError as exc:
                print(f"validation audio: {exc}; using griffin-lim")
                self._vocoder = load_vocoder("griffin-lim", device=str(device))
        return self._vocoder

    @torch.no_grad()
    def on_validation_end(self, trainer: L.Trainer, pl_module) -> None:
        if not trainer.is_global_zero or self.n_utterances <= 0 or trainer.sanity_checking:
            return
        logger = trainer.logger
        if logger is None or not hasattr(logger.experiment, "add_image"):
            return
        dataset = trainer.datamodule.val_set
        items = [dataset[k] for k in range(min(self.n_utterances, len(dataset)))]
        if not items:
            return
        batch = collate(items).to(pl_module.device)
        model, stats, step = pl_module.model, pl_module.stats, trainer.global_step
        inference = pl_module.config["inference"]
        refine_config = RefineConfig(
            steps=max(1, int(inference["steps"])), step_size=inference["step_size"]
        )
        was_training = model.training
        model.eval()
        aligned = model.align(batch.tokens, batch.token_lengths, batch.mel, batch.mel_lengths)
        refined_aligned = refine(model.energy, aligned.mu, aligned.frame_mask, refine_config)
        prior = model.prior(batch.tokens, batch.token_lengths)
        refined = refine(model.energy, prior.mu, prior.frame_mask, refine_config)
        # A longer chain for the energy plot: shows whether more steps keep lowering it.
        trajectory = RefineConfig(
            steps=max(8, refine_config.steps), step_size=refine_config.step_size
        )
        _, energies = refine(
            model.energy, prior.mu, prior.frame_mask, trajectory, return_trajectory=True
        )
        model.train(was_training)

        writer = logger.experiment
        vocoder = self._vocoder_for(pl_module.device)
        for k, item in enumerate(items):
            n_ref = int(batch.mel_lengths[k])
            n_gen = int(prior.frame_mask[k].sum())
            panels = {
                "reference Y⁺": batch.mel[k, :, :n_ref],
                "prior μ (reference alignment)": aligned.mu[k, :, :n_ref],
                f"refined, {refine_config.steps} step(s) (reference alignment)": refined_aligned[
                    k, :, :n_ref
                ],
                "synthesised: refined μ (predicted durations)": refined[k, :, :n_gen],
            }
            panels = {
                name: stats.denormalize(m).float().cpu().numpy() for name, m in panels.items()
            }
            tag = f"val/{item['id']}"
            writer.add_image(f"{tag}/mel", mel_comparison_figure(panels), step, dataformats="HWC")
            path = aligned.path[k, : int(batch.token_lengths[k]), :n_ref].float().cpu().numpy()
            writer.add_image(f"{tag}/alignment", alignment_figure(path), step, dataformats="HWC")
            mel = stats.denormalize(refined[k : k + 1, :, :n_gen]).float()
            wav = vocoder(mel.to(pl_module.device)).reshape(-1).float().cpu()
            writer.add_audio(f"{tag}/audio", wav, step, sample_rate=vocoder.sample_rate)
        writer.add_image(
            "val/energy_along_refinement",
            energy_figure(energies.float().cpu().numpy()),
            step,
            dataformats="HWC",
        )
