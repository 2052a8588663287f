"""Statistics of a listening test: scores with confidence intervals, screening, significance.

* MOS and MUSHRA: per system the mean and a 95 % Student-t interval (mean ± t·s/√n over all
  ratings of the system). Pairs of systems: Wilcoxon signed-rank test on ratings paired by
  (listener, utterance) — each listener heard both systems say the same sentence — or the
  Mann-Whitney U test when no such pairs exist. Holm's step-down correction over all pairs.
* MUSHRA post-screening (ITU-R BS.1534-3): a listener who rates the hidden reference below 90
  in more than 15 % of the items they rated is excluded before anything is computed.
* A/B: per pair the preference counts, the share preferring the first system among non-ties
  (Clopper-Pearson 95 % interval) and a two-sided exact binomial (sign) test of "no
  preference" excluding ties; Holm correction over pairs.

The t interval treats ratings as independent, which overstates precision when a few listeners
contribute many ratings each; report the number of listeners next to it.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tts_ebm.evaluate.stats import mean_ci
from tts_ebm.listening.design import DATABASE, REFERENCE, Manifest
from tts_ebm.listening.storage import ListenerRecord, RatingStore

SCREEN_THRESHOLD = 90.0
SCREEN_MAX_FRACTION = 0.15


@dataclass(frozen=True)
class Rating:
    """A stored rating with the manifest's answer to "which system, which sentence"."""

    listener: str
    trial: str
    stimulus: str
    system: str
    utterance: str
    position: int
    score: float
    submitted_at: str


@dataclass(frozen=True)
class SystemScore:
    system: str
    n: int
    n_listeners: int
    mean: float
    std: float
    ci_half: float

    @property
    def ci_low(self) -> float:
        return self.mean - self.ci_half

    @property
    def ci_high(self) -> float:
        return self.mean + self.ci_half


@dataclass(frozen=True)
class PairTest:
    system_a: str
    system_b: str
    test: str
    n: int
    statistic: float
    p: float
    p_holm: float = math.nan
    mean_difference: float = math.nan  # mean of a − b over the pairs (or of the groups)


@dataclass(frozen=True)
class Preference:
    system_a: str
    system_b: str
    prefer_a: int
    prefer_b: int
    ties: int
    share_a: float  # among non-ties
    ci_low: float
    ci_high: float
    p: float
    p_holm: float = math.nan


@dataclass(frozen=True)
class Screening:
    """MUSHRA post-screening of one listener."""

    listener: str
    items: int
    reference_below: int
    excluded: bool

    @property
    def fraction(self) -> float:
        return self.reference_below / self.items if self.items else math.nan


@dataclass
class Results:
    manifest: Manifest
    ratings: list[Rating]  # everything stored
    used: list[Rating]  # after post-screening
    listeners: list[ListenerRecord]
    screening: list[Screening] = field(default_factory=list)
    scores: list[SystemScore] = field(default_factory=list)
    pairs: list[PairTest] = field(default_factory=list)
    preferences: list[Preference] = field(default_factory=list)
    alpha: float = 0.05
    post_screening: bool = True

    @property
    def kind(self) -> str:
        return self.manifest.kind

    @property
    def excluded(self) -> list[str]:
        return [s.listener for s in self.screening if s.excluded]


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control, any dependence)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [math.nan] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted


def compare(
    a: dict[tuple[str, str], float], b: dict[tuple[str, str], float], name_a: str, name_b: str
) -> PairTest:
    """Wilcoxon signed-rank on ratings paired by key, Mann-Whitney U when nothing pairs up."""
    from scipy import stats

    keys = sorted(set(a) & set(b))
    if keys:
        diffs = np.array([a[k] - b[k] for k in keys])
        nonzero = diffs[diffs != 0]  # Wilcoxon's zero method, done here: same in every scipy
        if nonzero.size == 0:
            return PairTest(name_a, name_b, "wilcoxon", len(keys), 0.0, 1.0, mean_difference=0.0)
        result = stats.wilcoxon(nonzero)
        return PairTest(
            name_a,
            name_b,
            "wilcoxon",
            len(keys),
            float(result.statistic),
            float(result.pvalue),
            mean_difference=float(diffs.mean()),
        )
    xa, xb = list(a.values()), list(b.values())
    if not xa or not xb:
        return PairTest(name_a, name_b, "none", 0, math.nan, math.nan)
    result = stats.mannwhitneyu(xa, xb, alternative="two-sided")
    return PairTest(
        name_a,
        name_b,
        "mann-whitney",
        len(xa) + len(xb),
        float(result.statistic),
        float(result.pvalue),
        mean_difference=float(np.mean(xa) - np.mean(xb)),
    )


def screen_mushra(
    ratings: Sequence[Rating],
    threshold: float = SCREEN_THRESHOLD,
    max_fraction: float = SCREEN_MAX_FRACTION,
) -> list[Screening]:
    """BS.1534-3 post-screening on the hidden reference's scores, per listener."""
    items: dict[str, int] = defaultdict(int)
    below: dict[str, int] = defaultdict(int)
    for r in ratings:
        if r.system == REFERENCE:
            items[r.listener] += 1
            below[r.listener] += r.score < threshold
    return [
        Screening(who, items[who], below[who], below[who] / items[who] > max_fraction)
        for who in sorted(items)
    ]


def nan_if_none(value: float | None) -> float:
    """The listening report's floats are NaN where a statistic is undefined."""
    return math.nan if value is None else value


