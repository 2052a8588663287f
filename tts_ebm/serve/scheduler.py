"""One scheduler for every request a server takes: fair turns, micro-batches, a bounded queue.

A single worker thread owns the models. Each round it (1) runs the acoustic model once per
(voice, knobs) group on the next sentence of every request that has no mel waiting — the
sentences of concurrent requests share one batch — and (2) gives every request one turn at the
vocoder, one vocoder chunk each (a text's first sentence yields its first ~0.7 s on its own),
least-served request first; a new request ends the round early. So a one-sentence request
arriving behind a 200-sentence one waits for at most the vocoder chunk under way, then is served
next: its first audio comes within about two sentence-times, whatever is queued.

Bounds: at most ``max_queue`` requests are admitted (the rest get :class:`QueueFull`, an HTTP
503); each holds its analysed sentences (text is capped by the server), one mel ahead and at
most ``max_unread`` chunks its client has not read yet — a request whose client stops reading
simply gets no turns (it holds up nobody), and one stalled for ``stall_seconds`` is dropped, as
is a cancelled one (a disconnected client) with all its remaining sentences.

Synthesis itself is :class:`~tts_ebm.synthesis.Synthesizer`'s: its acoustic batch and its
streamed vocoder calls per sentence, so audio served equals ``Synthesizer.stream``'s (noise is
seeded per sentence, so batching with other requests does not change it).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import numpy as np

from tts_ebm.synthesis import PAUSE_SECONDS, Sentence, SentenceMels, SynthesisOptions, Synthesizer

log = logging.getLogger(__name__)
_END = object()


class QueueFull(RuntimeError):
    """Every slot of the queue is taken: try again later (HTTP 503 with Retry-After)."""


@dataclass(eq=False)
class Job:
    """One request: its sentences (more may arrive while it runs: Wyoming's streaming events),
    what it has made so far, and the queue its audio leaves through to the event loop."""

    synth: Synthesizer
    options: SynthesisOptions
    loop: asyncio.AbstractEventLoop
    sentences: list[Sentence] = field(default_factory=list)
    closed: bool = False  # no more sentences will come
    cancelled: bool = False
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    unread: int = 0  # chunks handed to the event loop and not yet taken by the client
    next_sentence: int = 0  # the next sentence that needs a mel
    mels: deque[SentenceMels] = field(default_factory=deque)
    vocoding: Iterator[np.ndarray] | None = None
    current: SentenceMels | None = None
    served_samples: int = 0
    paused_since: float | None = None
    finished: bool = False

    def pending(self) -> bool:
        """Work it could do now, given the sentences it has."""
        return bool(self.vocoding or self.mels or self.next_sentence < len(self.sentences))

    def done(self) -> bool:
        return self.closed and not self.pending()


class Scheduler:
    """The worker thread and its admission queue; :meth:`submit` from the event loop."""

    def __init__(
        self,
        max_queue: int = 16,
        max_batch: int = 16,
        max_unread: int = 8,
        stall_seconds: float = 60.0,
        one_at_a_time: bool = False,
    ) -> None:
        self.max_queue, self.max_batch = max_queue, max_batch
        self.one_at_a_time = one_at_a_time  # the baseline `tts-ebm benchmark serve` compares
        self.max_unread, self.stall_seconds = max_unread, stall_seconds
        self._jobs: list[Job] = []
        self._admitted = 0
        self._arrivals = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="tts-scheduler", daemon=True)
        self._thread.start()

    # Event-loop side -------------------------------------------------------------------------

    def reserve(self) -> None:
        """Take a queue slot before any work on a request (QueueFull when none is free)."""
        with self._cond:
            if self._admitted >= self.max_queue:
                raise QueueFull(f"the server is busy ({self.max_queue} requests queued)")
            self._admitted += 1

    def release(self) -> None:
        """Give back a slot reserved for a request that was refused before it started."""
        with self._cond:
            self._admitted -= 1
            self._cond.notify()

    def start(
        self, synth: Synthesizer, options: SynthesisOptions, sentences: list[Sentence] | None
    ) -> Job:
        """A job in a reserved slot; ``sentences=None`` leaves it open for :meth:`add`."""
        job = Job(synth, options, asyncio.get_running_loop())
        if sentences is not None:
            job.sentences, job.closed = list(sentences), True
        with self._cond:
            self._jobs.append(job)
            self._arrivals += 1
            self._cond.notify()
        return job

    def add(self, job: Job, sentences: list[Sentence], last: bool = False) -> None:
        """More sentences for an open job (their indices continue its own); ``last`` closes it."""
        with self._cond:
            base = len(job.sentences)
            for offset, sentence in enumerate(sentences):
                sentence.index = base + offset
            job.sentences.extend(sentences)
            job.closed = job.closed or last
            self._cond.notify()

    def cancel(self, job: Job) -> None:
        """Drop what is left of a job (its client went away)."""
        with self._cond:
            job.cancelled = True
            self._cond.notify()

    async def chunks(self, job: Job) -> AsyncIterator[np.ndarray]:
        """The job's float32 audio chunks as they are made; cancels it if the caller stops."""
        try:
            while True:
                item = await job.queue.get()
                with self._cond:
                    job.unread -= 1
                    self._cond.notify()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if not job.finished:
                self.cancel(job)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=10)

    @property
    def queued(self) -> int:
        return self._admitted

    # Worker side ----------------------------------------------------------------------------

    def _deliver(self, job: Job, item: object) -> None:
        with self._cond:
            job.unread += 1
        job.loop.call_soon_threadsafe(job.queue.put_nowait, item)

    def _finish(self, job: Job, item: object = _END) -> None:
        """Hand the job's last item over and free its slot (worker thread, under no lock)."""
        job.finished = True
        if job.cancelled and item is _END:
            item = TimeoutError("dropped: the client stopped reading or went away")
        self._deliver(job, item)  # a reader that comes back is told, not left waiting
        with self._cond:
            self._jobs.remove(job)
            self._admitted -= 1
        job.vocoding = None  # closes the generator
        job.mels.clear()

    def _runnable(self) -> list[Job]:
        """Jobs with work to do and a client keeping up; waits when there are none. Called
        with the lock held."""
        while not self._stopping:
            now = time.monotonic()
            ready = []
            for position, job in enumerate(self._jobs):
                if job.cancelled or job.done():
                    ready.append(job)  # to be finished
                elif self.one_at_a_time and position > 0:
                    continue
                elif job.unread >= self.max_unread:
                    job.paused_since = job.paused_since or now
                    if now - job.paused_since > self.stall_seconds:
                        job.cancelled = True
                        ready.append(job)
                elif job.pending():
                    job.paused_since = None
                    ready.append(job)
            if ready:
                return ready
            self._cond.wait(timeout=1.0)
        return []

    def _run(self) -> None:
        while True:
            with self._cond:
                jobs = self._runnable()
            if not jobs:
                return
            for job in jobs:
                if job.cancelled or job.done():
                    self._finish(job)
            jobs = [j for j in jobs if not j.finished]
            self._acoustic_round([j for j in jobs if not j.mels and not j.vocoding])
            arrivals = self._arrivals
            for job in sorted(jobs, key=lambda j: j.served_samples):
                if self._arrivals != arrivals:
                    break  # a new request: its first sentence goes next, not after this round
                if not job.finished and not job.cancelled:
                    self._vocoder_turn(job)

    def _acoustic_round(self, jobs: list[Job]) -> None:
        """The next sentence of every job that needs a mel, batched per (voice, knobs)."""
        wanting = [j for j in jobs if j.next_sentence < len(j.sentences)]
        groups: dict[tuple[int, SynthesisOptions], list[Job]] = {}
        for job in wanting:
            groups.setdefault((id(job.synth), job.options), []).append(job)
        for (_, options), members in groups.items():
            for start in range(0, len(members), self.max_batch):
                self._acoustic_batch(members[start : start + self.max_batch], options)

    def _acoustic_batch(self, jobs: list[Job], options: SynthesisOptions) -> None:
        synth = jobs[0].synth
        try:
            results = synth.acoustic([j.sentences[j.next_sentence] for j in jobs], options)
        except ValueError as exc:
            if len(jobs) > 1:  # find the one that failed; the others go on
                for job in jobs:
                    self._acoustic_batch([job], options)
                return
            self._finish(jobs[0], exc)
            return
        for job, (mels, _) in zip(jobs, results, strict=True):
            job.mels.append(mels)
            job.next_sentence += 1

    def _vocoder_turn(self, job: Job) -> None:
        """One vocoder chunk of the job's current sentence, and its pause after the last."""
        if job.vocoding is None:
            if not job.mels:
                return
            job.current = job.mels.popleft()
            first = job.current.sentence.index == 0
            job.vocoding = job.synth.vocode(job.current, first_in_text=first)
        try:
            wave = next(job.vocoding, None)
        except ValueError as exc:
            self._finish(job, exc)
            return
        except Exception as exc:  # noqa: BLE001 (a bug must not kill the worker: log, answer)
            log.exception("synthesis failed")
            self._finish(job, RuntimeError(f"synthesis failed: {exc}"))
            return
        if wave is None:
            job.vocoding = None
            wave = self._pause(job)
            if wave is None:
                return
        job.served_samples += len(wave)
        self._deliver(job, wave)

    def _pause(self, job: Job) -> np.ndarray | None:
        """Silence after the sentence just finished: its own pause, none after a closed job's
        last sentence, the usual one between streamed pieces."""
        sentence = job.current.sentence
        last = job.closed and sentence.index == len(job.sentences) - 1
        seconds = 0.0 if last else max(sentence.pause_seconds, PAUSE_SECONDS)
        hop = job.synth.hop_length
        frames = round(seconds * job.synth.sample_rate / hop)
        return np.zeros(frames * hop, np.float32) if frames else None
