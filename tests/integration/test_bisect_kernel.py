"""bisect over real guest kernels: the close-range fixture marks its fds close-on-exec with
close_range(CLOSE_RANGE_CLOEXEC), a flag Linux has since 5.11. On 5.10 the call fails (EINVAL) and
the exec'd child holds the parent's fd; on 6.1 it does not. bisect finds that boundary from what
the child itself listed in /proc/self/fd, one record per probe, and no guest outlives it."""

import json
import os
from pathlib import Path

import pytest

from conftest import ROOT
from integration.conftest import lab

pytestmark = pytest.mark.docker

KERNEL_STEP = str(ROOT / "tests" / "fixtures" / "kernel-step")


def qemus_writing_to(folder):
    """qemu processes whose console log lies in `folder`: this test's guests, not other users'."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[0].endswith(b"qemu-system-x86_64") and any(str(folder).encode() in a for a in argv):
                out.append(int(entry))
    return out


def test_bisect_finds_the_kernel_release_where_close_range_cloexec_arrived(client, tmp_path):
    # named newest first: the axis orders kernels by release, not as given
    proc = lab("--scenarios", KERNEL_STEP, "--results", str(tmp_path / "results"), "bisect", "close-range:flag",
               "--kernel", "6.1", "--kernel", "5.10", "--end-runs", "3", "--fast-absence", "--boot-timeout", "900",
               "--json", timeout=2400)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    print(proc.stdout)  # with -s: the bisection as a user sees it (docs/bisect.md quotes one)
    out = proc.stdout
    data = json.loads(out[out.index("\n{\n") + 1:])
    assert data["axis"] == "kernel" and data["points"] == ["5.10", "6.1"] and data["status"] == "found"
    assert (data["last"], data["first"]) == ("5.10", "6.1")
    old, new = data["probes"]
    assert (old["point"], old["outcome"], old["k"], old["n"]) == ("5.10", "reproduced", 3, 3)
    # a syscall flag is there or not: --fast-absence decides 6.1 by excluding 5.10's rate, its
    # interval's top below 5.10's lower bound
    assert new["point"] == "6.1" and new["outcome"] == "not-reproduced" and new["k"] == 0
    assert new["interval"][1] < old["interval"][0] and new["n"] == 5
    assert data["runs"] == old["runs"] + new["runs"] == 8
    for probe, release, errno, marker in ((old, "5.10.", "EINVAL", 3), (new, "6.1.", "", -1)):
        rec = json.loads(Path(probe["record"]).read_text())
        assert rec["host"]["kernel"].startswith(release) and rec["host"]["guest"]["kernel_release"] == rec["host"]["kernel"]
        assert probe["detail"] == rec["host"]["kernel"]
        assert len(rec["results"]) == probe["runs"]
        for r in rec["results"]:  # the evidence is what the guest's kernel and the child said
            ev = r["evidence"]
            assert ev["kernel"] == rec["host"]["kernel"] and ev["close_range_errno"] == errno
            assert ev["child_fd_of_marker"] == marker and ev["parent_fd"] == 3
    rows = [ln.split() for ln in out.splitlines()[3:5]]  # the probe table, kernels as named
    assert [r[:4] for r in rows] == [["5.10", old["detail"], "end", "reproduced"],
                                     ["6.1", new["detail"], "end", "not-reproduced"]]
    assert (f"boundary: reproduced up to kernel 5.10 (3/3 [0.44-1.00]); not-reproduced from kernel 6.1 "
            f"(0/5 [0.00-0.43])") in out
    assert "issue: `close-range:flag` is reproduced up to kernel 5.10 (3/3 [0.44-1.00]) and not-reproduced " \
           "from kernel 6.1 (0/5 [0.00-0.43]); bisected over 2 kernel points with 2 probes, 8 runs in " in out
    assert qemus_writing_to(tmp_path) == []  # both guests ended with their probes
