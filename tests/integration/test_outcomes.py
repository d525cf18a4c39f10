"""The fixture scenario yields every outcome for real, through the CLI, in real containers."""

import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES
from integration.conftest import lab, lab_containers
from reprolab.results import record

pytestmark = pytest.mark.docker


def test_every_outcome_for_real(client, tmp_path):
    results = tmp_path / "results"
    proc = lab("--scenarios", str(FIXTURES / "scenarios"), "--results", str(results), "run", "outcomes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = record.list_records(results)
    rec = record.load(path)
    got = {r["variant"]: r["outcome"] for r in rec["results"]}
    assert got == {"present": "reproduced", "absent": "not-reproduced", "hangs": "hang",
                   "crashes": "error", "offline-image": "skipped"}
    by = {r["variant"]: r for r in rec["results"]}
    assert by["present"]["evidence"] == {"path": "/etc/debian_version"}
    assert by["present"]["versions"]["debian"].startswith("12.")
    assert "no verdict line" in by["crashes"]["reason"] and by["crashes"]["exit_code"] == 3
    assert "cannot be pulled" in by["offline-image"]["reason"]
    assert by["hangs"]["reason"] == "no end within the 5 s timeout; container killed"
    assert by["hangs"]["forensics"]["processes"][0]["cmdline"].startswith("/bin/sh /opt/reprolab/bin/fixture hang")
    assert (results / by["present"]["log"]).read_text().startswith("looked for /etc/debian_version: reproduced")
    assert by["present"]["log"] == f"logs/{rec['run_id']}/outcomes.present.bookworm.log"
    assert by["present"]["replay"] == "python lab.py run outcomes:present --suite bookworm"
    assert by["present"]["docker_command"].startswith("docker run --rm --network=none ")
    host = rec["host"]
    assert host["kernel"] and host["cgroup"] in ("v1", "hybrid", "v2") and host["engine"] and host["runc"]
    assert rec["ended"] and not rec["interrupted"]
    assert lab_containers(client, rec["run_id"]) == []
    assert "5 variants: 5 as expected, 0 differ, 0 skipped" in proc.stdout
    # show reprints the same table from the record
    shown = lab("--results", str(results), "show", "--format", "github")
    assert shown.returncode == 0 and "| outcomes   | present" in shown.stdout


def test_outcome_differing_from_expectation_exits_1(client, tmp_path, fixture_scenarios):
    text = (fixture_scenarios / "outcomes.yaml").read_text()
    (fixture_scenarios / "outcomes.yaml").write_text(text.replace(
        "args: [probe, /no/such/path]\n    expect: not-reproduced", "args: [probe, /no/such/path]\n    expect: reproduced"))
    proc = lab("--scenarios", str(fixture_scenarios), "--results", str(tmp_path), "run", "outcomes:absent")
    assert proc.returncode == 1, proc.stderr
    assert "1 variants: 0 as expected, 1 differ, 0 skipped" in proc.stdout


def test_a_new_scenario_needs_no_python_change(client, tmp_path, fixture_scenarios):
    """A YAML file and its sources dropped into a scenarios folder build and run as they are."""
    new = tmp_path / "scenarios" / "brand-new.yaml"
    text = (fixture_scenarios / "outcomes.yaml").read_text().replace("name: outcomes", "name: brand-new")
    new.write_text(text)
    shutil.copytree(fixture_scenarios / "outcomes", tmp_path / "scenarios" / "brand-new")
    (tmp_path / "scenarios" / "brand-new" / "fixture.sh").write_text(
        (fixture_scenarios / "outcomes" / "fixture.sh").read_text().replace("looked for", "brand-new looked for"))
    proc = lab("--scenarios", str(tmp_path / "scenarios"), "--results", str(tmp_path / "r"), "run", "brand-new:present")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rec = record.load(record.find(tmp_path / "r"))
    assert [(r["scenario"], r["outcome"]) for r in rec["results"]] == [("brand-new", "reproduced")]
    assert "brand-new looked for" in (tmp_path / "r" / rec["results"][0]["log"]).read_text()


def test_build_failure_is_an_error_with_the_log_tail(client, tmp_path, fixture_scenarios):
    # a step that fails only when it runs (a missing source or command is caught by validate first)
    text = (fixture_scenarios / "outcomes.yaml").read_text()
    failing = '[sh, -c, "echo cc: fatal error: no-such-file.c: No such file; exit 1"]'
    (fixture_scenarios / "outcomes.yaml").write_text(text.replace(
        "    - [cp, fixture.sh, /out/bin/fixture]", f"    - [cp, fixture.sh, /out/bin/fixture]\n    - {failing}"))
    proc = lab("--scenarios", str(fixture_scenarios), "--results", str(tmp_path), "run", "outcomes:present",
               "outcomes:offline-image")
    assert proc.returncode == 1, proc.stderr
    rec = record.load(record.find(tmp_path))
    first = rec["results"][0]
    assert first["outcome"] == "error"
    step = 'Step 8/16 : RUN ["sh", "-c", "echo cc: fatal error: no-such-file.c: No such file; exit 1"]'
    assert first["reason"].startswith(f"image build failed in {step}: cc: fatal error: no-such-file.c: No such file ("), first["reason"]
    assert "no-such-file.c" in first["build_log_tail"]
    # the whole build log is saved beside the run's logs, named in the record and on the console
    assert first["build_log"] == f"logs/{rec['run_id']}/outcomes.present.bookworm.build.log"
    whole = (tmp_path / first["build_log"]).read_text()
    assert whole.startswith("Step 1/16 : FROM debian:bookworm AS build\n") and "no-such-file.c" in whole
    assert f"FAILED at {step}" in proc.stderr
    assert "  | cc: fatal error: no-such-file.c: No such file" in proc.stderr
    assert f"  whole build log: {tmp_path / first['build_log']}" in proc.stderr
    assert "\x1b" not in proc.stderr
    assert rec["results"][1]["outcome"] == "skipped"  # the rest went on


def test_unchanged_rebuild_reuses_every_layer(client, tmp_path):
    args = ("--scenarios", str(FIXTURES / "scenarios"), "build", "--no-reuse", "outcomes:present")
    assert lab(*args).returncode == 0
    proc = lab(*args)
    assert proc.returncode == 0
    # every step after FROM and the metadata-only steps is a cache hit
    assert "outcomes:present@bookworm: ok reprolab/outcomes:present-bookworm" in proc.stdout
    import re
    m = re.search(r"\((\d+)/(\d+) steps cached\)", proc.stdout)
    cached, steps = int(m.group(1)), int(m.group(2))
    assert steps > 0 and cached >= steps - 2, proc.stdout  # the two FROM steps are never 'cached'


def test_unchanged_image_is_reused_without_a_build(client, tmp_path):
    args = ("--scenarios", str(FIXTURES / "scenarios"), "build", "outcomes:present")
    assert lab(*args).returncode == 0
    proc = lab(*args)
    assert "outcomes:present@bookworm: ok reprolab/outcomes:present-bookworm" in proc.stdout
    assert "(reused (same content and base))" in proc.stdout


def test_repeat_jobs_and_until_decided(client, tmp_path):
    junit_file = tmp_path / "j.xml"
    proc = lab("--scenarios", str(FIXTURES / "scenarios"), "--results", str(tmp_path / "r"), "run",
               "outcomes:present", "outcomes:absent", "--repeat", "3", "--jobs", "2", "--junit", str(junit_file))
    assert proc.returncode == 0, proc.stderr
    rec = record.load(record.find(tmp_path / "r"))
    assert [(r["variant"], r["repeat"]) for r in rec["results"]] == [
        ("present", 1), ("present", 2), ("present", 3), ("absent", 1), ("absent", 2), ("absent", 3)]
    assert rec["jobs"] == 2 and all("ran_beside" in r for r in rec["results"])
    assert "3/3 [0.44-1.00]" in proc.stdout and "0/3 [0.00-0.56]" in proc.stdout
    assert junit_file.read_text().count("<testcase ") == 6
    # until-decided: one reproduction decides a variant that reproduces
    proc = lab("--scenarios", str(FIXTURES / "scenarios"), "--results", str(tmp_path / "u"), "run",
               "outcomes:present", "--repeat", "20", "--until-decided")
    assert proc.returncode == 0
    assert len(record.load(record.find(tmp_path / "u"))["results"]) == 1
    assert "decided after 1 run(s): 1/1" in proc.stderr


def test_verdict_edges_for_real(client, tmp_path):
    """A verdict followed by 1000 lines is still read; two verdicts, or one on stderr only, are errors."""
    results = tmp_path / "results"
    proc = lab("--scenarios", str(FIXTURES / "verdict-edges"), "--results", str(results), "run", "verdicts")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rec = record.load(record.list_records(results)[0])
    by = {r["variant"]: r for r in rec["results"]}
    assert {v: r["outcome"] for v, r in by.items()} == {"chatty": "reproduced", "twice": "error",
                                                       "stderr-only": "error"}
    assert by["chatty"]["evidence"] == {"mode": "chatty"}
    log = (results / by["chatty"]["log"]).read_text()
    assert "stdout line 500 after the verdict" in log and "stderr line 500" in log
    assert by["twice"]["reason"] == (
        "2 verdict lines on stdout, a reproducer prints exactly one: "
        "line 1 'REPROLAB-RESULT {\"outcome\": \"not-reproduced\", \"attempts\": 1, \"evidence\": {\"mode\": \"first\"}}' and "
        "line 2 'REPROLAB-RESULT {\"outcome\": \"reproduced\", \"attempts\": 1, \"evidence\": {\"mode\": \"second\"}}'")
    assert by["stderr-only"]["reason"] == "no verdict line (REPROLAB-RESULT {...}) on stdout"
    assert lab_containers(client, rec["run_id"]) == []


def test_a_variant_overrides_timeout_memory_and_env(client, tmp_path, fixture_scenarios):
    text = (fixture_scenarios / "outcomes.yaml").read_text()
    text = text.replace("    args: [hang]\n    expect: hang", "    args: [hang]\n    expect: hang\n    timeout: 2")
    text = text.replace("    args: [probe, /etc/debian_version]\n",
                        "    args: [probe, /etc/debian_version]\n    memory: 48m\n    env: {PROBE_NOTE: x}\n")
    (fixture_scenarios / "outcomes.yaml").write_text(text)
    proc = lab("--scenarios", str(fixture_scenarios), "--results", str(tmp_path), "run", "outcomes:hangs",
               "outcomes:present", "outcomes:absent")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    by = {r["variant"]: r for r in record.load(record.find(tmp_path))["results"]}
    assert by["hangs"]["outcome"] == "hang"
    assert by["hangs"]["reason"] == "no end within the 2 s timeout; container killed"
    assert "--memory=48m --memory-swap=48m --pids-limit=64 -e PROBE_NOTE=x " in by["present"]["docker_command"]
    assert "--memory=64m --memory-swap=64m " in by["absent"]["docker_command"]
    assert "PROBE_NOTE" not in by["absent"]["docker_command"]
