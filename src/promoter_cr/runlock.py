"""One workflow run per results folder: an exclusive lock of our own in ``results/<dataset>/``.

Snakemake's lock lives in the ``.snakemake`` folder of its *working directory*, so two runs started
from different directories with one absolute ``results_dir`` both train the same models into the
same folders. The workflow's ``onstart`` takes :func:`acquire` on
:attr:`promoter_cr.layout.DatasetLayout.run_lock`: an ``flock`` held for the life of the Snakemake
process, so a killed run never leaves a stale lock (the kernel drops it), and a second run fails
at start-up with one line naming the folder and the run that holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import IO

from promoter_cr.errors import PromoterCRError


class RunLockError(PromoterCRError):
    """Another run holds the results folder."""


#: the lock files this process holds, kept open (closing one would release it)
_HELD: dict[str, IO[str]] = {}


def acquire(path: str | Path) -> None:
    """Take the exclusive lock at ``path`` for this process, or raise :class:`RunLockError` naming its holder.

    Taking a lock this process already holds is a no-op. The file records who holds it
    (host, pid, working directory, start time) for the error message of the next run.
    """
    path = Path(path)
    key = str(path.resolve())
    if key in _HELD:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")  # noqa: SIM115 - kept open while the run holds the lock
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip()
        fh.close()
        try:
            who = json.loads(holder)
            desc = f"pid {who['pid']} on {who['host']}, started {who['started']} in {who['cwd']}"
        except (ValueError, KeyError, TypeError):
            desc = "another process"
        raise RunLockError(
            f"{path.parent} is in use by another run ({desc}); wait for it to finish, or give this run "
            "another results_dir or dataset.name"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(
        json.dumps(
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "cwd": os.getcwd(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
        )
        + "\n"
    )
    fh.flush()
    _HELD[key] = fh


def release(path: str | Path) -> None:
    """Release a lock taken by :func:`acquire` in this process (a no-op if it holds none)."""
    fh = _HELD.pop(str(Path(path).resolve()), None)
    if fh is not None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()
