import os
from pathlib import Path

import pytest

from reprolab.scenarios import catalog
from reprolab.common.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
name: demo
title: A demo
summary: >
  Demo scenario.
requires: {cgroup: any, capabilities: [SYS_ADMIN]}
image:
  suites: [bookworm, trixie]
  packages: [libc6, python3.11-minimal]
  build:
    - [cp, run.sh, /out/bin/run]
run:
  command: [/opt/reprolab/bin/run]
  timeout: 30
variants:
  one: {expect: reproduced}
  two: {expect: not-reproduced, suites: [trixie], args: [--x]}
"""


def problems_of(path):
    with pytest.raises(ScenarioError) as exc:
        catalog.load_one(path)
    return [p.split(":", 1)[1] for p in exc.value.problems]  # drop the (temp) file name


def test_good_file_loads(write_scenario):
    sc = catalog.load_one(write_scenario(GOOD, sources={"run.sh": "#!/bin/sh\n"}))
    assert sc.name == "demo"
    assert [v.name for v in sc.variants] == ["one", "two"]
    assert [r.suite for r in sc.targets(sc.variant("one"))] == ["bookworm", "trixie"]
    assert [r.suite for r in sc.targets(sc.variant("two"))] == ["trixie"]
    assert sc.default_variant == "one"


def test_unknown_key_names_its_line_and_the_known_keys(write_scenario):
    text = GOOD.replace("  timeout: 30\n", "  timeout: 30\n  memroy: 1g\n")
    assert problems_of(write_scenario(text, sources={"run.sh": ""})) == [
        "14: run.memroy: unknown key 'memroy'; known keys here: args, artifacts, command, env, exposure, hang_is_symptom, memory, pids, read, timeout"]


def test_bad_expectation(write_scenario):
    text = GOOD.replace("one: {expect: reproduced}", "one: {expect: maybe}")
    assert problems_of(write_scenario(text, sources={"run.sh": ""})) == [
        "15: variants.one.expect: 'maybe' is not one of: reproduced, not-reproduced, hang, skipped, error"]


def test_shell_in_package_name(write_scenario):
    text = GOOD.replace("libc6, python3.11-minimal", "libc6, 'curl; rm -rf /'")
    assert problems_of(write_scenario(text, sources={"run.sh": ""})) == [
        "8: image.packages.1: 'curl; rm -rf /' is not a Debian package name (lower-case letters, digits, '+', '-', '.')"]


def test_shell_string_instead_of_exec_form(write_scenario):
    text = GOOD.replace("    - [cp, run.sh, /out/bin/run]", "    - cp run.sh /out/bin/run && true")
    assert problems_of(write_scenario(text, sources={"run.sh": ""})) == [
        "10: image.build.0: expected array, got a string 'cp run.sh /out/bin/run && true'; write it as an "
        "exec-form list, here through a shell: [sh, -c, \"cp run.sh /out/bin/run && true\"]"]


def test_absurd_timeout(write_scenario):
    text = GOOD.replace("timeout: 30", "timeout: 999999")
    assert problems_of(write_scenario(text, sources={"run.sh": ""})) == [
        "13: run.timeout: 999999 is out of range (1..3600)"]


def test_every_problem_of_a_file_at_once(write_scenario):
    text = GOOD.replace("timeout: 30", "timeout: 0").replace("one: {expect: reproduced}", "one: {expect: 3}")
    assert len(problems_of(write_scenario(text, sources={"run.sh": ""}))) == 2


def test_semantic_checks(write_scenario):
    text = (GOOD.replace("name: demo", "name: other")
                .replace("suites: [trixie]", "suites: [bullseye]")
                .replace("[SYS_ADMIN]", "[CAP_SYS_ADMIN]"))
    text += "default_variant: three\n"
    assert problems_of(write_scenario(text, sources={"run.sh": ""})) == [
        "1: name 'other' differs from the file name; rename one of them to match 'demo'",
        "5: requires.capabilities: unknown capability 'CAP_SYS_ADMIN' (write it without CAP_, e.g. SYS_ADMIN)",
        "16: variants.two.suites: 'bullseye' is not in image.suites ['bookworm', 'trixie']",
        "17: default_variant: 'three' is not a variant of this scenario",
    ]


def test_hang_expectation_needs_the_symptom_declared(write_scenario):
    text = GOOD.replace("one: {expect: reproduced}", "one: {expect: hang}")
    assert problems_of(write_scenario(text, sources={"run.sh": ""})) == [
        "15: variants.one.expect: 'hang' needs run.hang_is_symptom: true (a hang is otherwise a failure)"]


def test_missing_sources_folder(write_scenario):
    probs = problems_of(write_scenario(GOOD))
    assert len(probs) == 1 and "image.build: the sources folder" in probs[0] and "does not exist" in probs[0]


def test_symlink_leaving_the_scenario_folder(write_scenario, tmp_path):
    path = write_scenario(GOOD, sources={"run.sh": ""})
    os.symlink("/etc/passwd", tmp_path / "demo" / "passwd")
    probs = problems_of(path)
    assert len(probs) == 1 and "is a symlink leaving the scenario folder (to /etc/passwd)" in probs[0]


def test_load_all_reports_every_file(write_scenario, tmp_path):
    write_scenario("name: a\n", name="a")
    write_scenario("- just a list\n", name="b")
    with pytest.raises(ScenarioError) as exc:
        catalog.load_all(tmp_path)
    assert [p.split("/")[-1] for p in exc.value.problems] == [
        "a.yaml:1: (top level): missing required key 'image'",
        "a.yaml:1: (top level): missing required key 'run'",
        "a.yaml:1: (top level): missing required key 'summary'",
        "a.yaml:1: (top level): missing required key 'title'",
        "a.yaml:1: (top level): missing required key 'variants'",
        "b.yaml:1: a scenario file holds a mapping (name: ..., title: ...), not a list",
    ]


def test_project_scenarios_are_valid():
    scenarios = catalog.load_all(ROOT / "scenarios")
    assert scenarios, "scenarios/ holds no scenario"
    for sc in scenarios:
        assert sc.variants


def test_fixture_scenarios_are_valid():
    assert [s.name for s in catalog.load_all(ROOT / "tests" / "fixtures" / "scenarios")] == ["containment", "outcomes"]
