"""Lightning module: alignment losses + one EBM objective, with guarded manual optimisation.

Manual optimisation because a non-finite loss or gradient must skip the update on *every* DDP
rank together (Lightning's "return None" skip is not supported under DDP), and because the
per-step seeding below must happen before any random draw of the step.
"""

from __future__ import annotations

import math
import time

import lightning as L
import torch

from tts_ebm.audio import MelStats
from tts_ebm.model.layers import random_segments
from tts_ebm.model.tts import EBMTTS, AlignedPrior
from tts_ebm.objectives import ObjectiveInputs, build_objective
from tts_ebm.train.data import Batch
from tts_ebm.train.prior_cache import FrozenPriorCache
from tts_ebm.train.refinement import refined_errors


def step_seed(seed: int, step: int, rank: int) -> int:
    """Seed of one training step: resuming at step k redraws exactly what the original drew."""
    return (seed * 1_000_003 + step * 7919 + rank) % (2**63 - 1)


def alignment_prior_weight(options: dict | None, step: int) -> float:
    """Weight of the alignment prior in MAS at ``step``: ``weight`` annealed linearly to 0 over
    the first ``steps`` steps (``model.alignment_prior``; absent or ``steps: 0``: never)."""
    if not options or step >= options["steps"]:
        return 0.0
    return options["weight"] * (1.0 - step / options["steps"])


def clip_groups(groups: dict[str, list[torch.Tensor]], max_norm: float) -> dict[str, torch.Tensor]:
    """Clip each group's gradient norm to ``max_norm`` on its own; return the norms before.

    One global clip lets a criterion whose gradient norm is 10³–10⁴ (NCE, SANCE: energies are
    sums over every mel bin) scale the encoder's prior and duration gradients down by as much.
    """
    norms = {}
    for name, params in groups.items():
        with_grad = [p for p in params if p.grad is not None]
        if with_grad:
            norms[name] = torch.nn.utils.clip_grad_norm_(with_grad, max_norm)
    return norms


