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

Allowed ranges (:data:`KNOBS`, the one place every inference knob's range is stated, so a CLI
flag, an API keyword, a checkpoint's stored default and a training config's ``inference`` fail
alike, NaN and ±inf included, before any work): ``steps`` an integer in [0, 10000]; each η in
(0, 100]; ``step_size_min`` in [0, 100] (at most η for a decaying schedule); ``temperature`` and
``langevin`` in [0, 10]; ``stop_threshold`` finite and >= 0. The synthesizer's own knobs live
there too (:mod:`tts_ebm.checkpoint` cannot import :mod:`tts_ebm.synthesis`): ``speaking_rate``
in [0.1, 10] (bounds the frames a sentence can ask for), ``seed`` in [0, 2⁶³ − 1] and
``batch_size`` in [1, 1024].

A flow decoder (:class:`~tts_ebm.model.flow.VectorField`, ``form: flow``) takes the same path
with its vector field in place of the score: K steps of h = 1/K from x₀ = μ + τε, so ``steps``
counts solver steps (``step_size`` and ``schedule`` are not used). ``solver`` picks the ODE
solver: ``euler`` x_{k+1} = x_k + h·v(x_k, t_k) (one evaluation per step), ``midpoint``
x_k + h·v(x_k + h/2·v(x_k, t_k), t_k + h/2) and ``heun`` x_k + h/2·(v(x_k, t_k) + v(x_k +
h·v(x_k, t_k), t_k + h)) (second order, two evaluations per step: compare them with Euler at
equal :meth:`RefineConfig.network_evaluations`, not equal steps). It integrates an ODE, so
``langevin``, ``stop_threshold`` and energy trajectories are refused, and an energy refuses any
solver but ``euler`` (plain gradient steps).

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
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, overload

import torch
import torch.nn.functional as F
from torch import Tensor

from tts_ebm.model.energy import EnergyModel
from tts_ebm.model.flow import VectorField
from tts_ebm.schema import AnyOf, Float, Int, ListOf, Record, SchemaError, Str

SCHEDULES = ("constant", "linear", "cosine")
# ODE solvers of a flow decoder, with the vector-field evaluations each takes per step.
SOLVERS = {"euler": 1, "midpoint": 2, "heun": 2}
MAX_STEPS = 10_000
MAX_STEP_SIZE = 100.0
MAX_NOISE = 10.0  # temperature τ and langevin λ: 1 is already the scale of the data
SPEAKING_RATES = (0.1, 10.0)
MAX_SEED = 2**63 - 1
MAX_BATCH_SIZE = 1024
STEP_SIZE = Float(0.0, MAX_STEP_SIZE, low_open=True)


@dataclass(frozen=True)
class _Knobs(Record):
    """Each knob's range, then :class:`RefineConfig`'s own rules between knobs (a step_size list
    needs one value per step, ...), so stored knobs that pass would also synthesise."""

    def check(self, value: Any, key: str) -> None:
        super().check(value, key)
        sampler = {f.name for f in fields(RefineConfig)}
        try:
            RefineConfig(**{name: value[name] for name in sampler if name in value})
        except ValueError as exc:
            raise SchemaError(f"{key}: {exc}" if key else str(exc)) from None


KNOBS = _Knobs(
    {
        "steps": Int(0, MAX_STEPS),
        "step_size": AnyOf((STEP_SIZE, ListOf(STEP_SIZE, 1, MAX_STEPS))),
        "temperature": Float(0.0, MAX_NOISE),
        "langevin": Float(0.0, MAX_NOISE),
        "schedule": Str(SCHEDULES),
        "solver": Str(tuple(SOLVERS)),
        "step_size_min": Float(0.0, MAX_STEP_SIZE),
        "stop_threshold": Float(0.0),
        "speaking_rate": Float(*SPEAKING_RATES),
        "seed": Int(0, MAX_SEED),
        "batch_size": Int(1, MAX_BATCH_SIZE),
    }
)
_STOP_CHECK_EVERY = Int(1)


def check_knob(name: str, value: object) -> None:
    """Refuse (ValueError) a value of knob ``name`` outside its range in :data:`KNOBS`."""
    KNOBS.fields[name].check(value, name)


