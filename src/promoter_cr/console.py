"""What the user sees: the job's log file, progress lines and one-line errors on the console.

A ``promoter-cr`` command runs in one of two modes:

* **interactive** (no ``--log``): log records (INFO, or DEBUG with ``-v``) go to stderr;
  Lightning shows its progress bar.
* **workflow job** (``--log FILE``, what every Snakemake rule passes): the process's stdout and
  stderr are redirected, at the file-descriptor level, to ``FILE`` (log records, Lightning,
  warnings, tracebacks, C-level output: everything). The console, the original stderr, receives
  only the progress lines of the ``promoter_cr.console`` logger, prefixed with the job (``[train
  cr] epoch 3/20 ...``), and, on failure, one line with the cause and the log's path.

Third-party noise is turned down once here: fontTools' per-glyph INFO lines (figure logs),
Lightning's "litmodels" advertisement and its own duplicate handlers.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TextIO

#: the logger whose records also reach the user's console during a workflow job
CONSOLE = "promoter_cr.console"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: libraries whose INFO chatter is noise in a job log
QUIET_LOGGERS = ("fontTools", "matplotlib", "PIL", "numba", "h5py", "asyncio")
#: substrings of log messages that are advertisements, not information
SUPPRESSED_MESSAGES = ("litmodels", "💡 Tip:")


class _Suppress(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not any(s in msg for s in SUPPRESSED_MESSAGES)


def _redirect_to(log_file: Path) -> TextIO:
    """Point fds 1 and 2 at ``log_file`` (truncated); return a text stream on the original stderr."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    console_fd = os.dup(2)
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    return os.fdopen(console_fd, "w", buffering=1)


def setup(log_file: str | Path | None, verbose: bool, label: str) -> TextIO:
    """Configure logging for one command; returns the console stream (for the final error line).

    ``label`` prefixes the console lines of a workflow job (e.g. ``train cr``).
    """
    console = _redirect_to(Path(log_file)) if log_file else sys.stderr
    root = logging.getLogger()
    for h in list(root.handlers):  # ours from an earlier command of this process (others are kept)
        if getattr(h, "_promoter_cr", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(_Suppress())
    handler._promoter_cr = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    tame_lightning()
    clog = logging.getLogger(CONSOLE)
    for h in list(clog.handlers):
        clog.removeHandler(h)
    if log_file:
        ch = logging.StreamHandler(console)
        ch.setFormatter(logging.Formatter(f"[{label}] %(message)s"))
        clog.addHandler(ch)
    import warnings

    logging.captureWarnings(True)
    warnings.filterwarnings("ignore", message=".*litmodels.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")  # Lightning's own use of a deprecated torch API
    return console


def tame_lightning() -> None:
    """Route Lightning's records through the root handler exactly once.

    Importing ``lightning`` attaches its own stream handler to the ``lightning`` logger (and, when
    the root logger has none yet, to ``lightning.pytorch`` / ``lightning.fabric`` with
    propagation off), so every line would be printed twice and unfiltered. Call after importing it.
    """
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            lg.removeHandler(h)
        lg.propagate = True


def error_line(console: TextIO, command: str, message: str, log_file: str | Path | None) -> None:
    """The one console line of a failed command: its cause, and where the full log is."""
    where = f" (log: {log_file})" if log_file else ""
    print(f"promoter-cr {command}: error: {message}{where}", file=console, flush=True)
