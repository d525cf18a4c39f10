"""Each engine's speed, measured for real, and the budgets that scale with it: on the lab's host
(ratio 1, budgets as written), on a TCG guest (a host-sized timeout only fits when scaled), and
when the calibration fails (budgets as written, and the record says why)."""

import json
import os
import shutil

import pytest

from conftest import FIXTURES
from integration.conftest import lab, lab_containers
from reprolab.common import labels
from reprolab.engines import speed
from reprolab.engines.endpoints import Connected
from reprolab.runs import budget, calibration, session
from reprolab.scenarios import catalog, selection

pytestmark = pytest.mark.docker

KERNEL = "5.10"  # bullseye's kernel, as in test_guests.py


@pytest.fixture
def speed_scenarios(tmp_path):
    dst = tmp_path / "scenarios"
    shutil.copytree(FIXTURES / "speed", dst)
    return dst


def only_record(results):
    records = sorted(results.glob("*.json"))
    assert len(records) == 1, records
    return json.loads(records[0].read_text())


def test_the_labs_host_is_its_own_reference_and_keeps_its_budgets(client, tmp_path, speed_scenarios):
    proc = lab("--scenarios", str(speed_scenarios), "--results", str(tmp_path / "results"), "run", "slowfork",
               timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    rec = only_record(tmp_path / "results")
    s = rec["host"]["speed"]
    assert s["fork_exec_per_s"] > 0 and s["cpu_per_s"] > 0 and s["fork_exec"] > 0
    assert s["reference"]["fork_exec_per_s"] == s["fork_exec_per_s"]
    assert s["ratio"] == {"fork_exec": 1.0, "cpu": 1.0} and s["scale"] == {"factor": 1.0, "capped": False}
    assert "speed of the lab's host: " in proc.stderr and "budgets x" not in proc.stderr
    control, leak = rec["results"]
    assert control["budget"] == {"factor": 1.0, "timeout": {"written": 30, "scaled": 30}}
    # the control's exposure is its children, counted by the reproducer (run.exposure: evidence.children)
    assert control["exposure"]["count"] == 1000 and control["exposure"]["unit"] == "children"
    assert control["exposure"]["attempts"] == 1000 and control["exposure"]["host_equivalent_seconds"] > 0
    assert (leak["outcome"], leak["exposure"]["count"]) == ("reproduced", 1)
    assert client.images.get(speed.TAG).labels["org.reprolab.content-hash"] == speed.context("debian:bookworm").content_hash
    assert not lab_containers(client, rec["run_id"])


def test_a_failed_calibration_leaves_the_budgets_as_written_and_says_so(client, tmp_path):
    """A calibration that cannot end in its time (1 s for 2 s of measuring) is recorded as failed;
    the run goes on with every budget as written, each result saying why."""
    targets = selection.select(catalog.load_all(str(FIXTURES / "scenarios")), ["outcomes:absent"], ["bookworm"])
    said = []
    s = session.Session(Connected(client), targets, tmp_path / "results", ["test"], said.append,
                        calibrator=calibration.Calibrator(timeout=1))
    rec = s.run()
    error = rec["host"]["speed"]["error"]
    assert error.startswith("the calibration did not end within 1 s"), error
    assert rec["host"]["speed"]["scale"]["unscaled"] == f"calibration failed: {error}"
    (r,) = rec["results"]
    assert r["outcome"] == "not-reproduced"
    assert r["budget"] == {"factor": 1.0, "timeout": {"written": 5, "scaled": 5},
                           "unscaled": f"calibration failed: {error}"}
    assert f"speed: not measured ({error}); budgets stay as written" in said
    # none of this process's calibration containers is left (other runs on the engine are not ours)
    assert not client.containers.list(all=True, filters={"label": ["org.reprolab.probe=calibrate",
                                                                   f"{labels.OWNER_PID}={os.getpid()}"]})


def test_a_tcg_guest_fits_a_host_sized_timeout_only_when_scaled(client, tmp_path, speed_scenarios):
    """slowfork's control spawns 1,000 children: seconds on this host, far more than its 30 s on a TCG
    guest. Without scaling it is a hang; scaled with the guest's measured speed it is a negative, and
    the record shows both budgets and the exposure."""
    env = {"REPROLAB_ACCEL": "tcg"}  # a slow engine on purpose: KVM, where it works, would be fast
    args = ["--scenarios", str(speed_scenarios), "run", "slowfork:control", "--kernel", KERNEL,
            "--boot-timeout", "1500"]  # generous: boots take minutes on a loaded machine
    before = lab("--results", str(tmp_path / "unscaled"), *args, "--no-scale", env=env, timeout=2400)
    assert before.returncode == 1, before.stdout + before.stderr[-3000:]
    rec = only_record(tmp_path / "unscaled")
    s = rec["host"]["speed"]
    assert rec["host"]["guest"]["accel"] == "tcg"
    assert s["slowdown"] > 3 and s["reference"]["fork_exec_per_s"] > s["fork_exec_per_s"]
    assert s["scale"] == {"factor": 1.0, "capped": False, "unscaled": "--no-scale: budgets as written"}
    (r,) = rec["results"]
    assert r["outcome"] == "hang", r
    assert r["budget"] == {"factor": 1.0, "timeout": {"written": 30, "scaled": 30},
                           "unscaled": "--no-scale: budgets as written"}
    assert r["reason"].startswith("no end within the 30 s timeout; container killed after "), r["reason"]
    assert f"s host-equivalent (this engine measured {s['slowdown']:g}x slower)" in r["reason"]
    assert 0 < r["exposure"]["host_equivalent_seconds"] < 30

    after = lab("--results", str(tmp_path / "scaled"), *args, env=env, timeout=3600)
    assert after.returncode == 0, after.stdout + after.stderr[-3000:]
    rec = only_record(tmp_path / "scaled")
    s = rec["host"]["speed"]
    factor = min(s["slowdown"], budget.MAX_FACTOR)
    assert s["scale"]["factor"] == round(factor, 2) and s["slowdown"] > 3
    (r,) = rec["results"]
    assert r["outcome"] == "not-reproduced", r
    assert r["budget"]["timeout"] == {"written": 30, "scaled": budget.scaled(30, s["scale"]["factor"])}
    assert r["budget"]["timeout"]["scaled"] > r["seconds"] > 30  # it needed the scaled budget, and had it
    assert r["exposure"]["count"] == 1000
    capped = f" (capped at {budget.MAX_FACTOR:g}x; measured {s['slowdown']:g}x)" if s["scale"]["capped"] else ""
    assert f"slowfork:control@bookworm: budgets x{s['scale']['factor']:g} for this engine{capped}: timeout 30 s -> " \
           f"{r['budget']['timeout']['scaled']} s" in after.stderr
