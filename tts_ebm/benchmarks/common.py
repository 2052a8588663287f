"""Shared machinery of the benchmarks: devices, timing, peak memory, tables and JSON.

GPU work is asynchronous, so every clock reading is preceded by ``torch.cuda.synchronize()``;
without it a timing measures kernel launches, not kernels. On the CPU synchronising is a no-op.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from tts_ebm.memory import trim_heap

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")
K = TypeVar("K", bound=Hashable)


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without one is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    return device


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` intra-op CPU threads (None: leave torch's choice), restored afterwards.

    On a shared CPU, threads that wait for each other at every operator lose whenever one of
    them is descheduled: under load one thread can be several times faster than two.
    """
    if n is None:
        yield
        return
    if n < 1:
        raise ValueError(f"--threads must be >= 1, got {n}")
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def find_row(rows: list[dict], **keys: object) -> dict | None:
    """The first result row whose fields equal ``keys``, or None."""
    return next((r for r in rows if all(r.get(k) == v for k, v in keys.items())), None)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@dataclass
class Timing:
    """Seconds of repeated calls: wall clock, and CPU time of this process (all threads).

    On a loaded machine the wall clock includes time spent waiting for a core; with one thread
    the CPU time is close to what the wall clock would read on an idle machine.
    """

    wall: list[float]
    cpu: list[float]


