"""A run builds every image first, suites in lanes at once, and only then runs its variants one at a
time: no build shares the cores with a variant's exposure, and each result says so (built_beside)."""

import json
import re
import secrets
import shutil

import pytest
import yaml

from conftest import ROOT
from integration.conftest import lab

pytestmark = pytest.mark.docker

FIXTURE = ROOT / "tests/fixtures/scenarios/outcomes"


def test_all_images_are_built_before_the_first_variant_runs(client, tmp_path):
    name = f"build-first-{secrets.token_hex(3)}"  # new content: its images really build
    scenarios, results = tmp_path / "scenarios", tmp_path / "results"
    shutil.copytree(FIXTURE, scenarios / name)
    (scenarios / f"{name}.yaml").write_text(yaml.safe_dump({
        "name": name, "title": "two variants, each its own image", "summary": "Test scenario, not a bug.",
        "tags": ["fixture"], "requires": {"cgroup": "any"},
        "image": {"suites": ["bookworm"], "toolchain": False,
                  "build": [["cp", "fixture.sh", "/out/bin/fixture"], ["sh", "-c", f"echo {name} > /out/id"]]},
        "run": {"command": ["/opt/reprolab/bin/fixture"], "timeout": 30, "memory": "64m", "pids": 64},
        "variants": {"present": {"description": "found", "args": ["probe", "/etc/debian_version"], "expect": "reproduced"},
                     "absent": {"description": "not found", "args": ["probe", "/no/such"], "expect": "not-reproduced"}},
        "default_variant": "present"}))
    tags = [f"reprolab/{name}:{v}-bookworm" for v in ("present", "absent")]
    try:
        proc = lab("--scenarios", str(scenarios), "--results", str(results), "run", name)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        lines = proc.stderr.splitlines()
        first_run = next(i for i, ln in enumerate(lines) if ": start" in ln)
        for tag in tags:
            built = next(i for i, ln in enumerate(lines) if f"built {tag} in" in ln)
            assert built < first_run, proc.stderr
        rec = json.loads(next(results.glob("*.json")).read_text())
        assert {r["variant"]: r["outcome"] for r in rec["results"]} == {"present": "reproduced",
                                                                        "absent": "not-reproduced"}
        assert [r["built_beside"] for r in rec["results"]] == [[], []]
    finally:
        for tag in tags:
            try:
                client.images.remove(tag, force=True)
            except Exception:
                pass


def test_a_long_variant_is_not_silent_for_more_than_ten_seconds(client, tmp_path):
    """A variant quiet for 12 s: the console says it is still running it, and for how long."""
    name = "heartbeat-probe"
    scenarios, results = tmp_path / "scenarios", tmp_path / "results"
    shutil.copytree(FIXTURE, scenarios / name)
    (scenarios / f"{name}.yaml").write_text(yaml.safe_dump({
        "name": name, "title": "a quiet variant", "summary": "Test scenario, not a bug.",
        "tags": ["fixture"], "requires": {"cgroup": "any"},
        "image": {"suites": ["bookworm"], "toolchain": False, "build": [["cp", "fixture.sh", "/out/bin/fixture"]]},
        "run": {"command": ["sh", "-c", "sleep 12; /opt/reprolab/bin/fixture probe /etc/debian_version"],
                "timeout": 60, "memory": "64m", "pids": 64},
        "variants": {"quiet": {"description": "12 s without a word", "expect": "reproduced"}},
        "default_variant": "quiet"}))
    try:
        proc = lab("--scenarios", str(scenarios), "--results", str(results), "run", name)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert re.search(rf" still running {name}:quiet@bookworm \(\d+ s\)", proc.stderr), proc.stderr
    finally:
        try:
            client.images.remove(f"reprolab/{name}:quiet-bookworm", force=True)
        except Exception:
            pass
