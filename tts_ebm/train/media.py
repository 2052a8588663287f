"""Validation images and audio in TensorBoard: what people look at to judge a run."""

from __future__ import annotations

import lightning as L
import torch

from tts_ebm.model.flow import VectorField
from tts_ebm.plots import alignment_figure, energy_figure, mel_figure, to_rgb
from tts_ebm.sampling import RefineConfig, refine
from tts_ebm.train.data import collate


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
        aligned = model.align(
            batch.tokens, batch.token_lengths, batch.mel, batch.mel_lengths, batch.durations
        )
        refined_aligned = refine(model.energy, aligned.mu, aligned.frame_mask, refine_config)
        prior = model.prior(batch.tokens, batch.token_lengths)
        refined = refine(model.energy, prior.mu, prior.frame_mask, refine_config)
        # A longer chain for the energy plot: shows whether more steps keep lowering it.
        energies = None
        if not isinstance(model.energy, VectorField):
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
            writer.add_image(f"{tag}/mel", to_rgb(mel_figure(panels)), step, dataformats="HWC")
            path = aligned.path[k, : int(batch.token_lengths[k]), :n_ref].float().cpu().numpy()
            writer.add_image(
                f"{tag}/alignment", to_rgb(alignment_figure(path)), step, dataformats="HWC"
            )
            mel = stats.denormalize(refined[k : k + 1, :, :n_gen]).float()
            wav = vocoder(mel.to(pl_module.device)).reshape(-1).float().cpu()
            writer.add_audio(f"{tag}/audio", wav, step, sample_rate=vocoder.sample_rate)
        if energies is not None:
            writer.add_image(
                "val/energy_along_refinement",
                to_rgb(energy_figure(energies.float().cpu().numpy())),
                step,
                dataformats="HWC",
            )
