"""EBM training criteria behind one interface (``Objective``), built from config dicts.

Importing this package registers every criterion with :func:`build_objective`.
"""

from tts_ebm.objectives.base import (
    Objective,
    ObjectiveInputs,
    ObjectiveOutput,
    WeightedSum,
    build_objective,
    known_objectives,
    masked_mean,
    register_objective,
)
from tts_ebm.objectives.delta import DeltaObjective
from tts_ebm.objectives.hypotheses import (
    HypothesisSource,
    NoisyReference,
    PriorHypothesis,
    build_hypothesis_source,
)

__all__ = [
    "DeltaObjective",
    "HypothesisSource",
    "NoisyReference",
    "Objective",
    "ObjectiveInputs",
    "ObjectiveOutput",
    "PriorHypothesis",
    "WeightedSum",
    "build_hypothesis_source",
    "build_objective",
    "known_objectives",
    "masked_mean",
    "register_objective",
]