def system_scores(ratings: Sequence[Rating], systems: Sequence[str]) -> list[SystemScore]:
    scores = []
    for system in systems:
        mine = [r for r in ratings if r.system == system]
        stats = mean_ci(r.score for r in mine)
        mean, std, half = (nan_if_none(v) for v in (stats.mean, stats.std, stats.ci95))
        listeners = len({r.listener for r in mine})
        scores.append(SystemScore(system, len(mine), listeners, mean, std, half))
    return scores


def pairwise(ratings: Sequence[Rating], systems: Sequence[str]) -> list[PairTest]:
    by_system: dict[str, dict[tuple[str, str], list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in ratings:
        by_system[r.system][r.listener, r.utterance].append(r.score)
    means = {s: {k: float(np.mean(v)) for k, v in by_system[s].items()} for s in systems}
    tests = [compare(means[a], means[b], a, b) for a, b in itertools.combinations(systems, 2)]
    return _with_holm(tests)


def preferences(ratings: Sequence[Rating], systems: Sequence[str]) -> list[Preference]:
    """Counts per pair of systems from A/B rows (1 preferred, 0 not, 0.5 both: a tie)."""
    from scipy import stats

    order = {s: i for i, s in enumerate(systems)}
    trials: dict[tuple[str, str], list[Rating]] = defaultdict(list)
    for r in ratings:
        trials[r.listener, r.trial].append(r)
    counts: dict[tuple[str, str], list[int]] = {
        pair: [0, 0, 0] for pair in itertools.combinations(systems, 2)
    }
    for rows in trials.values():
        if len(rows) != 2:
            continue
        first, second = sorted(rows, key=lambda r: order[r.system])
        tally = counts[first.system, second.system]
        if first.score == second.score:
            tally[2] += 1
        elif first.score > second.score:
            tally[0] += 1
        else:
            tally[1] += 1
    result = []
    for (a, b), (wins_a, wins_b, ties) in counts.items():
        n = wins_a + wins_b
        if n:
            test = stats.binomtest(wins_a, n, 0.5, alternative="two-sided")
            ci = test.proportion_ci(confidence_level=0.95, method="exact")
            share, low, high, p = wins_a / n, float(ci.low), float(ci.high), float(test.pvalue)
        else:
            share = low = high = math.nan
            p = 1.0
        result.append(Preference(a, b, wins_a, wins_b, ties, share, low, high, p))
    adjusted = holm([x.p for x in result])
    return [
        Preference(**{**x.__dict__, "p_holm": q}) for x, q in zip(result, adjusted, strict=True)
    ]


def _with_holm(tests: list[PairTest]) -> list[PairTest]:
    valid = [i for i, t in enumerate(tests) if not math.isnan(t.p)]
    adjusted = holm([tests[i].p for i in valid])
    out = list(tests)
    for i, q in zip(valid, adjusted, strict=True):
        out[i] = PairTest(**{**tests[i].__dict__, "p_holm": q})
    return out


def join(manifest: Manifest, stored: Sequence) -> list[Rating]:
    """Attach system and utterance to stored rows; rows of unknown stimuli are an error."""
    ratings = []
    for row in stored:
        stimulus = manifest.stimuli.get(row.stimulus)
        if stimulus is None:
            raise ValueError(f"{DATABASE} has a rating of unknown stimulus {row.stimulus}")
        ratings.append(
            Rating(
                row.listener,
                row.trial,
                row.stimulus,
                stimulus.system,
                stimulus.utterance,
                row.position,
                row.score,
                row.submitted_at,
            )
        )
    return ratings


def analyse_ratings(
    manifest: Manifest,
    ratings: list[Rating],
    listeners: list[ListenerRecord] | None = None,
    *,
    post_screening: bool = True,
    alpha: float = 0.05,
) -> Results:
    """All statistics of one test from its ratings (see the module docstring)."""
    results = Results(
        manifest,
        ratings,
        list(ratings),
        listeners or [],
        alpha=alpha,
        post_screening=post_screening,
    )
    systems = list(manifest.systems)
    if manifest.kind == "ab":
        results.preferences = preferences(ratings, systems)
        return results
    if manifest.kind == "mushra":
        results.screening = screen_mushra(ratings)
        if post_screening:
            excluded = set(results.excluded)
            results.used = [r for r in ratings if r.listener not in excluded]
            if ratings and not results.used:
                raise ValueError(
                    f"post-screening excluded all {len(excluded)} listeners (hidden reference "
                    f"below {SCREEN_THRESHOLD:.0f} in more than {SCREEN_MAX_FRACTION:.0%} of "
                    "items); --no-post-screening shows the unscreened results"
                )
    results.scores = system_scores(results.used, systems)
    results.pairs = pairwise(results.used, systems)
    return results


def analyse(test_dir: Path, *, post_screening: bool = True, alpha: float = 0.05) -> Results:
    """Load ``test.json`` and ``ratings.sqlite`` of a test folder and analyse them."""
    test_dir = Path(test_dir)
    manifest = Manifest.load(test_dir)
    database = test_dir / DATABASE
    if not database.is_file():
        raise ValueError(f"no ratings yet: {database} does not exist (run `listen serve` first)")
    store = RatingStore(database, manifest.test_id)
    try:
        stored, listeners = store.ratings(), store.listeners()
    finally:
        store.close()
    if not stored:
        raise ValueError(f"no ratings yet in {database}")
    return analyse_ratings(
        manifest, join(manifest, stored), listeners, post_screening=post_screening, alpha=alpha
    )
