"""Faults: misbehaving reproducers, concurrent runs, kill -9, an engine restart. The lab must never
hang or leak itself, and never lose a result."""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import FIXTURES, ROOT
from integration.conftest import lab, lab_containers, variant_containers
from reprolab.common import labels
from reprolab.results import record
from reprolab.runs import execute

pytestmark = pytest.mark.docker
SCEN = str(FIXTURES / "scenarios")


def popen_lab(results, *selectors, scenarios=SCEN):
    return subprocess.Popen([sys.executable, str(ROOT / "lab.py"), "--scenarios", str(scenarios), "--results", str(results),
                             "run", *selectors], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_misbehaving_reproducers_are_contained(client, tmp_path):
    proc = lab("--scenarios", SCEN, "--results", str(tmp_path), "run", "containment", "outcomes:present")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rec = record.load(record.find(tmp_path))
    by = {r["variant"]: r for r in rec["results"]}
    assert by["fork-bomb"]["outcome"] == "hang"
    assert by["memory-hog"]["reason"].startswith("killed by the OOM killer (memory limit 64m)")
    assert by["flood"]["outcome"] == "reproduced"
    assert os.path.getsize(tmp_path / by["flood"]["log"]) <= execute.LOG_LIMIT + 100
    assert by["present"]["outcome"] == "reproduced"  # the variant after them is unaffected
    procs = by["pipe-hang"]["forensics"]["processes"]
    sleep = next(p for p in procs if p["cmdline"] == "sleep 600")
    cat = next(p for p in procs if p["cmdline"] == "cat")
    assert sleep["fds"]["1"] == cat["fds"]["0"] and sleep["fds"]["1"].startswith("pipe:[")
    assert cat["wchan"] and all(p["cgroup"] for p in procs)
    assert lab_containers(client, rec["run_id"]) == []


def test_two_runs_at_once_keep_to_their_own_containers(client, tmp_path):
    a = popen_lab(tmp_path / "a", "outcomes:present", "outcomes:hangs", "outcomes:absent")
    b = popen_lab(tmp_path / "b", "outcomes:hangs", "outcomes:present", "outcomes:absent")
    for p in (a, b):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, out + err
    for d in ("a", "b"):
        rec = record.load(record.find(tmp_path / d))
        assert sorted(r["outcome"] for r in rec["results"]) == ["hang", "not-reproduced", "reproduced"]
        assert rec["ended"] and not rec["interrupted"]


@pytest.mark.parametrize("delay", [0.3, 1.0, 2.5, 4.0])
def test_kill_9_leaves_records_readable_and_clean_removes_strays(client, outcome_images, tmp_path, delay):
    # outcome_images: the delays fall in the run's own stages (engine calls, containers), not in a build
    results = tmp_path / "r"
    earlier = lab("--scenarios", SCEN, "--results", str(results), "run", "outcomes:absent")
    assert earlier.returncode == 0
    p = popen_lab(results, "outcomes:present", "outcomes:hangs", "outcomes:absent")
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=30)
    files = record.list_records(results)
    assert files, "the earlier record is gone"
    for f in files:
        rec = record.load(f)  # every record file is whole: written to a temp file, then renamed
        assert rec["results"] is not None
    proc = lab("clean", *[arg for f in files for arg in ("--run", f.stem)])  # only this test's runs
    assert proc.returncode == 0 and "is still running" not in proc.stdout  # the killed run's owner is gone
    for f in files:
        assert lab_containers(client, f.stem) == []


def dockerd_pids():
    pids = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout.split()
    if not pids:
        pytest.skip("dockerd is not a process here (remote engine)")
    return pids


def stop_dockerd(pids):
    for pid in pids:
        os.kill(int(pid), signal.SIGTERM)
    for _ in range(100):
        if not subprocess.run(["pidof", "dockerd"], capture_output=True).stdout.strip():
            break
        time.sleep(0.2)


