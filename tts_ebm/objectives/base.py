"""The interface every EBM criterion implements, weighted sums of criteria, and the registry.

Contract for an :class:`Objective` (delta, ssm, nce, sance, cd, and sums of them):

* ``forward(energy, inputs) -> ObjectiveOutput``. ``energy`` is anything satisfying
  :class:`~tts_ebm.model.energy.EnergyModel` (``energy(y, mu, mask)`` / ``score(...)``): the
  criterion never reaches into the network, so analytic energies test it and frozen snapshots
  reuse it. The loss is a scalar to *minimise*; masked means, so it does not scale with padding.
  Validation may run under ``torch.no_grad()`` or ``torch.inference_mode()`` (``score`` turns
  autograd back on for the input gradient); ask for ``create_graph`` only when
  ``torch.is_grad_enabled()``, i.e. training, so validation builds no second-order graph.
  μ is used as given: whether the criterion's gradient reaches the text encoder is the caller's
  choice (detach ``mu`` to stop it).
* ``logs`` holds detached scalars for the logger, keyed ``"<name>/<quantity>"``.
* Learned criterion quantities (NCE's offset c, a log-partition head) are parameters of the
  objective module, so the optimiser must be given ``objective.parameters()`` too.
* Criterion state that is not trained but must survive a checkpoint resume (SANCE's frozen
  snapshot of the energy network, CD's replay buffer keyed by utterance id) goes into
  ``get_extra_state``/``set_extra_state`` or persistent buffers, and must NOT appear in
  ``.parameters()``: hold a snapshot outside the module tree (e.g. in a plain list or dict
  attribute) and serialise its ``state_dict`` through the extra state.
* ``on_train_batch_end(energy, step)`` runs after each optimiser step (refresh a snapshot every K
  steps, age a buffer); the default does nothing.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from tts_ebm.model.energy import EnergyModel


@dataclass
class ObjectiveInputs:
    """One batch as the criteria see it (all in normalised mel space)."""

    y_ref: Tensor  # (B, n_mels, T) reference mel Y⁺
    mu: Tensor  # (B, n_mels, T) aligned text condition
    mask: Tensor  # (B, 1, T) float frame mask
    utterance_ids: list[str] | None = None  # keys for per-utterance state (replay buffers, files)
    step: int = 0  # global training step


@dataclass
class ObjectiveOutput:
    loss: Tensor  # scalar to minimise
    logs: dict[str, float | Tensor] = field(default_factory=dict)


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of a (B, C, T) tensor over valid frames and all channels."""
    return (x * mask).sum() / (mask.sum() * x.shape[1]).clamp_min(1.0)


class Objective(nn.Module, ABC):
    """An EBM training criterion; see the module docstring for the contract."""

    name: str = "objective"

    @abstractmethod
    def forward(self, energy: EnergyModel, inputs: ObjectiveInputs) -> ObjectiveOutput: ...

    def on_train_batch_end(self, energy: EnergyModel, step: int) -> None:
        """Hook after each optimiser step; stateless criteria need nothing here."""


class WeightedSum(Objective):
    """Σ wᵢ·Lᵢ of several criteria (e.g. SSM + delta) as one objective."""

    name = "sum"

    def __init__(self, terms: list[tuple[float, Objective]]) -> None:
        super().__init__()
        if not terms:
            raise ValueError("a weighted sum needs at least one term")
        self.weights = [float(w) for w, _ in terms]
        self.terms = nn.ModuleList(term for _, term in terms)
        names = [term.name for _, term in terms]
        # Log keys use each term's name, numbered only where two terms share one.
        self.labels = [n if names.count(n) == 1 else f"{n}{i}" for i, n in enumerate(names)]

    def forward(self, energy: EnergyModel, inputs: ObjectiveInputs) -> ObjectiveOutput:
        losses = []
        logs: dict[str, float | Tensor] = {}
        for weight, term, label in zip(self.weights, self.terms, self.labels, strict=True):
            out = term(energy, inputs)
            losses.append(weight * out.loss)
            for key, value in out.logs.items():
                logs[f"{label}/{key.removeprefix(f'{term.name}/')}"] = value
        total = torch.stack(losses).sum()
        logs["sum/loss"] = total.detach()
        return ObjectiveOutput(loss=total, logs=logs)

    def on_train_batch_end(self, energy: EnergyModel, step: int) -> None:
        for term in self.terms:
            term.on_train_batch_end(energy, step)


ObjectiveFactory = Callable[..., Objective]
_REGISTRY: dict[str, ObjectiveFactory] = {}


def register_objective(name: str) -> Callable[[ObjectiveFactory], ObjectiveFactory]:
    """Make ``build_objective({"name": name, ...})`` call the decorated class or function."""

    def decorate(factory: ObjectiveFactory) -> ObjectiveFactory:
        if name in _REGISTRY:
            raise ValueError(f"objective {name!r} is registered twice")
        _REGISTRY[name] = factory
        return factory

    return decorate


def known_objectives() -> list[str]:
    return sorted(_REGISTRY)


def build_objective(config: dict) -> Objective:
    """Build from a config such as ``{"name": "delta", "step_size": 1.0}`` or
    ``{"name": "sum", "terms": [{"weight": 1.0, "name": "delta"}, ...]}``."""
    options = dict(config)
    name = options.pop("name", None)
    if name not in _REGISTRY:
        raise ValueError(f"unknown objective {name!r}; known: {', '.join(known_objectives())}")
    factory = _REGISTRY[name]
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as err:
        raise ValueError(f"bad options for objective {name!r}: {err}") from None
    return factory(**options)


@register_objective("sum")
def _build_weighted_sum(terms: list[dict]) -> WeightedSum:
    built = []
    for term in terms:
        options = dict(term)
        weight = float(options.pop("weight", 1.0))
        built.append((weight, build_objective(options)))
    return WeightedSum(built)
