"""EBM training criteria behind one interface (``Objective``), built from config dicts.

Importing this package registers every criterion with :func:`build_objective`: ``delta``,
``ssm`` (plain and variance-reduced), ``nce``, ``sance`` (self-adapting NCE), ``cd`` (improved
contrastive divergence), ``sum`` (weighted sums of the others) and ``flow`` (conditional flow
matching of a flow decoder, the baseline the energies are compared with). ``docs/criteria.md``
compares them.
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
from tts_ebm.objectives.cd import ImprovedContrastiveDivergence
from tts_ebm.objectives.delta import DeltaObjective
from tts_ebm.objectives.flow import FlowMatching
from tts_ebm.objectives.hypotheses import (
    FileHypothesis,
    HypothesisSource,
    LangevinHypothesis,
    NoisyReference,
    PriorHypothesis,
    build_hypothesis_source,
)
from tts_ebm.objectives.nce import NoiseContrastiveEstimation
from tts_ebm.objectives.sance import SelfAdaptingNCE
from tts_ebm.objectives.ssm import SlicedScoreMatching

__all__ = [
    "DeltaObjective",
    "FileHypothesis",
    "FlowMatching",
    "HypothesisSource",
    "ImprovedContrastiveDivergence",
    "LangevinHypothesis",
    "NoiseContrastiveEstimation",
    "NoisyReference",
    "Objective",
    "ObjectiveInputs",
    "ObjectiveOutput",
    "PriorHypothesis",
    "SelfAdaptingNCE",
    "SlicedScoreMatching",
    "WeightedSum",
    "build_hypothesis_source",
    "build_objective",
    "known_objectives",
    "masked_mean",
    "register_objective",
]
