"""Improved contrastive divergence (seed: Du, Li, Tenenbaum & Mordatch 2021).

Negatives Y⁻ are K Langevin steps under the *current* energy, started from a replay buffer
keyed by utterance id (probability ``replay_probability``; the buffer holds each utterance's last
negative) or else from μ + σε. With energies normalised per valid element, e(Y) = E_θ(Y; μ)/N:

    L = mean_B[ e(Y⁺) − e(sg Y⁻) ] + α·mean_B[ e(Y⁺)² + e(sg Y⁻)² ]
        + w_KL·mean_B[ e_{sg θ}(Y⁻(θ)) ] − w_H·mean_B[ log d_k(Y⁻(θ)) ]

The first term is the maximum-likelihood gradient with Y⁻ as model samples; α keeps energies
near zero (Du et al.'s regulariser). The KL term trains the *sampler*: Y⁻(θ) is the last
Langevin step Y_K = sg(Y_{K−1}) + η·s_θ(sg(Y_{K−1})) + noise with its parameter graph, and the
energy that scores it is frozen, so the gradient reaches θ only through s_θ in that step. Its
θ-gradient is (∇_Y E(Y_K))ᵀ ∂Y_K/∂θ, computed here as the surrogate ⟨sg(∇_Y E(Y_K)), Y_K⟩ — the
exact chain rule, without touching the energy's parameters (the test checks it against a copy
evaluated with detached weights). The optional entropy term (``entropy_weight``) is Du et al.'s
nearest-neighbour estimate: the log distance from each negative (with graph) to its k-th nearest
other negative in the batch (detached), pushing the sampler to spread out. Negatives of different
utterances are compared frame by frame, a crude proxy for TTS.

Normalising by N = frames × channels makes the loss and α independent of utterance length and
comparable with the masked means of the other criteria; it rescales the gradient by 1/N only.

Needs: utterance ids for the replay buffer (without them every chain starts fresh). The buffer
lives on the CPU as float16 (one n_mels × T tensor per utterance: ~90 kB for an LJSpeech
utterance, ~1.2 GB for all of LJSpeech) and is written into every checkpoint through the extra
state; ``buffer_size`` caps it, dropping the least recently written utterance. Under DDP each
rank keeps its own buffer and a checkpoint holds rank 0's. Cost: ``langevin_steps`` scores
(the last with a parameter graph), one score at Y⁻ for the KL term, one forward/backward on
2·B utterances. Logs energies of positives and negatives, the buffer size and the fraction of
chains restarted from it, the KL and entropy terms, and the RMS distance to Y⁺ of the chains'
starts and ends.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor

from tts_ebm.model.energy import EnergyModel
from tts_ebm.objectives.base import (
    Objective,
    ObjectiveInputs,
    ObjectiveOutput,
    register_objective,
)
from tts_ebm.objectives.hypotheses import PriorHypothesis
from tts_ebm.objectives.langevin import langevin_chain
from tts_ebm.objectives.nce import energies_of, energy_regulariser, rms_distance


def kl_surrogate(energy: EnergyModel, y_last: Tensor, mu: Tensor, mask: Tensor) -> Tensor:
    """Per utterance (B,): a function of Y_K whose θ-gradient is that of E_{sg θ}(Y_K(θ)).

    ⟨sg(∇_Y E(Y_K)), Y_K⟩ — its value is not the energy (callers add the detached energy).
    """
    grad = -energy.score(y_last.detach(), mu.detach(), mask)
    return (grad.detach() * y_last).sum(dim=(1, 2))


def knn_log_distance(y: Tensor, mask: Tensor, k: int) -> Tensor:
    """Per sample (B,): log distance (RMS per element) to its k-th nearest other sample, with the
    neighbours detached so each sample is pushed away from the others, not dragged along."""
    flat = (y * mask).flatten(1)
    dist = torch.cdist(flat, flat.detach()) / flat.shape[1] ** 0.5
    dist = dist + torch.diag(torch.full_like(dist.diagonal(), float("inf")))
    return torch.log(dist.kthvalue(k, dim=1).values + 1e-8)


@register_objective("cd")
class ImprovedContrastiveDivergence(Objective):
    """CD with a per-utterance replay buffer, energy regulariser, KL and entropy terms."""

    name = "cd"

    def __init__(
        self,
        langevin_steps: int = 10,
        langevin_step_size: float = 0.1,
        langevin_noise: float = 0.01,
        sigma: float = 1.0,
        replay_probability: float = 0.95,
        buffer_size: int | None = None,
        alpha: float = 1.0,
        kl_weight: float = 1.0,
        entropy_weight: float = 0.0,
        entropy_k: int = 1,
    ) -> None:
        super().__init__()
        if not 0 <= replay_probability <= 1:
            raise ValueError(f"replay_probability must be in [0, 1], got {replay_probability}")
        if buffer_size is not None and buffer_size < 1:
            raise ValueError(f"buffer_size must be positive or null, got {buffer_size}")
        if langevin_steps < 0 or langevin_step_size <= 0 or langevin_noise < 0:
            raise ValueError(
                f"need langevin_steps >= 0, langevin_step_size > 0, langevin_noise >= 0; got "
                f"{langevin_steps}, {langevin_step_size}, {langevin_noise}"
            )
        if langevin_steps < 1 and (kl_weight or entropy_weight):
            raise ValueError("the KL and entropy terms need at least one Langevin step")
        if min(alpha, kl_weight, entropy_weight) < 0 or entropy_k < 1:
            raise ValueError("alpha, kl_weight, entropy_weight must be >= 0 and entropy_k >= 1")
        self.steps = langevin_steps
        self.step_size = float(langevin_step_size)
        self.noise = float(langevin_noise)
        self.start = PriorHypothesis(sigma)
        self.replay_probability = float(replay_probability)
        self.buffer_size = buffer_size
        self.alpha = float(alpha)
        self.kl_weight = float(kl_weight)
        self.entropy_weight = float(entropy_weight)
        self.entropy_k = entropy_k
        self.buffer: OrderedDict[str, Tensor] = OrderedDict()

    # -- replay buffer ------------------------------------------------------------------------

    def _starts(self, inputs: ObjectiveInputs, energy: EnergyModel) -> tuple[Tensor, int]:
        """Chain starts: the buffered negative with probability p where one fits, else μ + σε."""
        start = self.start.sample(inputs, energy)
        if inputs.utterance_ids is None or not self.buffer:
            return start, 0
        lengths = inputs.mask.sum(dim=(1, 2)).round().long().tolist()
        replay = (torch.rand(len(lengths)) < self.replay_probability).tolist()
        replayed = 0
        for b, (uid, length, use) in enumerate(
            zip(inputs.utterance_ids, lengths, replay, strict=True)
        ):
            stored = self.buffer.get(uid)
            if use and stored is not None and stored.shape == (start.shape[1], length):
                start[b, :, :length] = stored.to(start.device, start.dtype)
                replayed += 1
        return start, replayed

    def _store(self, negatives: Tensor, inputs: ObjectiveInputs) -> None:
        if inputs.utterance_ids is None:
            return
        lengths = inputs.mask.sum(dim=(1, 2)).round().long().tolist()
        cpu = negatives.detach().to("cpu", torch.float16)
        for b, (uid, length) in enumerate(zip(inputs.utterance_ids, lengths, strict=True)):
            self.buffer.pop(uid, None)
            self.buffer[uid] = cpu[b, :, :length].clone()
        while self.buffer_size is not None and len(self.buffer) > self.buffer_size:
            self.buffer.popitem(last=False)

    def get_extra_state(self) -> dict:
        return {"ids": list(self.buffer), "chains": list(self.buffer.values())}

    def set_extra_state(self, state: dict) -> None:
        self.buffer = OrderedDict(zip(state["ids"], state["chains"], strict=True))

    # -- the criterion ------------------------------------------------------------------------

    def forward(self, energy: EnergyModel, inputs: ObjectiveInputs) -> ObjectiveOutput:
        y_ref, mu, mask = inputs.y_ref, inputs.mu, inputs.mask
        training = torch.is_grad_enabled()
        start, replayed = self._starts(inputs, energy)
        sampler_terms = training and (self.kl_weight > 0 or self.entropy_weight > 0)
        y_last = langevin_chain(
            energy, start, mu, mask, self.steps, self.step_size, self.noise, sampler_terms
        )
        negatives = y_last.detach()
        if training:
            self._store(negatives, inputs)

        n_valid = (mask.sum(dim=(1, 2)) * y_ref.shape[1]).clamp_min(1.0)
        energies = energies_of(energy, [y_ref, negatives], mu, mask) / n_valid  # (2, B)
        e_pos, e_neg = energies
        loss = (e_pos - e_neg).mean() + self.alpha * energy_regulariser(energies)
        logs: dict[str, float | Tensor] = {}
        if sampler_terms and self.kl_weight > 0:
            surrogate = kl_surrogate(energy, y_last, mu, mask) / n_valid
            # The value of E_{sg θ}(Y_K) per element, with the surrogate's gradient.
            kl = (e_neg.detach() + surrogate - surrogate.detach()).mean()
            loss = loss + self.kl_weight * kl
            logs["cd/kl"] = kl.detach()
        if sampler_terms and self.entropy_weight > 0:
            if y_ref.shape[0] <= self.entropy_k:
                raise ValueError(
                    f"the entropy term needs more than entropy_k={self.entropy_k} "
                    f"negatives in a batch, got {y_ref.shape[0]}"
                )
            entropy = knn_log_distance(y_last, mask, self.entropy_k).mean()
            loss = loss - self.entropy_weight * entropy
            logs["cd/entropy"] = entropy.detach()
        logs.update(
            {
                "cd/loss": loss.detach(),
                "cd/energy_pos": e_pos.detach().mean(),
                "cd/energy_neg": e_neg.detach().mean(),
                "cd/buffer_size": float(len(self.buffer)),
                "cd/replayed": replayed / y_ref.shape[0],
                "cd/dist_start": rms_distance(y_ref, [start], mask),
                "cd/dist_neg": rms_distance(y_ref, [negatives], mask),
            }
        )
        return ObjectiveOutput(loss=loss, logs=logs)
