"""Text → waveform with a trained checkpoint: :class:`Synthesizer`, behind ``tts-ebm synthesize``.

Text is split into paragraphs (blank lines) and sentences (``split_sentences``, as the front end
splits); the acoustic model runs on consecutive groups of ``batch_size`` sentences, the vocoder
on one sentence at a time (in memory-bounded chunks that overlap by its receptive field), and
each text's sentences are joined with short pauses, longer after a paragraph. ``synthesize``
and ``stream`` make exactly the same calls, so streamed chunks join to the same audio.

Every sentence draws its noise from its own generator, seeded by (seed, the sentence's index in
its text), and the sampler draws that noise at the sentence's own length: the mels depend on the
text, the knobs and the seed, not on the batch size or the other texts of a batch (up to float
round-off). Each sentence reaches the vocoder followed by VOCODER_MARGIN frames of silence, more
than HiFi-GAN V1's receptive field (14 frames), so it ends as it would before a pause. In the
cpu-bf16 vocoder runtime, float round-off of the mel can flip bf16 roundings: the same sentence
synthesised in another batch differs by up to ~2e-3 in amplitude (~50 dB SNR); in float32, ~1e-5.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

from tts_ebm.checkpoint import InferenceCheckpoint, default_voice, load_checkpoint, voice_path
from tts_ebm.hub import hf_download, is_hf_spec
from tts_ebm.memory import trim_heap
from tts_ebm.sampling import RefineConfig, check_knob, refine_details
from tts_ebm.text import EmptyTextError, TextFrontend, normalize_text, split_sentences
from tts_ebm.vocoder import Vocoder, load_vocoder

PAUSE_SECONDS = 0.25  # between sentences
PARAGRAPH_PAUSE_SECONDS = 0.6  # after a paragraph (a blank line in the text)
LOG_SILENCE = math.log(1e-5)  # the log-mel floor: what the vocoder takes as silence
VOCODER_MARGIN = 16  # frames of silence after a sentence's mel (see the module docstring)
STREAM_FIRST_FRAMES = 64  # the first chunk of a text's audio: ~0.74 s
_PARAGRAPH_RE = re.compile(r"\n\s*\n")
_VOICE_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
_BROKEN = "the checkpoint's network is broken"
_DIVERGED = "the refinement diverged; try fewer steps or a smaller step size"


@dataclass(frozen=True)
class SynthesisOptions:
    """Inference knobs (DESIGN.md §2); a checkpoint's ``inference`` dict gives the defaults.

    ``steps`` K, ``step_size`` η (or one η_k per step), ``temperature`` τ multiplies the initial
    noise (0 = start at μ), ``langevin`` λ scales the per-step noise √(2ηλ)·ε (0 = gradient
    descent), ``speaking_rate`` scales durations (>1 slower); ``schedule``, ``step_size_min``
    and ``stop_threshold`` as in :mod:`tts_ebm.sampling`; ``solver`` a flow decoder's ODE solver
    (euler, midpoint, heun); ``batch_size`` sentences per batch.
    Ranges: :data:`tts_ebm.sampling.KNOBS`.
    """

    steps: int = 1
    step_size: float | Sequence[float] = 1.0
    temperature: float = 0.0
    langevin: float = 0.0
    speaking_rate: float = 1.0
    schedule: str = "constant"
    step_size_min: float = 0.0
    stop_threshold: float = 0.0
    solver: str = "euler"
    seed: int = 0
    batch_size: int = 16

    def __post_init__(self) -> None:
        for name in ("speaking_rate", "seed", "batch_size"):
            check_knob(name, getattr(self, name))
        self.refine_config()  # validates the sampler knobs

    @classmethod
    def from_checkpoint(cls, inference: Mapping[str, object]) -> SynthesisOptions:
        """A checkpoint's stored knobs (unknown keys ignored); a bad one refuses the checkpoint."""
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in inference.items() if k in known})
        except ValueError as exc:
            raise ValueError(f"checkpoint's inference defaults: {exc}") from None

    def refine_config(self) -> RefineConfig:
        return RefineConfig(
            steps=self.steps,
            step_size=self.step_size,
            temperature=self.temperature,
            langevin=self.langevin,
            schedule=self.schedule,
            step_size_min=self.step_size_min,
            stop_threshold=self.stop_threshold,
            solver=self.solver,
        )


@dataclass
class Sentence:
    """One sentence as the acoustic model reads it, and the pause that follows it."""

    text: str  # normalised
    phonemes: str
    ids: list[int]
    pause_seconds: float  # 0 after the last sentence of a text
    index: int = 0  # position in its text: seeds the sentence's noise


