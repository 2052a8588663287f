"""Refinement: turn μ into a mel by descending (or Langevin-sampling) the energy.

    Y₀ = μ + τ·ε,    Y_{k+1} = Y_k + η_k·s_θ(Y_k; μ) + √(2η_kλ)·ε_k,    s_θ = −∇_Y E_θ

with the knobs exactly as DESIGN.md §2 defines them: ``steps`` K, ``step_size`` η,
``temperature`` τ multiplies the initial noise (0 = start at μ), ``langevin`` λ scales the
per-step noise (0 = plain gradient descent; 1 = unadjusted Langevin dynamics of p ∝ exp(−E)).

Step-size schedules (η_k for k = 0..K−1; :meth:`RefineConfig.step_sizes`):

* ``constant``: η_k = η.
* ``linear``: from η at the first step to η_min at the last, linearly.
* ``cosine``: from η to η_min along half a cosine (slow start and end of the decay).
* an explicit list ``step_size=(η_0, ..., η_{K−1})``, one value per step.

Allowed ranges (:class:`RefineConfig` refuses anything else, NaN and ±inf included, before any
work, so a CLI flag, an API keyword and a checkpoint's stored default fail alike):
``steps`` an integer in [0, 10000]; each η in (0, 100]; ``step_size_min`` in [0, 100] (at most η
for a decaying schedule); ``temperature`` and ``langevin`` in [0, 10]; ``stop_threshold`` finite
and >= 0.

Early stopping (``stop_threshold`` > 0): an utterance stops moving, for good, at the first step
where the root-mean-square of its score over its valid mel bins falls below the threshold; the
loop ends once every utterance has stopped. Which utterances move is decided on the device at
every step; only *ending the loop* needs the host, and that check synchronises a GPU, so it runs
every ``stop_check_every`` steps. The result does not depend on that interval, only the wasted
work on a finished batch does.

Device notes: nothing inside the loop reads tensor values on the host (no ``.item()``, no
data-dependent shapes) apart from that early-stop check, so on CUDA the loop queues kernels
without waiting. CUDA graphs and ``torch.compile`` of the score are not used: they could not be
measured on the CPU-only machines this was written on, and a change that cannot be tested does
not go in.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, overload

import torch
import torch.nn.functional as F
from torch import Tensor

from tts_ebm.model.energy import EnergyModel

SCHEDULES = ("constant", "linear", "cosine")
MAX_STEPS = 10_000
MAX_STEP_SIZE = 100.0
MAX_NOISE = 10.0  # temperature τ and langevin λ: 1 is already the scale of the data


def check_number(
    name: str,
    value: object,
    low: float,
    high: float = math.inf,
    *,
    integer: bool = False,
    low_open: bool = False,
) -> None:
    """Refuse a knob that is not a finite number (an integer if asked) in its range, with a
    message that names it and states the range. NaN fails every comparison, so the test asks
    for a value inside the range, never for one outside it (``nan < 0`` is False)."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    inside = (value > low if low_open else value >= low) and value <= high
    finite = isinstance(value, numbers.Integral) or math.isfinite(value)  # ints never overflow
    if not (inside and finite):
        lower = ("positive" if low == 0 else f"> {_show(low)}") if low_open else f">= {_show(low)}"
        upper = "finite" if math.isinf(high) else f"<= {_show(high)}"
        raise ValueError(f"{name} must be {lower} and {upper}, got {value!r}")


def _show(bound: float) -> str:
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


@dataclass
class RefineConfig:
    """Sampler knobs; ``step_size`` is η, or one η_k per step (then ``schedule`` is unused).

    The one place the sampler's ranges are checked (see the module docstring)."""

    steps: int = 1
    step_size: float | Sequence[float] = 1.0
    temperature: float = 0.0
    langevin: float = 0.0
    schedule: str = "constant"
    step_size_min: float = 0.0
    stop_threshold: float = 0.0  # 0 = always run all steps
    stop_check_every: int = 4

    def __post_init__(self) -> None:
        check_number("steps", self.steps, 0, MAX_STEPS, integer=True)
        self._check_step_sizes()
        check_number("temperature", self.temperature, 0, MAX_NOISE)
        check_number("langevin", self.langevin, 0, MAX_NOISE)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {SCHEDULES}")
        check_number("step_size_min", self.step_size_min, 0, MAX_STEP_SIZE)
        if self.schedule != "constant" and not self.step_size_min <= self.step_size:
            raise ValueError(
                f"step_size_min must lie in [0, step_size={self.step_size}], "
                f"got {self.step_size_min}"
            )
        check_number("stop_threshold", self.stop_threshold, 0)
        check_number("stop_check_every", self.stop_check_every, 1, integer=True)

    def _check_step_sizes(self) -> None:
        """η, or one η_k per step: the length is checked before anything is copied."""
        if isinstance(self.step_size, str) or not isinstance(self.step_size, Sequence):
            check_number("step_size", self.step_size, 0, MAX_STEP_SIZE, low_open=True)
            return
        if len(self.step_size) != self.steps:
            raise ValueError(
                f"a step_size list needs one value per step: {len(self.step_size)} values "
                f"for {self.steps} steps"
            )
        if self.schedule != "constant":
            raise ValueError("give either a step_size list or a schedule, not both")
        for k, eta in enumerate(self.step_size, start=1):
            try:
                check_number("step_size", eta, 0, MAX_STEP_SIZE, low_open=True)
            except ValueError as exc:
                raise ValueError(f"{exc} (value {k} of the list)") from None
        self.step_size = tuple(float(eta) for eta in self.step_size)

    def step_sizes(self) -> list[float]:
        """η_0..η_{K−1} as plain floats (host values: the loop never reads the device)."""
        if isinstance(self.step_size, tuple):
            return list(self.step_size)
        eta, eta_min, k_max = float(self.step_size), self.step_size_min, self.steps - 1
        if self.schedule == "constant" or k_max <= 0:
            return [eta] * self.steps
        fractions = [k / k_max for k in range(self.steps)]
        if self.schedule == "linear":
            return [eta + (eta_min - eta) * f for f in fractions]
        return [eta_min + (eta - eta_min) * 0.5 * (1 + math.cos(math.pi * f)) for f in fractions]


