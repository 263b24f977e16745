"""Error types raised on bad input.

Every error about input data names the file and, where there is one, the record
(line number, FASTA header, gene id, h5 dataset) so a user can find and fix it.
"""

from __future__ import annotations

from pathlib import Path


class PromoterCRError(Exception):
    """Base class of all errors raised deliberately by promoter_cr."""


class ConfigError(PromoterCRError):
    """An invalid configuration; the message names the key and the config file."""


class InputDataError(PromoterCRError):
    """Bad input data.

    Parameters
    ----------
    path
        The file that holds the bad record.
    message
        What is wrong.
    record
        The record (e.g. ``"line 12"``, ``">ENSG0001"``, ``"gene ENSG0001"``), if any.
    """

    def __init__(self, path: str | Path | None, message: str, record: str | None = None):
        self.path = None if path is None else str(path)
        self.record = record
        self.reason = message
        where = f"{self.path}" if self.path else "<input>"
        if record:
            where += f", {record}"
        super().__init__(f"{where}: {message}")


class DownloadError(PromoterCRError):
    """A download that failed for good (after retries); the message names the URL."""


class OutputError(PromoterCRError):
    """An output that cannot be written: no space left on the device, a quota, or a read-only file system.

    The message names the path; nothing half-written is left behind (see :mod:`promoter_cr.atomic`).
    """

    def __init__(self, path: str | Path, message: str):
        self.path = str(path)
        self.reason = message
        super().__init__(f"{self.path}: {message}")
