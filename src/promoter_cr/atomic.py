"""Atomic writes: outputs appear complete or not at all.

Every output of the pipeline is written to a temporary sibling and renamed into
place, so an interrupted job never leaves a half-written file that a later run
would mistake for a finished one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from promoter_cr.errors import OutputError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


#: errno values of a disk that cannot take the output, and how the error line says it
_DISK_ERRORS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded", errno.EROFS: "read-only"}


def disk_error(exc: BaseException) -> str | None:
    """``"no space left on device"``, ``"disk quota exceeded"`` or ``"read-only"`` when ``exc`` says so, else ``None``.

    numpy reports a short write of a full disk as ``OSError("N requested and M written")`` with no
    errno; that counts as no space too.
    """
    if not isinstance(exc, OSError):
        return None
    if exc.errno in _DISK_ERRORS:
        return _DISK_ERRORS[exc.errno]
    if exc.errno is None and " requested and " in str(exc) and " written" in str(exc):
        return _DISK_ERRORS[errno.ENOSPC]
    return None


@contextlib.contextmanager
def _disk_errors_named(path: Path) -> Iterator[None]:
    """Re-raise a full or read-only disk as :class:`OutputError` naming ``path``."""
    try:
        yield
    except OSError as exc:
        why = disk_error(exc)
        if why is None:
            raise
        raise OutputError(path, f"cannot write: {why}") from exc


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    The temporary name ends in ``suffix`` (default: the extensions of ``path``) so
    libraries that dispatch on the extension (``np.save``, ``savefig``) see the right one.
    A full or read-only disk raises :class:`~promoter_cr.errors.OutputError` naming ``path``.
    """
    path = Path(path)
    suffix = suffix or "".join(path.suffixes) or ".tmp"
    with _disk_errors_named(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", suffix=suffix, dir=path.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual mode
            yield tmp_path
            os.replace(tmp_path, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()
            raise


@contextlib.contextmanager
def atomic_memmap(path: str | Path, dtype: Any, shape: tuple[int, ...]) -> Iterator[Any]:
    """A ``.npy`` memmap of ``shape`` and ``dtype`` to fill, published at ``path`` only if the block ends cleanly.

    The one way the package writes a large array result (weighted features, hypothetical weights):
    the array is filled in place batch by batch (never held in memory), flushed, and renamed into
    place by :func:`atomic_path`; an exception leaves nothing at ``path``.
    """
    import numpy as np

    with atomic_path(path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=tuple(int(d) for d in shape))
        try:
            yield out
            out.flush()
        finally:
            del out


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; rename it onto ``path`` on success.

    An existing ``path`` is replaced only once the new directory is complete.
    """
    path = Path(path)
    with _disk_errors_named(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        try:
            os.chmod(tmp, 0o777 & ~_UMASK)
            yield tmp
            if path.exists():
                old = path.with_name(f".{path.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


@contextlib.contextmanager
def all_or_none(paths: Iterable[str | Path]) -> Iterator[None]:
    """Outputs that belong together: if the ``with`` body fails, every one of ``paths`` is removed.

    Each file is still written atomically; this makes the *set* appear complete or not at all
    (a failed stage leaves no first half of its outputs beside stale second halves).
    """
    paths = [Path(p) for p in paths]
    try:
        yield
    except BaseException:
        for p in paths:
            with contextlib.suppress(OSError):
                p.unlink()
        raise


def write_bytes(path: str | Path, data: bytes | memoryview) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_tsv(path: str | Path, frame: Any, **kwargs: Any) -> None:
    """Write a pandas DataFrame as TSV (gzip if ``path`` ends in .gz) atomically."""
    path = Path(path)
    compression = "gzip" if path.suffix == ".gz" else None
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=kwargs.pop("index", False), compression=compression, **kwargs)


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
