"""`lab.py new`: the scaffold validates as written, refuses a taken or bad name, and writes only
into the scenarios folder it was given."""

from pathlib import Path

import pytest

from reprolab import cli
from reprolab.scenarios import catalog, scaffold
from reprolab.common.errors import UserError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("lang", scaffold.LANGS)
def test_each_language_validates_with_one_variant_of_each_expectation(tmp_path, lang):
    written = scaffold.create(tmp_path, "my-bug", lang)
    assert written[0] == tmp_path / "my-bug.yaml" and written[1].parent == tmp_path / "my-bug"
    [sc] = catalog.load_all(tmp_path)
    assert sorted(v.expect for v in sc.variants) == ["not-reproduced", "reproduced"]
    assert sc.default_variant == "no-cloexec"
    source = written[1].read_text()
    assert scaffold.TARGET in source and "@TARGET@" not in source
    assert "REPROLAB-RESULT" in source


def test_a_taken_name_is_refused_and_nothing_is_written(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(UserError, match=r"taken: already exists; choose another name"):
        scaffold.create(tmp_path, "taken")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


@pytest.mark.parametrize("name", ["Bad_Name", "-x", "a/b", "", "x" * 64])
def test_a_bad_name_is_refused(tmp_path, name):
    with pytest.raises(UserError, match="not a scenario name"):
        scaffold.create(tmp_path, name)
    assert list(tmp_path.iterdir()) == []


def test_the_cli_prints_one_line_and_exits_2_for_a_taken_name(tmp_path, capsys):
    assert cli.main(["new", "dup", "--scenarios", str(tmp_path)]) == 0
    capsys.readouterr()
    assert cli.main(["new", "dup", "--scenarios", str(tmp_path), "--lang", "go"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dup.yaml: already exists" in err[0]


def test_a_bad_language_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["new", "x", "--lang", "rust", "--scenarios", str(tmp_path)])
    assert exc.value.code == 2


def test_scaffolding_elsewhere_leaves_the_compose_files_alone(tmp_path):
    before = {p: p.read_bytes() for p in [ROOT / "docker-compose.yml", *(ROOT / "compose").glob("*")]}
    assert cli.main(["new", "elsewhere", "--scenarios", str(tmp_path)]) == 0
    after = {p: p.read_bytes() for p in [ROOT / "docker-compose.yml", *(ROOT / "compose").glob("*")]}
    assert after == before


def test_shell_compare_scaffolds_a_reproducer_without_verdict_and_its_sample(tmp_path):
    written = scaffold.create(tmp_path, "my-sections", "shell", "compare")
    assert [p.name for p in written] == ["my-sections.yaml", "repro.sh", "sample.txt"]
    [sc] = catalog.load_all(tmp_path)  # validate applies the rule to the sample: it must find both sections
    rule = sc.read_rule(sc.variant("no-cloexec"))
    assert (rule.control.name, [t.name for t in rule.treatments], rule.sample) == ("without", ["with"], "sample.txt")
    assert "REPROLAB-RESULT" not in written[1].read_text()
    from reprolab.scenarios import sections
    c = sections.compare(rule, written[2].read_text().splitlines())
    assert c.evidence["differs"] == {"with": {"3": {"control": "none", "treatment": scaffold.TARGET}}}


def test_compare_is_scaffolded_for_shell_only(tmp_path):
    with pytest.raises(UserError, match=r"^--read compare: scaffolded for --lang shell only \(not c\); add --lang shell$"):
        scaffold.create(tmp_path, "my-bug", "c", "compare")
    assert list(tmp_path.iterdir()) == []
