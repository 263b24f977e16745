"""Robust file downloads with the standard library only (``urllib``).

:func:`download` streams a URL to ``<dest>.part``, resumes an interrupted transfer
with an HTTP ``Range`` request (and starts over when the server ignores it),
retries connection errors, 5xx answers and truncated transfers with exponential
back-off, verifies size and checksums, and renames the finished file onto
``dest`` atomically. It fails for good with a :class:`~promoter_cr.errors.DownloadError`
that names the URL (404, unreachable host, checksum mismatch, ...), leaving no bad
partial file behind. ``file://`` URLs and plain local paths are copied with the
same verification, so a pipeline can point at a local mirror.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from promoter_cr.errors import DownloadError

log = logging.getLogger(__name__)

CHUNK = 1 << 20
USER_AGENT = "promoter-cr-downloader/1"


class _Retryable(Exception):
    """A transient failure: retry (the partial file is kept for resuming)."""


def is_remote(url: str) -> bool:
    """True for ``http://``, ``https://`` and ``ftp://`` URLs."""
    return urllib.parse.urlparse(str(url)).scheme.lower() in ("http", "https", "ftp")


def local_path(url: str) -> Path:
    """The local path of a ``file://`` URL or a plain path."""
    parsed = urllib.parse.urlparse(str(url))
    if parsed.scheme.lower() == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    return Path(url)


def file_digests(path: str | Path, chunk: int = CHUNK) -> tuple[str, str]:
    """``(sha256, md5)`` hex digests of a file, read in chunks."""
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def verify_file(
    path: str | Path, sha256: str | None = None, md5: str | None = None, size: int | None = None
) -> str | None:
    """Check a file against the expected size and checksums.

    Returns ``None`` when it matches, else a description of the first mismatch.
    """
    path = Path(path)
    actual_size = path.stat().st_size
    if size is not None and actual_size != int(size):
        return f"size {actual_size} bytes, expected {int(size)}"
    if sha256 or md5:
        got_sha, got_md5 = file_digests(path)
        if sha256 and got_sha.lower() != sha256.strip().lower():
            return f"sha256 {got_sha}, expected {sha256.strip().lower()}"
        if md5 and got_md5.lower() != md5.strip().lower():
            return f"md5 {got_md5}, expected {md5.strip().lower()}"
    return None


def checksum_kwargs(checksum: str | None) -> dict[str, str]:
    """Map a hex checksum to ``{"sha256": ..}`` (64 digits) or ``{"md5": ..}`` (32 digits)."""
    if not checksum:
        return {}
    c = checksum.strip().lower()
    if c.startswith("sha256:"):
        return {"sha256": c[7:]}
    if c.startswith("md5:"):
        return {"md5": c[4:]}
    if len(c) == 64:
        return {"sha256": c}
    if len(c) == 32:
        return {"md5": c}
    raise ValueError(f"checksum {checksum!r} is neither a sha256 (64 hex digits) nor an md5 (32 hex digits)")


def _existing_matches(url: str, dest: Path, sha256: str | None, md5: str | None, size: int | None) -> bool:
    """True when ``dest`` exists and passes the checks (logged); a mismatch is logged and gives False."""
    if dest.exists():
        problem = verify_file(dest, sha256, md5, size)
        if problem is None:
            log.info("using existing %s", dest)
            return True
        log.warning("existing %s does not match (%s); downloading %s again", dest, problem, url)
    return False


def _download_remote(
    url: str,
    dest: Path,
    sha256: str | None,
    md5: str | None,
    size: int | None,
    *,
    retries: int,
    backoff_s: float,
    timeout_s: float,
) -> Path:
    """The retry loop of :func:`download` for a remote ``url``: fetch into ``<dest>.part`` (resuming),
    verify, and rename onto ``dest``; raises :class:`DownloadError` as :func:`download` documents."""
    part = dest.with_name(dest.name + ".part")
    attempt = 0
    restarted_after_mismatch = False
    last_error = "unknown error"
    while True:
        resumed = part.exists() and part.stat().st_size > 0
        try:
            _fetch_once(url, part, timeout_s)
        except _Retryable as exc:
            last_error = str(exc)
            if attempt >= retries:
                raise DownloadError(f"download of {url} failed after {attempt + 1} attempts: {last_error}") from None
            delay = backoff_s * (2**attempt)
            attempt += 1
            log.warning("download of %s: %s; retry %d/%d in %.1f s", url, last_error, attempt, retries, delay)
            time.sleep(delay)
            continue
        problem = verify_file(part, sha256, md5, size)
        if problem is None:
            os.replace(part, dest)
            log.info("downloaded %s -> %s (%d bytes)", url, dest, dest.stat().st_size)
            return dest
        part.unlink(missing_ok=True)
        if resumed and not restarted_after_mismatch:
            # the partial may have come from another version of the file: start over once
            restarted_after_mismatch = True
            log.warning("download of %s: %s after resuming; starting over", url, problem)
            continue
        raise DownloadError(f"download of {url}: checksum/size mismatch: {problem} (bad file removed)")