@dataclass
class SentenceMels:
    """Intermediate mels of one sentence, in the model's normalised space (n_mels, frames)."""

    sentence: Sentence
    prior: np.ndarray  # μ
    mel: np.ndarray  # refined
    steps_taken: int  # fewer than ``steps`` when early stopping stopped it


@dataclass
class Synthesis:
    """One text's audio and everything that led to it.

    ``prior_mel``/``mel`` are natural-log mels as the vocoder sees them (denormalised), of the
    whole text with pauses filled by the log-mel floor, so they align with ``waveform`` frame
    by frame. Times are wall-clock seconds; a batch's time is shared among its sentences in
    proportion to their frames.
    """

    waveform: np.ndarray  # float32, mono
    sample_rate: int
    sentences: list[SentenceMels]
    prior_mel: np.ndarray
    mel: np.ndarray
    acoustic_seconds: float = 0.0
    vocoder_seconds: float = 0.0

    @property
    def phonemes(self) -> str:
        return " ".join(s.sentence.phonemes for s in self.sentences)

    @property
    def seconds(self) -> float:
        return len(self.waveform) / self.sample_rate


@dataclass
class AudioChunk:
    """One piece of streamed audio: part of a sentence's waveform, or the pause after it."""

    waveform: np.ndarray  # float32, mono
    sentence_index: int
    mels: SentenceMels
    acoustic_seconds: float = 0.0  # the sentence's share of its batch, on its first chunk
    vocoder_seconds: float = 0.0


