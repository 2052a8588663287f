"""How many threads torch may use for synthesis.

Measured on a shared 2-core machine (benchmarks/README.md): torch's default of one thread per
logical CPU made a busy machine's `tts-ebm synthesize` 1.9× slower than one thread, and extra
threads on SMT siblings do not help convolutions. So the default is the physical cores this
process may run on, less those other processes keep busy (the 1-minute load average), and at
least one; ``--threads N`` or ``TTS_EBM_THREADS=N`` say otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

THREADS_ENV = "TTS_EBM_THREADS"
MAX_THREADS = 256


def physical_cores() -> int:
    """Cores this process may run on, counting hyper-threads of one core once."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = list(range(os.cpu_count() or 1))
    cores = set()
    for cpu in cpus:
        siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            cores.add(siblings.read_text().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


def default_threads() -> int:
    """Physical cores not kept busy by other processes, at least one."""
    cores = physical_cores()
    try:
        busy = int(os.getloadavg()[0])
    except OSError:
        busy = 0
    return max(1, min(cores, cores - busy))


def resolve_threads(requested: int | None = None) -> int:
    """``requested`` (``--threads``), else ``$TTS_EBM_THREADS``, else :func:`default_threads`;
    ValueError naming the source for a value outside [1, MAX_THREADS]."""
    source = "--threads"
    if requested is None and os.environ.get(THREADS_ENV, "").strip():
        source, text = THREADS_ENV, os.environ[THREADS_ENV].strip()
        try:
            requested = int(text)
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a whole number, got {text!r}") from None
    if requested is None:
        return default_threads()
    if not 1 <= requested <= MAX_THREADS:
        raise ValueError(f"{source} must be between 1 and {MAX_THREADS}, got {requested}")
    return requested


def configure_threads(requested: int | None = None) -> int:
    """Set torch's intra-op thread count (see :func:`resolve_threads`); returns it."""
    threads = resolve_threads(requested)
    import torch

    torch.set_num_threads(threads)
    return threads
