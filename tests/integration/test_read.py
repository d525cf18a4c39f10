"""Upstream-style reproducers, unchanged, read by the lab's rules in real containers."""

from conftest import FIXTURES
from integration.conftest import lab, lab_containers
from reprolab.results import record

import pytest

pytestmark = pytest.mark.docker


def test_upstream_reproducers_without_glue(client, tmp_path):
    results = tmp_path / "results"
    proc = lab("--scenarios", str(FIXTURES / "read"), "--results", str(results), "run", "upstream")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rec = record.load(record.find(results))
    by = {r["variant"]: r for r in rec["results"]}
    assert {v: r["outcome"] for v, r in by.items()} == {
        "exit-bug": "reproduced", "exit-clean": "not-reproduced", "exit-unplanned": "error",
        "panic-line": "reproduced", "loop-found": "reproduced", "loop-clean": "not-reproduced",
        "loop-clean-seconds": "not-reproduced", "own-verdict": "not-reproduced"}
    rules = {v: (r.get("verdict_by"), r.get("verdict_rule")) for v, r in by.items()}
    assert rules == {
        "exit-bug": ("lab", "read.reproduced.exit_status"), "exit-clean": ("lab", "read.not_reproduced.exit_status"),
        "exit-unplanned": ("lab", "read.none"), "panic-line": ("lab", "read.reproduced.stderr"),
        "loop-found": ("lab", "read.reproduced.stdout"), "loop-clean": ("lab", "read.not_reproduced.after_attempts"),
        "loop-clean-seconds": ("lab", "read.not_reproduced.after_seconds"),
        "own-verdict": ("reproducer", "its REPROLAB-RESULT line")}
    assert by["exit-bug"]["evidence"] == {"exit_status": 2, "rule": "read.reproduced.exit_status"}
    assert by["exit-bug"]["exit_code"] == 2 and by["exit-unplanned"]["exit_code"] == 5
    assert by["exit-unplanned"]["reason"].startswith("the reproducer ended with exit status 5 after ")
    assert by["panic-line"]["evidence"]["matched"] == {
        "stream": "stderr", "line_number": 1, "line": "panic: /etc/debian_version is there (leaked)", "pattern": "^panic: "}
    found = by["loop-found"]["evidence"]["matched"]
    assert found["line"] == "FOUND /etc/debian_version on attempt 1" and found["stream"] == "stdout"
    # the looping reproducers never end by themselves: the lab stopped them, well before the timeout
    assert by["loop-clean"]["attempts"] >= 5 and by["loop-clean"]["evidence"]["attempts"] >= 5
    assert by["loop-clean-seconds"]["evidence"]["seconds"] >= 2
    assert all(r["outcome"] != "hang" and r["seconds"] < 20 for r in by.values())
    assert by["own-verdict"]["evidence"] == {"path": "/no/such/path"} and by["own-verdict"]["exit_code"] == 2
    # the reproducer's own output is kept, then the lab's verdict, marked as the lab's
    log = (results / by["loop-clean"]["log"]).read_text()
    assert log.startswith("attempt 1\nattempt 2\n")
    assert "[reprolab: lab verdict: not-reproduced, decided by read.not_reproduced.after_attempts" in log
    assert "panic: /etc/debian_version is there (leaked)" in (results / by["exit-bug"]["log"]).read_text()
    assert lab_containers(client, rec["run_id"]) == []