class Synthesizer:
    """Acoustic model + vocoder: ``synthesize(text) -> (waveform, sample_rate)``."""

    def __init__(self, checkpoint: InferenceCheckpoint, vocoder: Vocoder) -> None:
        # A mel convention mismatch would not crash; it would silently make bad audio.
        vocoder.check_mel_config(checkpoint.mel)
        self.checkpoint = checkpoint
        self.model = checkpoint.model.eval()
        self.device = next(self.model.parameters()).device
        self.vocoder = vocoder.to(self.device)
        self.frontend = TextFrontend.from_config(checkpoint.frontend)
        self.stats = checkpoint.stats
        self.hop_length = checkpoint.mel.hop_length
        self.sample_rate = checkpoint.mel.sample_rate
        self.defaults = SynthesisOptions.from_checkpoint(checkpoint.inference)

    @classmethod
    def from_pretrained(
        cls,
        path_or_hf: str | Path | None = None,
        device: str | torch.device | None = None,
        vocoder: str | Path | Vocoder = "universal",
        cache_dir: str | Path | None = None,
        vocoder_runtime: str = "auto",
    ) -> Synthesizer:
        """Load a checkpoint (a path, ``hf://OWNER/REPO[@REV]/FILE.safetensors`` through the
        Hugging Face cache, a packaged voice name such as ``"nce"``, or None for the shipped
        default voice) and a vocoder (a :func:`~tts_ebm.vocoder.load_vocoder` spec or a ready
        :class:`Vocoder`) with its ``vocoder_runtime`` (:mod:`tts_ebm.vocoder.runtime`).
        ``device`` defaults to CUDA when available."""
        device = _device(device)
        checkpoint = load_checkpoint(resolve_checkpoint(path_or_hf, cache_dir), str(device))
        if not isinstance(vocoder, Vocoder):
            vocoder = load_vocoder(vocoder, device, runtime=vocoder_runtime)
        return cls(checkpoint, vocoder)

    def options(self, **knobs: object) -> SynthesisOptions:
        """The checkpoint's defaults with ``knobs`` replacing them (None keeps a default)."""
        return replace(self.defaults, **{k: v for k, v in knobs.items() if v is not None})

    def sentences(self, text: str) -> list[Sentence]:
        """Split and phonemise; ValueError (EmptyTextError) when nothing can be said."""
        if not text.strip():
            raise EmptyTextError("text is empty")
        groups = [split_sentences(normalize_text(p)) for p in _PARAGRAPH_RE.split(text)]
        ends = [i == len(g) - 1 for g in groups for i in range(len(g))]
        analysed = self.frontend.process_many([s for g in groups for s in g], skip_empty=True)
        out: list[Sentence] = []
        for result, paragraph_end in zip(analysed, ends, strict=True):
            if result is not None:
                out.append(
                    Sentence(
                        result.normalized, result.phonemes, result.ids, PAUSE_SECONDS, len(out)
                    )
                )
            if paragraph_end and out:
                out[-1].pause_seconds = PARAGRAPH_PAUSE_SECONDS
        if not out:
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise EmptyTextError(f"text has nothing to pronounce after normalisation: {shown!r}")
        out[-1].pause_seconds = 0.0
        return out

    def synthesize(self, text: str, **knobs: object) -> tuple[np.ndarray, int]:
        """One text of any length → (float32 waveform, sample rate)."""
        result = self.synthesize_detailed(text, **knobs)
        return result.waveform, result.sample_rate

    def synthesize_batch(self, texts: list[str], **knobs: object) -> list[tuple[np.ndarray, int]]:
        """Many texts, batched together: the mels of one call per text, audio to vocoder padding."""
        return [(r.waveform, r.sample_rate) for r in self.run(texts, **knobs)]

    def synthesize_detailed(self, text: str, **knobs: object) -> Synthesis:
        """:meth:`synthesize` with the phonemes, the mels (μ and refined) and the timings."""
        return self.run([text], **knobs)[0]

    def run(self, texts: list[str | list[Sentence]], **knobs: object) -> list[Synthesis]:
        """Texts (or their :meth:`sentences`, analysed beforehand) → one Synthesis each."""
        options = self.options(**knobs)
        prepared = []
        for index, text in enumerate(texts):
            try:
                prepared.append(text if isinstance(text, list) else self.sentences(text))
            except EmptyTextError as exc:
                where = f"text {index}: " if len(texts) > 1 else ""
                raise type(exc)(f"{where}{exc}") from None
        keys = [(t, i) for t, group in enumerate(prepared) for i in range(len(group))]
        done: dict[tuple[int, int], tuple[SentenceMels, np.ndarray, float, float]] = {}
        for (t, i), mels, acoustic in self._acoustic_groups(
            [(key, prepared[key[0]][key[1]]) for key in keys], options
        ):
            start = time.perf_counter()
            wave = np.concatenate(list(self.vocode(mels, first_in_text=i == 0)))
            done[(t, i)] = (mels, wave, acoustic, time.perf_counter() - start)
        return [
            self._assemble([done[(t, i)] for i in range(len(group))])
            for t, group in enumerate(prepared)
        ]

    def stream(self, text: str, **knobs: object) -> Iterator[np.ndarray]:
        """Float32 waveform chunks of ``text`` at :attr:`sample_rate`, each as soon as it is
        ready: the first sentence's first ~0.7 s, then sentence by sentence (long ones in
        memory-bounded chunks), pauses as chunks of zeros. The chunks join to exactly what
        :meth:`synthesize` returns (the same batches, the same vocoder calls)."""
        for chunk in self.stream_detailed(text, **knobs):
            yield chunk.waveform

    def stream_detailed(self, text: str | list[Sentence], **knobs: object) -> Iterator[AudioChunk]:
        """:meth:`stream` with, for every chunk, its sentence and the seconds it took; ``text``
        may be its :meth:`sentences`, analysed beforehand."""
        options = self.options(**knobs)
        sentences = text if isinstance(text, list) else self.sentences(text)
        for index, mels, acoustic in self._acoustic_groups(list(enumerate(sentences)), options):
            start = time.perf_counter()
            for wave in self.vocode(mels, first_in_text=index == 0):
                seconds = time.perf_counter() - start
                yield AudioChunk(wave, index, mels, acoustic, seconds)
                acoustic, start = 0.0, time.perf_counter()
            pause = round(mels.sentence.pause_seconds * self.sample_rate / self.hop_length)
            if pause:
                yield AudioChunk(np.zeros(pause * self.hop_length, np.float32), index, mels)

    def _acoustic_groups(
        self, items: list[tuple[object, Sentence]], options: SynthesisOptions
    ) -> Iterator[tuple[object, SentenceMels, float]]:
        """(key, mels, acoustic seconds) of every (key, sentence), in order, the acoustic model
        running on consecutive groups of ``batch_size`` sentences: bounded memory for any
        length of text, and the same batches whether a text is streamed or synthesised."""
        for start in range(0, len(items), options.batch_size):
            group = items[start : start + options.batch_size]
            yield from zip(
                [key for key, _ in group],
                *zip(*self.acoustic([s for _, s in group], options), strict=True),
                strict=True,
            )

    @torch.no_grad()
    def acoustic(
        self, sentences: list[Sentence], options: SynthesisOptions
    ) -> list[tuple[SentenceMels, float]]:
        """Encoder, durations and refinement of one batch; the batch's time is shared among
        its sentences in proportion to their frames. Public for schedulers that batch the
        sentences of several texts (``tts_ebm.serve``)."""
        start = time.perf_counter()
        lengths = [len(s.ids) for s in sentences]
        tokens = torch.zeros(len(sentences), max(lengths), dtype=torch.long)
        for row, sentence in enumerate(sentences):
            tokens[row, : len(sentence.ids)] = torch.tensor(sentence.ids)
        prior = self.model.prior(
            tokens.to(self.device), torch.tensor(lengths, device=self.device), options.speaking_rate
        )
        generators = [
            torch.Generator(self.device).manual_seed(_sentence_seed(options.seed, s.index))
            for s in sentences
        ]
        refined = refine_details(
            self.model.energy,
            prior.mu,
            prior.frame_mask,
            options.refine_config(),
            generator=generators,
        )
        valid = prior.frame_mask.bool()
        _refuse_non_finite("μ", torch.where(valid, prior.mu, 0.0), sentences, _BROKEN)
        _refuse_non_finite(
            "the refined mel", torch.where(valid, refined.y, 0.0), sentences, _DIVERGED
        )
        frames = [int(n) for n in prior.frame_mask.sum(dim=(1, 2)).round().tolist()]
        mu, y, taken = prior.mu.cpu().numpy(), refined.y.cpu().numpy(), refined.steps_taken.tolist()
        seconds = time.perf_counter() - start
        return [
            (
                SentenceMels(sentence, mu[b, :, :n], y[b, :, :n], int(taken[b])),
                seconds * n / sum(frames),
            )
            for b, (sentence, n) in enumerate(zip(sentences, frames, strict=True))
        ]

    def vocode(self, mels: SentenceMels, first_in_text: bool) -> Iterator[np.ndarray]:
        """One sentence's audio in the vocoder's chunks. The mel is followed by VOCODER_MARGIN
        frames of silence, so the sentence ends as it would before a pause; a text's first
        sentence yields its first STREAM_FIRST_FRAMES frames on their own (streaming latency),
        in :meth:`run` too, so both make the same vocoder calls."""
        n_frames = mels.mel.shape[1]
        log_mel = np.full((mels.mel.shape[0], n_frames + VOCODER_MARGIN), LOG_SILENCE, np.float32)
        log_mel[:, :n_frames] = self.stats.denormalize(mels.mel)
        first = STREAM_FIRST_FRAMES if first_in_text else None
        for wave in self.vocoder.stream(torch.from_numpy(log_mel), n_frames, first):
            _refuse_non_finite("the audio", wave[None], [mels.sentence], _DIVERGED)
            yield wave.float().cpu().numpy()
        trim_heap()  # a new length per sentence: don't let freed pages pile up

    def _assemble(self, parts: list[tuple[SentenceMels, np.ndarray, float, float]]) -> Synthesis:
        """Join a text's sentences with their pauses, in audio and in the mels."""
        hop = self.hop_length
        waves, priors, mels = [], [], []
        for mels_of, wave, _, _ in parts:
            pause = round(mels_of.sentence.pause_seconds * self.sample_rate / hop)
            silence = np.full((mels_of.mel.shape[0], pause), LOG_SILENCE, np.float32)
            waves += [wave, np.zeros(pause * hop, np.float32)]
            priors += [self.stats.denormalize(mels_of.prior), silence]
            mels += [self.stats.denormalize(mels_of.mel), silence]
        return Synthesis(
            waveform=np.concatenate(waves).astype(np.float32),
            sample_rate=self.sample_rate,
            sentences=[p[0] for p in parts],
            prior_mel=np.concatenate(priors, axis=1).astype(np.float32),
            mel=np.concatenate(mels, axis=1).astype(np.float32),
            acoustic_seconds=sum(p[2] for p in parts),
            vocoder_seconds=sum(p[3] for p in parts),
        )

    def __repr__(self) -> str:
        return (
            f"Synthesizer(frontend={self.frontend!r}, vocoder={self.vocoder!r}, "
            f"defaults={self.defaults})"
        )


