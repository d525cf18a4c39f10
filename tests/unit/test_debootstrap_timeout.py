"""A debootstrap that stalls is killed with its whole process group, and leaves no temp dir."""

import os
import signal
import time

import pytest

from reprolab.engines import bases
from reprolab.common.errors import EngineError

FAKE = """#!/bin/sh
echo $$ > {pidfile}
mkdir -p "$4/var"
echo "I: Retrieving InRelease"
echo "I: Retrieving Packages"
sleep 300 &
echo $! > {childfile}
sleep 300
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="debootstrap() refuses to run without root")
def test_stalled_debootstrap_is_killed_and_cleaned_up(tmp_path, monkeypatch):
    bin_dir, work = tmp_path / "bin", tmp_path / "work"
    bin_dir.mkdir()
    work.mkdir()
    fake = bin_dir / "debootstrap"
    fake.write_text(FAKE.format(pidfile=tmp_path / "pid", childfile=tmp_path / "child"))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("REPROLAB_MIRROR", "http://mirror.invalid/debian")
    with pytest.raises(EngineError) as err:
        bases.debootstrap(None, "bookworm", timeout=1, workdir=str(work))
    assert str(err.value).startswith("debootstrap bookworm timed out after 1 s; its last line: I: Retrieving Packages;")
    assert list(work.iterdir()) == []  # the temp dir with its half-made root is gone
    for name in ("pid", "child"):  # the script and the child it started were both killed
        pid = int((tmp_path / name).read_text())
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"process {pid} of the stalled debootstrap is still alive")


def test_debootstrap_timeout_from_the_environment(monkeypatch):
    monkeypatch.setenv("REPROLAB_DEBOOTSTRAP_TIMEOUT", "12.5")
    assert bases.debootstrap_timeout() == 12.5
    monkeypatch.setenv("REPROLAB_DEBOOTSTRAP_TIMEOUT", "soon")
    with pytest.raises(Exception, match="REPROLAB_DEBOOTSTRAP_TIMEOUT='soon': not a positive number of seconds"):
        bases.debootstrap_timeout()