def download(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
    *,
    retries: int,
    backoff_s: float,
    timeout_s: float,
) -> Path:
    """Download ``url`` to ``dest`` (resumable, retried, verified, atomic).

    Parameters
    ----------
    url
        ``http(s)://`` or ``ftp://`` URL, a ``file://`` URL, or a local path.
    dest
        Final file path; its folder is created. An existing ``dest`` that passes the
        checks is kept and not downloaded again.
    sha256, md5, size
        Expected checksums (hex) and size in bytes; any may be ``None``.
    retries
        Extra attempts after the first for transient failures (connection errors,
        timeouts, HTTP 5xx/429, truncated transfers).
    backoff_s
        Sleep before the first retry; doubles on each further retry.
    timeout_s
        Socket timeout of each connection.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    DownloadError
        Naming the URL, for a 4xx answer (e.g. 404), an unreachable host after all
        retries, a checksum or size mismatch (the bad file is removed), or a missing
        local file.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if _existing_matches(url, dest, sha256, md5, size):
        return dest
    if not is_remote(url):
        return _copy_local(url, dest, sha256, md5, size)
    return _download_remote(url, dest, sha256, md5, size, retries=retries, backoff_s=backoff_s, timeout_s=timeout_s)


def _fetch_once(url: str, part: Path, timeout_s: float) -> None:
    """One HTTP(S)/FTP attempt: append to ``part`` from its current size, to the end.

    Raises :class:`_Retryable` for transient failures and :class:`DownloadError`
    for permanent ones.
    """
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset > 0:
        headers["Range"] = f"bytes={offset}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        code = exc.code
        exc.close()
        if code == 416 and offset > 0:
            # our partial is not a prefix the server can continue: drop it and start over
            part.unlink(missing_ok=True)
            raise _Retryable(f"HTTP 416 (range not satisfiable) resuming at byte {offset}; restarting") from None
        if code >= 500 or code in (408, 429):
            raise _Retryable(f"HTTP {code} {exc.reason}") from None
        raise DownloadError(f"download of {url} failed: HTTP {code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        raise _Retryable(f"host unreachable or connection failed ({reason})") from None
    except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
        raise _Retryable(f"connection failed ({type(exc).__name__}: {exc})") from None

    with resp:
        status = getattr(resp, "status", 200) or 200
        length = resp.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        mode = "ab"
        if offset > 0:
            if status == 206:
                start = _content_range_start(resp.headers.get("Content-Range"))
                if start is not None and start != offset:
                    part.unlink(missing_ok=True)
                    raise _Retryable(f"server resumed at byte {start}, not {offset}; restarting")
                log.info("resuming %s at byte %d", url, offset)
            else:
                log.info("server ignored the range request for %s; starting over", url)
                mode = "wb"
                offset = 0
        received = 0
        try:
            with open(part, mode) as fh:
                while True:
                    block = resp.read(CHUNK)
                    if not block:
                        break
                    fh.write(block)
                    received += len(block)
        except http.client.IncompleteRead as exc:
            raise _Retryable(f"transfer truncated after {offset + received} bytes ({exc})") from None
        except (TimeoutError, ConnectionError, OSError) as exc:
            raise _Retryable(
                f"transfer interrupted after {offset + received} bytes ({type(exc).__name__}: {exc})"
            ) from None
        if expected is not None and received < expected:
            raise _Retryable(f"transfer truncated: got {received} of {expected} bytes")


def _content_range_start(value: str | None) -> int | None:
    """First byte of a ``Content-Range: bytes a-b/n`` header, or ``None``."""
    if not value:
        return None
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _copy_local(url: str, dest: Path, sha256: str | None, md5: str | None, size: int | None) -> Path:
    src = local_path(url)
    if not src.is_file():
        raise DownloadError(f"download of {url} failed: local file not found: {src}")
    problem = verify_file(src, sha256, md5, size)
    if problem is not None:
        raise DownloadError(f"download of {url}: checksum/size mismatch: {problem}")
    if src.resolve() == dest.resolve():
        return dest
    part = dest.with_name(dest.name + ".part")
    try:
        shutil.copyfile(src, part)
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return dest


def fetch_to_cache(
    url: str, cache_dir: str | Path, download_cfg: dict, name: str | None = None, checksum: str | None = None
) -> Path:
    """Download ``url`` into ``cache_dir`` (or return a local path as is).

    A local path or ``file://`` URL is used in place (after checking it exists and
    its checksum); a remote URL goes through :func:`download` with the retry
    settings of the validated ``download`` config section.
    """
    cfg = download_cfg
    sums = checksum_kwargs(checksum)
    if not is_remote(url):
        src = local_path(url)
        if not src.is_file():
            raise DownloadError(f"download of {url} failed: local file not found: {src}")
        problem = verify_file(src, **sums)
        if problem is not None:
            raise DownloadError(f"{url}: checksum/size mismatch: {problem}")
        return src
    name = name or Path(urllib.parse.urlparse(url).path).name or "download"
    return download(
        url,
        Path(cache_dir) / name,
        retries=int(cfg["retries"]),
        backoff_s=float(cfg["backoff_s"]),
        timeout_s=float(cfg["timeout_s"]),
        **sums,
    )
