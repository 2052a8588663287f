"""What an evaluation computes: the metric families and the analysis settings.

Kept apart from the runner (and free of torch) so the command line can check its arguments
before loading any model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tts_ebm.evaluate.pairs import EvaluationError
from tts_ebm.evaluate.world import WorldConfig

METRIC_FAMILIES = ("mcd", "f0", "asr", "mos")


def parse_metrics(text: str) -> tuple[str, ...]:
    """``"mcd,asr"`` → ("mcd", "asr"), in canonical order; unknown names are an error."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(METRIC_FAMILIES))
    if unknown or not names:
        raise EvaluationError(
            f"unknown metric families {unknown or text!r}; choose from {','.join(METRIC_FAMILIES)}"
        )
    return tuple(m for m in METRIC_FAMILIES if m in names)


@dataclass(frozen=True)
class EvalOptions:
    """What to compute and how; see :mod:`tts_ebm.evaluate.world` for the analysis settings."""

    metrics: tuple[str, ...] = METRIC_FAMILIES
    world: WorldConfig = field(default_factory=WorldConfig)
    whisper: str | None = None
    device: str = "cpu"

    @property
    def sample_rate(self) -> int:
        return self.world.sample_rate

    def to_dict(self) -> dict:
        return {
            "metrics": list(self.metrics),
            "sample_rate": self.sample_rate,
            "mcep_order": self.world.order,
            "mcep_alpha": self.world.resolved_alpha()
            if {"mcd", "f0"} & set(self.metrics)
            else None,
            "f0_method": self.world.f0_method,
            "frame_period_ms": self.world.frame_period_ms,
            "whisper": self.whisper,
        }
