"""Row chunking of large arrays, so memory stays flat whatever the number of genes."""

from __future__ import annotations

import math
from collections.abc import Iterator


def iter_chunks(n: int, chunk: int) -> Iterator[slice]:
    """Slices ``[0, chunk), [chunk, 2 chunk), ...`` covering ``range(n)``."""
    for start in range(0, n, max(1, chunk)):
        yield slice(start, min(start + chunk, n))


def chunk_rows_for(length: int, budget_mb: float, itemsize: int = 8) -> int:
    """Rows of length ``length`` that fit ``budget_mb`` of ``itemsize``-byte values (at least 1)."""
    return max(1, int(math.floor(budget_mb * 1e6 / max(1, length * itemsize))))
