"""Bad input and missing engines: one clear line, exit 2, nothing built or run."""


from integration.conftest import lab
from reprolab.common import labels


def test_invalid_scenario_gives_file_line_and_exit_2(tmp_path):
    (tmp_path / "broken.yaml").write_text("name: broken\ntitle: x\nsummary: y\nimage: {suites: [sid]}\n"
                                          "run: {command: [x], timeout: 5}\nvariants: {a: {expect: maybe}}\n")
    proc = lab("--scenarios", str(tmp_path), "run", "all", env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines[0].endswith("broken.yaml:4: image.suites.0: 'sid' is not one of: bullseye, bookworm, trixie")
    assert lines[1].endswith("broken.yaml:6: variants.a.expect: 'maybe' is not one of: reproduced, not-reproduced, hang, skipped, error")
    assert lines[2] == "2 problem(s) in scenario files; nothing was built or run"


def test_no_engine_is_one_line_and_exit_2(tmp_path):
    proc = lab("--results", str(tmp_path), "run", "all", env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("lab.py: no Docker engine answers at unix:///nonexistent.sock")
    assert "scripts/setup-host.sh" in proc.stderr


def test_unknown_scenario(tmp_path):
    proc = lab("--results", str(tmp_path), "run", "no-such-bug", env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert proc.returncode == 2 and proc.stderr.startswith("lab.py: no-such-bug: no scenario named 'no-such-bug'")


def test_corrupt_record_for_show(tmp_path):
    (tmp_path / "x.json").write_text("{")
    proc = lab("--results", str(tmp_path), "show", "x")
    assert proc.returncode == 2 and proc.stderr.startswith(f"lab.py: {tmp_path}/x.json: not a JSON record")


def test_bad_corpus_through_the_cli_builds_and_runs_nothing(client):
    from conftest import FIXTURES
    names = {p.stem for p in (FIXTURES / "bad").glob("*.yaml")}

    def lab_made():  # containers and images the lab labelled with a scenario of the corpus
        found = client.containers.list(all=True, filters={"label": labels.SCENARIO})
        found += client.images.list(filters={"label": labels.SCENARIO})
        return {x.id for x in found if x.labels.get(labels.SCENARIO) in names}

    before = lab_made()
    proc = lab("--scenarios", str(FIXTURES / "bad"), "run", "all")
    after = lab_made()
    assert proc.returncode == 2
    expected = (FIXTURES / "bad" / "expected.txt").read_text().splitlines()
    got = proc.stderr.strip().splitlines()
    assert got[-1] == f"{len(expected)} problem(s) in scenario files; nothing was built or run"
    assert sorted(line.replace("tests/fixtures/bad/", "") for line in got[:-1]) == sorted(expected)
    assert before == after == set()