def setup_host():
    return subprocess.run(["bash", str(ROOT / "scripts" / "setup-host.sh")], capture_output=True, text=True)


def restart_engine_under(p, pids, timeout):
    """Stop dockerd under the running lab `p`, bring it back while the lab waits for it (as after
    `systemctl restart docker`), and return the lab's (out, err); the engine is up again however
    this ends, and the lab is not left running."""
    try:
        stop_dockerd(pids)
        setup = setup_host()
        out, err = p.communicate(timeout=timeout)
    finally:
        if p.poll() is None:
            p.kill()
        again_up = setup_host()
    assert setup.returncode == 0 and again_up.returncode == 0, setup.stderr + again_up.stderr
    assert "Traceback" not in err, err
    return out, err


def test_engine_restart_mid_run(client, tmp_path, fixture_scenarios):
    pids = dockerd_pids()
    # a long timeout, so that the engine's shutdown (up to 10 s per container) ends before it
    text = (fixture_scenarios / "outcomes.yaml").read_text()
    (fixture_scenarios / "outcomes.yaml").write_text(text.replace("timeout: 5", "timeout: 120"))
    results = tmp_path / "r"
    p = popen_lab(results, "outcomes:hangs", "outcomes:present", scenarios=fixture_scenarios)
    deadline = time.time() + 120
    while time.time() < deadline:
        recs = record.list_records(results)
        if recs and variant_containers(client, recs[0].stem, "hangs", status="running"):
            break
        time.sleep(0.2)
    out, err = restart_engine_under(p, pids, timeout=180)
    assert p.returncode == 1, out + err  # the hang became an error: one outcome differs
    rec = record.load(record.find(results))
    first, second = rec["results"]
    assert first["variant"] == "hangs" and first["outcome"] == "error" and "engine" in first["reason"], first
    # the run waited for the engine and went on: the next variant ran for real
    assert second["variant"] == "present" and second["outcome"] == "reproduced", second
    assert rec["engine_interruptions"] and rec["engine_interruptions"][0]["answered"] is True
    assert rec["ended"] and not lab_containers(client, rec["run_id"])


def test_engine_restart_under_the_calibration(client, tmp_path):
    """The engine goes away while the run measures its speed (a restart in the first seconds of a
    run): the run waits for it and measures again, instead of running unscaled and failing every
    variant on builds the absent engine refused."""
    pids = dockerd_pids()
    results = tmp_path / "r"
    p = popen_lab(results, "outcomes:present", "outcomes:absent")
    paused = None
    try:
        deadline = time.time() + 120
        while time.time() < deadline and paused is None and p.poll() is None:
            recs = record.list_records(results)
            rows = client.api.containers(filters={"label": [f"{labels.RUN}={recs[0].stem}", f"{labels.PROBE}=calibrate"],
                                                  "status": "running"}) if recs else []
            if rows:
                client.api.pause(rows[0]["Id"])  # the lab now waits on it, however slow this test is
                paused = rows[0]["Id"]
            time.sleep(0.05)
        assert paused, "the run's calibration never ran"
    except BaseException:  # the lab must not go on beside the next test
        p.kill()
        raise
    out, err = restart_engine_under(p, pids, timeout=300)
    assert p.returncode == 0, out + err
    assert "the engine stopped answering under the calibration" in err, err  # not "did not end within"
    assert "the engine is back; the step it went away under is made again" in err, err
    rec = record.load(record.find(results))
    assert rec["host"]["speed"]["fork_exec_per_s"] > 0 and "error" not in rec["host"]["speed"], rec["host"]["speed"]
    assert [(r["variant"], r["outcome"]) for r in rec["results"]] == [("present", "reproduced"),
                                                                       ("absent", "not-reproduced")]
    assert rec["engine_interruptions"][0]["answered"] is True
    assert rec["ended"] and not lab_containers(client, rec["run_id"])
