"""Ctrl-C and SIGTERM in the middle of a run: containers removed, partial record kept, exit 130."""

import signal
import subprocess
import sys
import time

import pytest

from conftest import FIXTURES, ROOT
from integration.conftest import lab_containers, variant_containers
from reprolab.results import record

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_run(client, tmp_path, signum):
    results = tmp_path / "r"
    proc = subprocess.Popen([sys.executable, str(ROOT / "lab.py"), "--scenarios", str(FIXTURES / "scenarios"),
                             "--results", str(results), "run", "outcomes:present", "outcomes:hangs",
                             "outcomes:absent"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        run_id = None
        while time.time() < deadline:  # wait until the hanging variant's container runs
            recs = record.list_records(results)
            if recs:
                run_id = recs[0].stem
                running = variant_containers(client, run_id, "hangs")
                if running:
                    break
            time.sleep(0.2)
        assert run_id, "the run never started"
        proc.send_signal(signum)
        start = time.time()
        out, err = proc.communicate(timeout=30)
    finally:  # a failure above must not leave the lab running beside the next test
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert time.time() - start < 5
    assert lab_containers(client, run_id) == []
    rec = record.load(results / f"{run_id}.json")
    assert rec["interrupted"] is True and rec["ended"]
    assert [r["variant"] for r in rec["results"]] == ["present"]  # the finished variant is kept
    assert "INTERRUPTED" in out
