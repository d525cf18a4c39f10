"""Compare rules in real containers: an upstream-style reproducer that prints a control and
treatments, and the seed's plain-c test.sh read against the lab's own liblxc-cgroup-escape."""

import pytest

from conftest import FIXTURES
from integration.conftest import lab, lab_containers
from reprolab.results import record

pytestmark = pytest.mark.docker

LEAK = {"3": {"control": "none", "treatment": "/etc/debian_version"}}


def test_sections_of_a_real_reproducer(client, tmp_path):
    results = tmp_path / "results"
    proc = lab("--scenarios", str(FIXTURES / "read"), "--results", str(results), "run", "sections")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rec = record.load(record.find(results))
    by = {r["variant"]: r for r in rec["results"]}
    assert {v: (r["outcome"], r.get("verdict_by"), r.get("verdict_rule")) for v, r in by.items()} == {
        "differs": ("reproduced", "lab", "read.compare.differs"),
        "same": ("not-reproduced", "lab", "read.compare.same"),
        "stderr": ("reproduced", "lab", "read.compare.differs"),
        "both": ("reproduced", "lab", "read.compare.differs"),
        "file": ("reproduced", "lab", "read.compare.differs"),
        "gives-up": ("error", "lab", "read.compare.sections"),
        "four-runs": ("reproduced", "lab", "read.compare.differs")}
    for name in ("differs", "stderr", "both", "file"):
        ev = by[name]["evidence"]
        assert (ev["differing"], ev["differs"]) == ("1/1", {"with": LEAK}), name
        assert ev["sections"]["without"]["facts"] == {"0": "/dev/null", "1": "pipe:[inode]", "2": "/dev/null",
                                                      "3": "none", "4": "none", "5": "none"}, name
        assert ev["sections"]["with"]["facts"]["3"] == "/etc/debian_version", name
    same = by["same"]["evidence"]
    assert same["differing"] == "0/1" and "differs" not in same
    assert same["sections"]["without"]["facts"] == same["sections"]["with"]["facts"]
    # both streams reached the lab as one pipe, in the order written (markers on stdout, fds on stderr)
    assert by["both"]["docker_command"].endswith("/bin/sh -c 'exec \"$@\" 2>&1' sh /opt/reprolab/bin/fds.sh l both")
    assert by["file"]["artifacts"]["files"] == ["fds.txt"]
    assert by["gives-up"]["reason"] == ("section with is missing: no line matches its marker "
                                        "/^RUN [0-9]+ WITH THE SUSPECT$/")
    assert by["gives-up"]["exit_code"] == 3 and by["gives-up"]["evidence"]["exit_status"] == 3
    four = by["four-runs"]
    assert (four["attempts"], four["evidence"]["differing"]) == (4, "2/4")
    assert four["evidence"]["differs"] == {"run.1": LEAK, "run.3": LEAK}
    log = (results / by["differs"]["log"]).read_text()
    assert log.startswith("RUNNING WITHOUT THE SUSPECT\nfd 0: /dev/null\n")
    assert "[reprolab: lab verdict: reproduced, decided by read.compare.differs (compare in stdout:" in log
    assert lab_containers(client, rec["run_id"]) == []


def test_plain_c_agrees_with_the_lab_own_variants(client, tmp_path):
    """The seed's test.sh, read by sections, gives the lab's own liblxc-cgroup-escape answers:
    Debian's liblxc moves nothing, the cgm_escape model moves every controller the script entered."""
    proc = lab("--results", str(tmp_path), "run", "liblxc-cgroup-escape-plain-c",
               "liblxc-cgroup-escape:link-liblxc", "liblxc-cgroup-escape:model-cgm-escape",
               "--suite", "bookworm", timeout=3000)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rec = record.load(record.find(tmp_path))
    by = {(r["scenario"], r["variant"]): r for r in rec["results"]}
    if rec["host"].get("cgroup") == "v2":  # the script's layout is v1's: a v2-only host says why not
        for variant in ("link-liblxc", "model-cgm-escape"):
            ours = by[("liblxc-cgroup-escape-plain-c", variant)]
            assert ours["outcome"] == "skipped" and ours["reason"].startswith("needs cgroup v1"), ours
        return
    for variant in ("link-liblxc", "model-cgm-escape"):
        ours, lab_own = by[("liblxc-cgroup-escape-plain-c", variant)], by[("liblxc-cgroup-escape", variant)]
        assert ours["outcome"] == lab_own["outcome"], variant
        assert ours["verdict_by"] == "lab" and "verdict_by" not in lab_own
    real = by[("liblxc-cgroup-escape-plain-c", "link-liblxc")]["evidence"]
    assert real["differing"] == "0/1"
    control = real["sections"]["without-lxc"]["facts"]
    # the trap of a line rule: cpuset stays at / (the script cannot enter it), the rest moved in
    assert control["cpuset"] == "/" and control["pids"] == "/test-lxc/plainc-lxc-<time>"
    model = by[("liblxc-cgroup-escape-plain-c", "model-cgm-escape")]["evidence"]
    moved = model["differs"]["with-lxc"]
    entered = {k for k, v in control.items() if v == "/test-lxc/plainc-lxc-<time>"}
    assert set(moved) == entered and all(m["treatment"] == "/" for m in moved.values())
    escaped = set(by[("liblxc-cgroup-escape", "model-cgm-escape")]["evidence"]["escaped_list"])
    assert entered <= {c for h in escaped for c in h.split(",")}
    assert lab_containers(client, rec["run_id"]) == []