def _refuse_non_finite(
    what: str, values: torch.Tensor, sentences: list[Sentence], hint: str
) -> None:
    """A NaN or inf would reach the wav as noise or a constant full-scale signal: name the
    first sentence (row of ``values``) it appears in instead."""
    finite = values.isfinite().flatten(1).all(dim=1)
    if not bool(finite.all()):
        text = sentences[int((~finite).nonzero()[0])].text
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ValueError(f"{what} of sentence {shown!r} is not finite (NaN or inf): {hint}")


def _sentence_seed(seed: int, index: int) -> int:
    """Independent, well-mixed seeds for (seed, sentence index) pairs."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0] >> 1)


def _device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {str(device)!r}: {exc}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} asked for, but CUDA is not available here")
    return device


def resolve_checkpoint(spec: str | Path | None, cache_dir: str | Path | None = None) -> Path:
    """A local path for a checkpoint spec: a path, ``hf://...`` (through the Hugging Face
    cache, offline when cached), a packaged voice name such as ``nce`` (:func:`voice_path`; a
    file of that name in the working directory wins), or None for the default voice."""
    if spec is None:
        return default_voice()
    spec = str(spec)
    if is_hf_spec(spec):
        return hf_download(spec, cache_dir)
    path = Path(spec).expanduser()
    if _VOICE_NAME_RE.fullmatch(spec) and not path.exists():
        return voice_path(spec)
    return path
