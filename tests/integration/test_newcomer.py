"""The newcomer's path, as the README and docs/authoring.md tell it: new -> validate -> run -> show,
in folders of their own, on the real engine."""

import json

from integration.conftest import lab
from reprolab.common import labels


def test_new_validate_run_show(client, tmp_path):
    scenarios, results = tmp_path / "scenarios", tmp_path / "results"
    scenarios.mkdir()
    where = ["--scenarios", str(scenarios), "--results", str(results)]

    new = lab("new", "newcomer-fd", *where)
    assert new.returncode == 0, new.stderr
    assert (scenarios / "newcomer-fd.yaml").is_file() and (scenarios / "newcomer-fd" / "repro.c").is_file()

    valid = lab("validate", *where)
    assert valid.returncode == 0, valid.stderr
    assert "1 scenario file(s), 2 variant(s): valid" in valid.stdout

    try:
        run = lab("run", "newcomer-fd", "--suite", "bookworm", *where)
    finally:  # a scaffold is no fixture (no label to clean it by): the test removes what it built
        for img in client.images.list(filters={"label": f"{labels.SCENARIO}=newcomer-fd"}):
            client.images.remove(img.id, force=True)
    assert run.returncode == 0, run.stdout + run.stderr  # both outcomes as expected
    [path] = results.glob("*.json")
    rec = json.loads(path.read_text())
    got = {r["variant"]: (r["outcome"], r["evidence"]) for r in rec["results"]}
    assert got["no-cloexec"][0] == "reproduced" and got["no-cloexec"][1]["child_sees"] == "/etc/debian_version"
    assert got["cloexec"][0] == "not-reproduced" and got["cloexec"][1]["child_sees"] == ""

    show = lab("show", *where)
    assert show.returncode == 0, show.stderr
    assert "2 variants: 2 as expected" in show.stdout and str(path.name) in show.stdout


def test_new_shell_compare_validate_run(client, tmp_path):
    """`new --lang shell --read compare`: an upstream-style reproducer with a control and a
    treatment section, read by the lab's compare rule, validates and runs as created."""
    scenarios, results = tmp_path / "scenarios", tmp_path / "results"
    scenarios.mkdir()
    where = ["--scenarios", str(scenarios), "--results", str(results)]
    new = lab("new", "newcomer-sections", "--lang", "shell", "--read", "compare", *where)
    assert new.returncode == 0, new.stderr
    assert (scenarios / "newcomer-sections" / "sample.txt").is_file()
    valid = lab("validate", *where)
    assert valid.returncode == 0 and "1 scenario file(s), 2 variant(s): valid" in valid.stdout, valid.stderr
    run = lab("run", "newcomer-sections", "--suite", "bookworm", *where)
    assert run.returncode == 0, run.stdout + run.stderr
    [path] = results.glob("*.json")
    got = {r["variant"]: r for r in json.loads(path.read_text())["results"]}
    assert (got["no-cloexec"]["outcome"], got["no-cloexec"]["verdict_rule"]) == ("reproduced", "read.compare.differs")
    assert got["no-cloexec"]["evidence"]["differs"] == {
        "with": {"3": {"control": "none", "treatment": "/etc/debian_version"}}}
    assert (got["cloexec"]["outcome"], got["cloexec"]["verdict_rule"]) == ("not-reproduced", "read.compare.same")