class EBMTTSModule(L.LightningModule):
    def __init__(self, config: dict):
        """``config`` is the resolved training config (plain dict); it is saved in checkpoints."""
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.config = config
        self.model = EBMTTS.from_config(config["model"]["network"])
        self.objective = build_objective(config["objective"])
        # A pretrained prior (init_from) stays as it is: only the energy trains, and the prior
        # of each utterance is computed once.
        self.prior_cache = None
        if config["model"].get("freeze_encoder"):
            # Eval from the start: Lightning restores each submodule's mode as it found it at
            # fit start (without calling train()), so a frozen encoder built in train mode
            # kept its dropout on and the cache held one dropout draw of μ per utterance.
            self.model.encoder.requires_grad_(False).eval()
            self.prior_cache = FrozenPriorCache(self.model)
        self.stats = MelStats.from_dict(config["data"]["stats"])
        self.automatic_optimization = False
        # Counted in this process: a run whose every update was skipped learnt nothing.
        self.skipped_updates = 0
        self.applied_updates = 0
        self._step_started: float | None = None  # wall clock at the last training step's start

    def train(self, mode: bool = True) -> EBMTTSModule:
        """A frozen encoder stays in eval mode: its μ, without dropout, is the one inference
        gives the energy, and the same at every step."""
        super().train(mode)
        if self.config["model"].get("freeze_encoder"):
            self.model.encoder.eval()
        return self

    # -- optimisation ---------------------------------------------------------------------

    def configure_optimizers(self):
        optim = self.config["trainer"]["optim"]
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            params,
            lr=optim["lr"],
            betas=tuple(optim.get("betas", (0.9, 0.999))),
            weight_decay=optim.get("weight_decay", 0.0),
            # One fused kernel over all parameters instead of a loop of small ones: the same
            # update, 1.08–1.15× a small model's CPU step (benchmarks/README.md, training-levers).
            fused=optim.get("fused") or None,
        )
        warmup = int(optim.get("warmup_steps", 0))
        total = int(self.config["trainer"]["max_steps"])
        min_ratio = float(optim.get("min_lr_ratio", 0.1))
        schedule = optim.get("schedule", "cosine")

        def factor(step: int) -> float:
            if warmup and step < warmup:
                return (step + 1) / warmup
            if schedule == "constant":
                return 1.0
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return [optimizer], [{"scheduler": scheduler, "interval": "step"}]

    def parameter_groups(self) -> dict[str, list[torch.Tensor]]:
        """Trainable parameters by role: the text encoder (prior and durations) and the EBM
        (energy network and the criterion's own parameters, such as NCE's offset)."""
        encoder = [p for p in self.model.encoder.parameters() if p.requires_grad]
        ebm = [p for p in self.model.energy.parameters() if p.requires_grad]
        ebm += [p for p in self.objective.parameters() if p.requires_grad]
        return {"encoder": encoder, "energy": ebm}

    def clip_gradients_(self) -> torch.Tensor:
        """Clip as ``trainer.gradient_clip`` says (``global`` or ``per_group``); the norm
        before clipping (per group: the largest), logged per group."""
        clip = self.config["trainer"].get("gradient_clip_val") or float("inf")
        if self.config["trainer"].get("gradient_clip", "global") == "per_group":
            norms = clip_groups(self.parameter_groups(), clip)
            for name, norm in norms.items():
                self.log(f"train/grad_norm_{name}", norm, batch_size=1)
            return torch.stack(list(norms.values())).max()
        return torch.nn.utils.clip_grad_norm_(
            [p for p in self.parameters() if p.grad is not None], clip
        )

    def _all_ranks_finite(self, value: torch.Tensor) -> bool:
        finite = torch.isfinite(value.detach()).all().float()
        if self.trainer.world_size > 1:
            finite = self.trainer.strategy.reduce(finite, reduce_op="min")
        return bool(finite > 0)

    def _log_step_seconds(self) -> None:
        """``train/step_seconds``: wall time from the previous step's start to this one's.

        Start to start, so the work a step leaves queued on a GPU (its optimiser update) is
        paid for by the step and no synchronisation is added; data loading counts too. The
        first step of a process, and of training after validation, has no previous start.
        """
        now = time.perf_counter()
        if self._step_started is not None:
            self.log("train/step_seconds", now - self._step_started, batch_size=1)
        self._step_started = now

    def on_validation_start(self) -> None:
        self._step_started = None  # validation time is not a training step's

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        self._log_step_seconds()
        step = self.global_step
        torch.manual_seed(step_seed(self.config["seed"], step, self.global_rank))
        optimizer = self.optimizers()
        scheduler = self.lr_schedulers()
        losses, logs = self._losses(batch, step)
        loss = losses["loss"]
        if not self._all_ranks_finite(loss):
            self._skip_update(optimizer, "loss")
            return loss.detach()
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        grad_norm = self.clip_gradients_()
        if not self._all_ranks_finite(grad_norm):
            self._skip_update(optimizer, "gradient")
            return loss.detach()
        optimizer.step()
        scheduler.step()
        self.applied_updates += 1
        self.objective.on_train_batch_end(self.model.energy, step + 1)
        batch_size = batch.tokens.shape[0]
        self.log_dict(
            {f"train/{k}": v.detach() for k, v in losses.items()},
            prog_bar=False,
            batch_size=batch_size,
            sync_dist=False,
        )
        self.log("loss", loss.detach(), prog_bar=True, batch_size=batch_size, logger=False)
        self.log_dict(logs, batch_size=batch_size)
        self.log("train/grad_norm", grad_norm, batch_size=batch_size)
        return loss.detach()

    def _skip_update(self, optimizer, what: str) -> None:
        """Non-finite loss or gradient: no update, but the step counter moves on (logged).

        Stepping with every gradient set to None changes no weight and no optimiser moment,
        yet counts as a step for Lightning, so step-indexed batches and seeds stay in line.
        """
        self.print(f"step {self.global_step}: non-finite {what}, update skipped")
        optimizer.zero_grad(set_to_none=True)
        optimizer.step()
        self.skipped_updates += 1
        self.log("train/skipped_updates", float(self.skipped_updates), batch_size=1)

    def _align(self, batch: Batch, step: int | None = None) -> AlignedPrior:
        """μ aligned to the reference: through the cache when the encoder is frozen. A training
        ``step`` inside ``model.alignment_prior.steps`` adds the alignment prior to MAS."""
        if self.prior_cache is not None:
            return self.prior_cache.align(batch)
        options = self.config["model"].get("alignment_prior")
        weight = 0.0 if step is None else alignment_prior_weight(options, step)
        return self.model.align(
            batch.tokens,
            batch.token_lengths,
            batch.mel,
            batch.mel_lengths,
            batch.durations,
            alignment_prior_weight=weight,
            alignment_prior_scaling=options["scaling"] if weight else 1.0,
        )

    def _losses(self, batch: Batch, step: int) -> tuple[dict[str, torch.Tensor], dict]:
        weights = self.config["model"]["loss_weights"]
        aligned = self._align(batch, step)
        model = self.config["model"]
        detach = model.get("detach_condition") or model.get("freeze_encoder")
        mu = aligned.mu.detach() if detach else aligned.mu
        segment = self.config["model"].get("segment_frames")
        if segment:
            # Windows are not whole utterances: per-utterance state (CD replay, file
            # hypotheses) cannot be keyed by them, so the criterion gets no ids.
            (y_ref, mu), mask = random_segments([batch.mel, mu], aligned.frame_mask, segment)
            inputs = ObjectiveInputs(y_ref=y_ref, mu=mu, mask=mask, step=step)
        else:
            inputs = ObjectiveInputs(
                y_ref=batch.mel, mu=mu, mask=aligned.frame_mask, utterance_ids=batch.ids, step=step
            )
        out = self.objective(self.model.energy, inputs)
        losses = {
            "prior": aligned.prior_loss,
            "duration": aligned.duration_loss,
            "objective": out.loss,
        }
        losses["loss"] = (
            weights["prior"] * aligned.prior_loss
            + weights["duration"] * aligned.duration_loss
            + weights["objective"] * out.loss
        )
        logs = {f"objective/{k}": v for k, v in out.logs.items()}
        return losses, logs

    # -- validation -------------------------------------------------------------------------

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        """Mel errors of μ and of μ refined by 1 and K steps, on the reference alignment."""
        aligned = self._align(batch)
        inference = self.config["inference"]
        counts = sorted({1, int(inference["steps"])} - {0})
        eta = float(inference["step_size"])
        by_steps = refined_errors(
            self.model.energy, aligned.mu, batch.mel, aligned.frame_mask, counts, [eta]
        )
        errors = {"val/mse_prior": by_steps[(0, 0.0)]}
        errors.update({f"val/mse_refined_{k}": by_steps[(k, eta)] for k in counts})
        errors["val/prior_loss"] = aligned.prior_loss
        errors["val/duration_loss"] = aligned.duration_loss
        self.log_dict(errors, batch_size=batch.tokens.shape[0], sync_dist=True, prog_bar=False)
        self.log(
            "val_mse_1",
            errors["val/mse_refined_1"],
            prog_bar=True,
            logger=False,
            batch_size=batch.tokens.shape[0],
            sync_dist=True,
        )