@dataclass
class RefineConfig:
    """Sampler knobs; ``step_size`` is η, or one η_k per step (then ``schedule`` is unused).

    Ranges as in :data:`KNOBS` (see the module docstring)."""

    steps: int = 1
    step_size: float | Sequence[float] = 1.0
    temperature: float = 0.0
    langevin: float = 0.0
    schedule: str = "constant"
    step_size_min: float = 0.0
    stop_threshold: float = 0.0  # 0 = always run all steps
    stop_check_every: int = 4
    solver: str = "euler"  # a flow decoder's ODE solver (an energy descends its gradient)

    def __post_init__(self) -> None:
        check_knob("steps", self.steps)
        self._check_step_sizes()
        check_knob("temperature", self.temperature)
        check_knob("langevin", self.langevin)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {SCHEDULES}")
        check_knob("step_size_min", self.step_size_min)
        if self.schedule != "constant" and not self.step_size_min <= self.step_size:
            raise ValueError(
                f"step_size_min must lie in [0, step_size={self.step_size}], "
                f"got {self.step_size_min}"
            )
        check_knob("stop_threshold", self.stop_threshold)
        _STOP_CHECK_EVERY.check(self.stop_check_every, "stop_check_every")
        check_knob("solver", self.solver)

    def network_evaluations(self, flow: bool) -> int:
        """Evaluations of the network K steps take: a flow's solver may take two per step; an
        energy takes one score (a forward and its input gradient) per step."""
        return self.steps * (SOLVERS[self.solver] if flow else 1)

    def _check_step_sizes(self) -> None:
        """η, or one η_k per step: the length is checked before anything is copied."""
        if isinstance(self.step_size, str) or not isinstance(self.step_size, Sequence):
            STEP_SIZE.check(self.step_size, "step_size")
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
                STEP_SIZE.check(eta, "step_size")
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
    energy: EnergyModel | VectorField,
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
    flow = isinstance(energy, VectorField)
    if flow:
        _check_flow_knobs(config, return_trajectory)
        step_sizes = [1.0 / config.steps] * config.steps if config.steps else []
    else:
        _check_energy_knobs(config)
        step_sizes = config.step_sizes()
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
    for k, eta in enumerate(step_sizes):
        if flow:
            direction = _flow_direction(energy, y, mu, mask, k / config.steps, eta, config.solver)
        else:
            direction = energy.score(y, mu, mask)
        if early_stop:
            rms = (direction.pow(2).sum(dim=(1, 2)) / n_bins).sqrt()
            active = active & (rms >= config.stop_threshold)
            gate = active[:, None, None].to(y.dtype)
            direction, noise_mask = direction * gate, mask * gate
        y = y + eta * direction
        noise_scale = math.sqrt(2 * eta * config.langevin)
        if noise_scale > 0:
            y = y + noise_scale * noise() * noise_mask
        steps_taken += active
        if return_trajectory:
            energies.append(energy.energy(y, mu, mask))
        if early_stop and (k + 1) % config.stop_check_every == 0 and not bool(active.any()):
            break  # the one host synchronisation, every stop_check_every steps
    return Refinement(y, steps_taken, torch.stack(energies) if return_trajectory else None)


def _flow_direction(
    field: VectorField, x: Tensor, mu: Tensor, mask: Tensor, t: float, h: float, solver: str
) -> Tensor:
    """The slope one solver step of size ``h`` from (x, t) takes (see the module docstring)."""
    v = field.velocity(x, mu, mask, t)
    if solver == "midpoint":
        return field.velocity(x + 0.5 * h * v, mu, mask, t + 0.5 * h)
    if solver == "heun":
        return 0.5 * (v + field.velocity(x + h * v, mu, mask, t + h))
    return v


def _check_flow_knobs(config: RefineConfig, return_trajectory: bool) -> None:
    """Refuse what only an energy supports (a flow integrates an ODE and has no energy)."""
    if config.langevin > 0 or config.stop_threshold > 0 or return_trajectory:
        raise ValueError(
            "a flow decoder integrates an ODE: langevin, stop_threshold and energy "
            "trajectories need an energy"
        )


def _check_energy_knobs(config: RefineConfig) -> None:
    if config.solver != "euler":
        raise ValueError(
            f"solver {config.solver!r} integrates a flow decoder; an energy takes gradient steps"
        )


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
    energy: EnergyModel | VectorField,
    mu: Tensor,
    mask: Tensor,
    config: RefineConfig | None = ...,
    generator: Generators = ...,
    y0: Tensor | None = ...,
    return_trajectory: Literal[False] = ...,
) -> Tensor: ...


@overload
def refine(
    energy: EnergyModel | VectorField,
    mu: Tensor,
    mask: Tensor,
    config: RefineConfig | None = ...,
    generator: Generators = ...,
    y0: Tensor | None = ...,
    *,
    return_trajectory: Literal[True],
) -> tuple[Tensor, Tensor]: ...


def refine(
    energy: EnergyModel | VectorField,
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