def _timed(fn: Callable[[], object], device: torch.device, timing: Timing) -> None:
    """One call of ``fn``, its wall and CPU seconds appended to ``timing``."""
    synchronize(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    fn()
    synchronize(device)
    timing.wall.append(time.perf_counter() - start)
    timing.cpu.append(time.process_time() - cpu_start)


def time_call(
    fn: Callable[[], object],
    device: torch.device,
    repeats: int,
    warmup: int,
) -> Timing:
    """``repeats`` timed calls after ``warmup`` untimed ones.

    Warm-up calls absorb one-off costs (allocator growth, cuDNN/oneDNN algorithm selection,
    lazy initialisation) that a long-running synthesis server never pays again.
    """
    for _ in range(warmup):
        fn()
    timing = Timing(wall=[], cpu=[])
    for _ in range(repeats):
        _timed(fn, device, timing)
    return timing


def time_interleaved(
    contenders: Mapping[K, Callable[[], object]],
    device: torch.device,
    repeats: int,
    warmup: int,
) -> dict[K, Timing]:
    """Contenders timed side by side: ``warmup`` untimed rounds, then ``repeats`` rounds that call
    each one once.

    On a shared machine the load drifts over minutes; timed one after another, contenders would
    be measured under different loads. In rounds every contender sees the same drift, and each
    round starts one contender later, so none always runs first (or right after the same one).
    """
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            contenders[name]()
    timings = {name: Timing(wall=[], cpu=[]) for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            _timed(contenders[name], device, timings[name])
    return timings


def summarize(timing: Timing) -> dict:
    """Medians of a timing, and every wall-clock reading."""
    return {
        "seconds": median(timing.wall),
        "cpu_seconds": median(timing.cpu),
        "seconds_all": timing.wall,
    }


class Sections:
    """Accumulates wall-clock time per named section of a computation.

    Sections are opened by :meth:`measure`, by forward hooks on a module (:meth:`hooked`) or by
    temporarily wrapping a function that library code looks up by name (:meth:`patched`), so a
    step can be broken down without copying the code that runs it.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        synchronize(self.device)
        start = time.perf_counter()
        try:
            yield
        finally:
            synchronize(self.device)
            self.totals[name] += time.perf_counter() - start
            self.calls[name] += 1

    def wrap(self, fn: Callable, name: str) -> Callable:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.measure(name):
                return fn(*args, **kwargs)

        return timed

    @contextmanager
    def patched(self, namespace: object, attribute: str, name: str) -> Iterator[None]:
        """Time every call of ``namespace.attribute`` (which must exist) under ``name``."""
        original = getattr(namespace, attribute)
        setattr(namespace, attribute, self.wrap(original, name))
        try:
            yield
        finally:
            setattr(namespace, attribute, original)

    @contextmanager
    def hooked(self, module: nn.Module, name: str) -> Iterator[None]:
        """Time every forward call of ``module`` under ``name``."""
        starts: list[float] = []

        def before(*_: Any) -> None:
            synchronize(self.device)
            starts.append(time.perf_counter())

        def after(*_: Any) -> None:
            synchronize(self.device)
            self.totals[name] += time.perf_counter() - starts.pop()
            self.calls[name] += 1

        handles = [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def take(self) -> dict[str, float]:
        """The totals so far, then start afresh (one call per measured step)."""
        totals = dict(self.totals)
        self.totals.clear()
        return totals


def _status_kib(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def _can_reset_peak_rss() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
        _status_kib("VmHWM")
    except (OSError, KeyError):
        return False
    return True


class PeakMemory:
    """Peak memory of a section of work, measured the best way the platform allows.

    * CUDA: ``torch.cuda.max_memory_allocated`` since the last reset — absolute, so it includes
      the weights and optimiser state resident on the device.
    * Linux CPU: the growth of the peak resident set size over the section. Writing "5" to
      ``/proc/self/clear_refs`` resets the kernel's high-water mark (VmHWM) to the current RSS,
      so each section gets its own peak. tracemalloc cannot see torch's allocations, and
      psutil reports only the current RSS, which would have to be polled from a thread.
    * Elsewhere: ``ru_maxrss``, the peak RSS of the whole process so far (not per section).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._base_kib = 0
        if device.type == "cuda":
            self.method = "torch.cuda.max_memory_allocated (absolute, includes weights)"
        elif _can_reset_peak_rss():
            self.method = "peak RSS growth over the section (VmHWM reset per section)"
        else:
            self.method = "resource ru_maxrss (process-lifetime peak RSS, not per section)"

    def reset(self) -> None:
        synchronize(self.device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        elif self.method.startswith("peak RSS growth"):
            # Hand memory freed by earlier work back to the OS first: otherwise the section
            # reuses it without raising the resident set and its peak reads as zero.
            trim_heap()
            _CLEAR_REFS.write_text("5")
            self._base_kib = _status_kib("VmRSS")

    def peak_bytes(self) -> int:
        synchronize(self.device)
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        if self.method.startswith("peak RSS growth"):
            return max(0, _status_kib("VmHWM") - self._base_kib) * 1024
        return rusage_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def rusage_bytes(maxrss: int) -> int:
    """``ru_maxrss`` in bytes: Linux counts KiB, macOS bytes."""
    return int(maxrss if sys.platform == "darwin" else maxrss * 1024)


def _processor_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    """1/5/15-minute load averages: numbers from a shared machine mean little without them."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def environment(device: torch.device) -> dict:
    """What the numbers were measured on."""
    return {
        "device": str(device),
        "processor": _processor_name(device),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_start": load_average(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def format_bytes(n: int | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "KiB", "MiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"


def print_table(
    console: Console, title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    """A rich table with right-aligned columns after the first; long cells wrap, not cut."""
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right", overflow="fold")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    console.print(table)


def verdict(passed: bool) -> str:
    return "[green]PASS[/green]" if passed else "[red]FAIL[/red]"


def write_json(path: str | Path, data: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def synthetic_inputs(batch: int, frames: int, n_mels: int = 80, seed: int = 0):
    """μ piecewise constant (phoneme-level, as the encoder's), Y⁺ varying within phonemes, lengths
    from half the window to all of it: the shapes a criterion trains on."""
    from tts_ebm.objectives import ObjectiveInputs

    generator = torch.Generator().manual_seed(seed)
    lengths = torch.linspace(frames // 2, frames, batch).long()
    mask = (torch.arange(frames)[None, :] < lengths[:, None]).float().unsqueeze(1)
    mu = torch.randn(batch, n_mels, -(-frames // 4), generator=generator).repeat_interleave(4, -1)
    mu = mu[..., :frames] * mask
    y_ref = (mu + 0.5 * torch.randn(mu.shape, generator=generator)) * mask
    ids = [f"utt{i}" for i in range(batch)]
    return ObjectiveInputs(y_ref=y_ref, mu=mu, mask=mask, utterance_ids=ids)
