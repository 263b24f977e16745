"""Where and how computations run: the one device resolver and the thread limits.

``resolve_device`` is used by every stage that runs a model outside Lightning (prediction,
weighted features, faithfulness, in-silico experiments, variant effects); ``limit_threads``
makes a job's ``threads:`` reach torch, BLAS/OpenMP and numba (memelite), so
``snakemake --cores N`` bounds the run.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from promoter_cr.errors import ConfigError

#: environment variables read by OpenMP, BLAS libraries and numba at import time
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS")


def limit_threads(n: int | None, *, torch_pools: bool = False) -> None:
    """Bound every thread pool of this process to ``n`` threads (``None``: leave the defaults).

    Sets the environment variables (read by OpenMP, BLAS, numba and torch's intra-op pool when
    they are imported later) and already-loaded BLAS/OpenMP pools (threadpoolctl). torch's
    intra- and inter-op pools are set explicitly when ``torch_pools`` (commands that run a
    model) or when torch is already imported; other commands do not import torch at all
    (2-3 s of start-up per job), and torch still honours ``OMP_NUM_THREADS`` should they.
    """
    if not n:
        return
    n = max(1, int(n))
    for var in THREAD_ENV:
        os.environ[var] = str(n)
    if torch_pools or "torch" in sys.modules:
        import torch

        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:  # only settable before the first parallel work
            pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:  # pragma: no cover - comes with scikit-learn
        pass


def keep_freed_memory() -> bool:
    """Make glibc's allocator reuse freed memory for large blocks (returns whether it applied).

    glibc serves every allocation above 32 MB (its largest ``M_MMAP_THRESHOLD``) with a fresh
    ``mmap`` and returns it with ``munmap`` when freed, so each training step page-faults its large
    activations in anew: a CR step at 1 kb (batch 64, 64 score channels) took 0.18 s with the
    default and 0.066 s without it, and the plain CNN at 10.5 kb 0.93 s against 0.25 s (one
    thread, benchmarks/README.md). ``M_MMAP_MAX = 0`` serves them from the heap, and a high
    ``M_TRIM_THRESHOLD`` keeps freed heap memory for the next step. Peak memory is unchanged (the
    same blocks are reused). A no-op where the C library is not glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 1 << 30))


def resolve_device(device: str | None) -> Any:
    """A ``torch.device``: ``None``/``"auto"`` picks CUDA, else MPS, else CPU.

    An explicit CUDA or MPS device that this machine lacks is a :class:`ConfigError`
    (never a silent fall-back to the CPU).
    """
    import torch

    if isinstance(device, torch.device):
        device = str(device)
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but no CUDA GPU is available")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"device {device!r} requested but MPS is not available")
    return dev


def accelerator_device(accelerator: str) -> Any:
    """The device that Lightning's ``train.accelerator`` setting amounts to outside training."""
    if accelerator == "cpu":
        return resolve_device("cpu")
    if accelerator in ("gpu", "cuda"):
        import torch

        return resolve_device("cuda" if torch.cuda.is_available() else "cpu")
    if accelerator == "mps":
        return resolve_device("mps")
    return resolve_device(None)
