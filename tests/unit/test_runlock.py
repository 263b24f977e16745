"""The results-folder lock: one run per folder, released when its process ends."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from promoter_cr.runlock import RunLockError, acquire, release

TRY = textwrap.dedent(
    """
    import sys
    from promoter_cr.runlock import RunLockError, acquire
    try:
        acquire(sys.argv[1])
    except RunLockError as exc:
        print("REFUSED", exc)
    else:
        print("TAKEN")
    """
)


def _other_process(path) -> str:
    return subprocess.run([sys.executable, "-c", TRY, str(path)], capture_output=True, text=True, check=True).stdout


def test_second_process_is_refused_until_the_holder_releases(tmp_path):
    lock = tmp_path / "results" / "tiny" / ".promoter-cr.lock"
    acquire(lock)
    acquire(lock)  # the holder may ask again
    out = _other_process(lock)
    assert out.startswith("REFUSED") and "is in use by another run" in out and "pid" in out
    release(lock)
    assert _other_process(lock).startswith("TAKEN")  # that process ended: its lock went with it
    acquire(lock)
    release(lock)


def test_error_names_the_folder(tmp_path):
    lock = tmp_path / ".promoter-cr.lock"
    lock.write_text("not json\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from promoter_cr.runlock import acquire; acquire(sys.argv[1]); "
         "print('held', flush=True); time.sleep(30)", str(lock)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(RunLockError, match=str(tmp_path)):
            acquire(lock)
    finally:
        proc.kill()
        proc.wait()
