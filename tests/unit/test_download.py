"""Tests of promoter_cr.data.download against a local HTTP server on 127.0.0.1 (in a thread)."""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import threading

import pytest

from promoter_cr.data.download import checksum_kwargs, download, fetch_to_cache
from promoter_cr.errors import DownloadError

PAYLOAD = os.urandom(300_000)
SHA = hashlib.sha256(PAYLOAD).hexdigest()
MD5 = hashlib.md5(PAYLOAD).hexdigest()
FAST = {"retries": 3, "backoff_s": 0.001, "timeout_s": 5}


class _State:
    """Behaviour switches of the test server, and what it saw."""

    def __init__(self) -> None:
        self.truncate_first = 0  # truncate this many responses (send half of the body, then close)
        self.fail_5xx_first = 0  # answer 503 to this many requests
        self.ignore_range = False
        self.always_truncate = False
        self.ranges: list[str | None] = []
        self.requests = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    state: _State
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):  # noqa: N802 (http.server API)
        st = self.state
        st.requests += 1
        st.ranges.append(self.headers.get("Range"))
        if self.path != "/file.bin":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if st.fail_5xx_first > 0:
            st.fail_5xx_first -= 1
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and not st.ignore_range:
            start = int(rng.split("=")[1].split("-")[0])
            body = PAYLOAD[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            body = PAYLOAD
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if st.always_truncate or st.truncate_first > 0:
            st.truncate_first -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    state = _State()
    handler = type("H", (_Handler,), {"state": state})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield url, state
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_success_with_checksums(server, tmp_path):
    url, state = server
    dest = download(f"{url}/file.bin", tmp_path / "sub" / "f.bin", sha256=SHA, md5=MD5, size=len(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "sub" / "f.bin.part").exists()
    # an existing verified file is not fetched again
    n = state.requests
    download(f"{url}/file.bin", dest, sha256=SHA, **FAST)
    assert state.requests == n


def test_resume_partial_with_range(server, tmp_path):
    url, state = server
    dest = tmp_path / "f.bin"
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:100_000])
    download(f"{url}/file.bin", dest, sha256=SHA, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert state.ranges == ["bytes=100000-"]


def test_server_ignoring_range_restarts(server, tmp_path):
    url, state = server
    state.ignore_range = True
    dest = tmp_path / "f.bin"
    (tmp_path / "f.bin.part").write_bytes(b"junk" * 1000)
    download(f"{url}/file.bin", dest, sha256=SHA, **FAST)
    assert dest.read_bytes() == PAYLOAD


def test_truncated_transfer_is_retried_and_resumed(server, tmp_path):
    url, state = server
    state.truncate_first = 2
    dest = download(f"{url}/file.bin", tmp_path / "f.bin", sha256=SHA, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert state.requests == 3
    assert state.ranges[0] is None and state.ranges[1] == f"bytes={len(PAYLOAD) // 2}-"


def test_truncated_forever_fails_clearly(server, tmp_path):
    url, state = server
    state.always_truncate = True
    with pytest.raises(DownloadError, match=r"file\.bin.*failed after 3 attempts.*truncated"):
        download(f"{url}/file.bin", tmp_path / "f.bin", retries=2, backoff_s=0.001, timeout_s=5)
    assert not (tmp_path / "f.bin").exists()


def test_5xx_is_retried(server, tmp_path):
    url, state = server
    state.fail_5xx_first = 2
    dest = download(f"{url}/file.bin", tmp_path / "f.bin", size=len(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert state.requests == 3


def test_wrong_checksum_removes_file(server, tmp_path):
    url, _ = server
    with pytest.raises(DownloadError, match=r"127\.0\.0\.1.*file\.bin.*sha256"):
        download(f"{url}/file.bin", tmp_path / "f.bin", sha256="0" * 64, **FAST)
    assert list(tmp_path.iterdir()) == []


def test_wrong_size(server, tmp_path):
    url, _ = server
    with pytest.raises(DownloadError, match="size"):
        download(f"{url}/file.bin", tmp_path / "f.bin", size=12, **FAST)
    assert list(tmp_path.iterdir()) == []


def test_404_fails_without_retry(server, tmp_path):
    url, state = server
    with pytest.raises(DownloadError, match=r"missing\.bin.*HTTP 404"):
        download(f"{url}/missing.bin", tmp_path / "f.bin", **FAST)
    assert state.requests == 1
    assert list(tmp_path.iterdir()) == []


def test_unreachable_host(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    url = f"http://127.0.0.1:{port}/file.bin"
    with pytest.raises(DownloadError, match=rf"127\.0\.0\.1:{port}/file\.bin.*unreachable"):
        download(url, tmp_path / "f.bin", retries=1, backoff_s=0.001, timeout_s=2)
    assert list(tmp_path.iterdir()) == []


def test_local_path_and_file_url(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    a = download(str(src), tmp_path / "a.bin", sha256=SHA, **FAST)
    b = download(src.as_uri(), tmp_path / "b.bin", md5=MD5, **FAST)
    assert a.read_bytes() == PAYLOAD and b.read_bytes() == PAYLOAD
    with pytest.raises(DownloadError, match="not found"):
        download(str(tmp_path / "nope.bin"), tmp_path / "c.bin", **FAST)
    with pytest.raises(DownloadError, match="mismatch"):
        download(str(src), tmp_path / "d.bin", sha256="1" * 64, **FAST)
    assert not (tmp_path / "d.bin").exists()
    # fetch_to_cache uses a local file in place
    assert (
        fetch_to_cache(str(src), tmp_path / "cache", {"retries": 0, "backoff_s": 0.001, "timeout_s": 5}, checksum=SHA)
        == src
    )


def test_fetch_to_cache_remote(server, tmp_path):
    url, _ = server
    path = fetch_to_cache(f"{url}/file.bin", tmp_path / "cache", checksum=MD5, download_cfg=FAST)
    assert path == tmp_path / "cache" / "file.bin" and path.read_bytes() == PAYLOAD


def test_checksum_kwargs():
    assert checksum_kwargs(SHA) == {"sha256": SHA}
    assert checksum_kwargs(MD5.upper()) == {"md5": MD5}
    assert checksum_kwargs(None) == {}
    with pytest.raises(ValueError):
        checksum_kwargs("abc")


def test_cli_download(server, tmp_path):
    from promoter_cr.cli import main

    url, _ = server
    out = tmp_path / "x.bin"
    fast = '{"download": {"retries": 0, "backoff_s": 0.001, "timeout_s": 5}}'
    assert main(["download", "--url", f"{url}/file.bin", "--out", str(out), "--sha256", SHA, "--config", fast]) == 0
    assert out.read_bytes() == PAYLOAD
    assert (
        main(["download", "--url", f"{url}/missing.bin", "--out", str(tmp_path / "y.bin"), "--config", fast]) == 5
    )  # download failed
    assert not (tmp_path / "y.bin").exists()