@dataclass
class Refinement:
    """What :func:`refine_details` produced: Y, per-utterance steps taken, optional energies."""

    y: Tensor  # (B, n_mels, T), zero on padded frames
    steps_taken: Tensor  # (B,) long: the updates each utterance received
    energies: Tensor | None  # (steps run + 1, B) with ``return_trajectory``, else None


Generators = torch.Generator | Sequence[torch.Generator] | None


@torch.no_grad()
def refine_details(
    energy: EnergyModel,
    mu: Tensor,
    mask: Tensor,
    config: RefineConfig | None = None,
    generator: Generators = None,
    y0: Tensor | None = None,
    return_trajectory: bool = False,
) -> Refinement:
    """Refine from μ (or from ``y0``, e.g. another system's mel); see the module docstring.

    ``generator``: one generator draws each step's noise for the whole batch at once (fast, but
    an utterance's noise then depends on its batch); a sequence gives one generator per
    utterance, which draws noise of that utterance's own length, so every result is the same in
    any batch and with any padding. That needs prefix masks and reads their lengths once, before
    the loop. The model's train/eval mode is left as the caller set it.
    """
    config = config or RefineConfig()
    noise = _noise_source(mu, mask, generator)
    y = mu if y0 is None else y0
    if config.temperature > 0:
        y = y + config.temperature * noise()
    y = y * mask
    energies = [energy.energy(y, mu, mask)] if return_trajectory else []
    early_stop = config.stop_threshold > 0
    active = torch.ones(mu.shape[0], dtype=torch.bool, device=mu.device)
    steps_taken = torch.zeros(mu.shape[0], dtype=torch.long, device=mu.device)
    n_bins = (mask.sum(dim=(1, 2)) * mu.shape[1]).clamp_min(1)
    noise_mask = mask
    for k, eta in enumerate(config.step_sizes()):
        score = energy.score(y, mu, mask)
        if early_stop:
            rms = (score.pow(2).sum(dim=(1, 2)) / n_bins).sqrt()
            active = active & (rms >= config.stop_threshold)
            gate = active[:, None, None].to(y.dtype)
            score, noise_mask = score * gate, mask * gate
        y = y + eta * score
        noise_scale = math.sqrt(2 * eta * config.langevin)
        if noise_scale > 0:
            y = y + noise_scale * noise() * noise_mask
        steps_taken += active
        if return_trajectory:
            energies.append(energy.energy(y, mu, mask))
        if early_stop and (k + 1) % config.stop_check_every == 0 and not bool(active.any()):
            break  # the one host synchronisation, every stop_check_every steps
    return Refinement(y, steps_taken, torch.stack(energies) if return_trajectory else None)


def _noise_source(mu: Tensor, mask: Tensor, generator: Generators):
    """A function drawing ε of μ's shape, from one generator or one per utterance."""
    if generator is None or isinstance(generator, torch.Generator):

        def batch_noise() -> Tensor:
            return torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)

        return batch_noise
    generators = list(generator)
    if len(generators) != mu.shape[0]:
        raise ValueError(f"{len(generators)} generators for a batch of {mu.shape[0]}")
    lengths = [int(n) for n in mask.sum(dim=(1, 2)).round().tolist()]
    n_mels, n_frames = mu.shape[1], mu.shape[2]

    def per_utterance_noise() -> Tensor:
        draws = [
            F.pad(
                torch.randn(n_mels, n, generator=g, dtype=mu.dtype, device=mu.device),
                (0, n_frames - n),
            )
            for g, n in zip(generators, lengths, strict=True)
        ]
        return torch.stack(draws)

    return per_utterance_noise


@overload
def refine(
    energy: EnergyModel,
    mu: Tensor,
    mask: Tensor,
    config: RefineConfig | None = ...,
    generator: Generators = ...,
    y0: Tensor | None = ...,
    return_trajectory: Literal[False] = ...,
) -> Tensor: ...


@overload
def refine(
    energy: EnergyModel,
    mu: Tensor,
    mask: Tensor,
    config: RefineConfig | None = ...,
    generator: Generators = ...,
    y0: Tensor | None = ...,
    *,
    return_trajectory: Literal[True],
) -> tuple[Tensor, Tensor]: ...


def refine(
    energy: EnergyModel,
    mu: Tensor,
    mask: Tensor,
    config: RefineConfig | None = None,
    generator: Generators = None,
    y0: Tensor | None = None,
    return_trajectory: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """:func:`refine_details` returning only Y (B, n_mels, T), zero on padded frames, with no
    graph; with ``return_trajectory`` also the energies E(Y_0..Y_K) as (steps + 1, B), for plots
    (one extra forward per step)."""
    out = refine_details(energy, mu, mask, config, generator, y0, return_trajectory)
    return (out.y, out.energies) if out.energies is not None else out.y
