"""Compare rules (read.compare) on recorded outputs: sections split by markers, facts compared."""

from pathlib import Path

import pytest

from reprolab.runs import reading, runopts
from reprolab.scenarios import catalog, readrule, sections

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "tests" / "fixtures" / "sections"
FDS = ROOT / "tests" / "fixtures" / "read" / "sections"
PLAIN_C = ROOT / "scenarios" / "liblxc-cgroup-escape-plain-c.yaml"
MOVED = "/test-lxc/plainc-lxc-<time>"


@pytest.fixture(scope="module")
def plain_c():
    sc = catalog.load_one(PLAIN_C)
    return sc.read_rule(sc.variant("link-liblxc"))


@pytest.fixture(scope="module")
def fds():
    return catalog.load_one(FDS.parent / "sections.yaml")


def recorded(name):
    return (RECORDED / name).read_text().splitlines()


def test_identical_sections_are_not_reproduced(plain_c):
    c = sections.compare(plain_c, recorded("plain-c-liblxc.stdout"))
    assert (c.outcome, c.rule, c.differing, c.treatments) == ("not-reproduced", "compare.same", 0, 1)
    assert c.evidence["differing"] == "0/1" and "differs" not in c.evidence
    control, treated = c.evidence["sections"]["without-lxc"], c.evidence["sections"]["with-lxc"]
    assert (control["line"], treated["line"]) == (1, 14)
    assert control["facts"] == treated["facts"]
    assert control["facts"]["pids"] == MOVED and control["facts"]["cpuset"] == "/"
    assert sorted(control["facts"]) == ["", "blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory",
                                        "name=systemd", "pids"]


def test_one_controller_moved_is_reproduced_naming_it(plain_c):
    lines = recorded("plain-c-liblxc.stdout")
    at = max(i for i, line in enumerate(lines) if line.startswith("8:pids:"))  # the treatment's
    lines[at] = "8:pids:/"
    c = sections.compare(plain_c, lines)
    assert (c.outcome, c.rule, c.evidence["differing"]) == ("reproduced", "compare.differs", "1/1")
    assert c.evidence["differs"] == {"with-lxc": {"pids": {"control": MOVED, "treatment": "/"}}}


def test_the_model_moves_every_controller_the_script_entered(plain_c):
    c = sections.compare(plain_c, recorded("plain-c-model.stdout"))
    assert c.outcome == "reproduced"
    moved = c.evidence["differs"]["with-lxc"]
    assert sorted(moved) == ["blkio", "cpu", "cpuacct", "devices", "freezer", "memory", "name=systemd", "pids"]
    assert all(m == {"control": MOVED, "treatment": "/"} for m in moved.values())
    # cpuset: the script never entered it (ENOSPC), so it is "/" in both and not a difference
    assert "cpuset" not in moved and c.evidence["sections"]["without-lxc"]["facts"]["cpuset"] == "/"


def test_a_line_rule_calls_the_identical_sections_reproduced(plain_c):
    """Why the compare rule exists: the only line rule there is, a controller at /, matches the
    control's cpuset line as well and calls a run where nothing moved reproduced."""
    rule = readrule.Rule(reproduced_stdout=r"^[0-9]+:[^:]+:/$", not_reproduced_exit=(0,))
    r = reading.Reader(rule)
    for line in recorded("plain-c-liblxc.stdout"):
        r.feed("stdout", line)
    d = r.decide(0, 1.0)
    assert (d.outcome, dict(d.evidence)["matched"]["line"]) == ("reproduced", "3:cpuset:/")
    assert sections.compare(plain_c, recorded("plain-c-liblxc.stdout")).outcome == "not-reproduced"


def test_a_missing_section_is_an_error_naming_it(plain_c):
    lines = recorded("plain-c-liblxc.stdout")
    c = sections.compare(plain_c, lines[:lines.index("RUNNING WITH LINKING LXC")])
    assert (c.outcome, c.rule) == ("error", "compare.sections")
    assert c.reason == "section with-lxc is missing: no line matches its marker /^RUNNING WITH LINKING LXC$/"
    assert list(c.evidence["sections"]) == ["without-lxc"]
    c = sections.compare(plain_c, lines[lines.index("RUNNING WITH LINKING LXC"):])
    assert c.reason == ("section without-lxc (control) is missing: no line matches its marker "
                        "/^RUNNING WITHOUT LINKING LXC$/")


def test_an_empty_section_is_an_error_naming_it(plain_c):
    """A treatment whose build failed: its marker is there, its facts are not."""
    lines = recorded("plain-c-liblxc.stdout")
    lines = lines[:lines.index("RUNNING WITH LINKING LXC") + 1] + ["./test.sh: line 27: ./hello-lxc: not found"]
    c = sections.compare(plain_c, lines)
    assert c.outcome == "error"
    assert c.reason == ("section with-lxc (line 14) holds no fact: none of its lines matches "
                        "/^[0-9]+:([^:]*):(.*)$/")


def test_four_treatments_of_which_two_differ_give_2_of_4(fds):
    rule = fds.read_rule(fds.variant("four-runs"))
    lines = (FDS / "sample-4.txt").read_text().splitlines()
    c = sections.compare(rule, lines)
    assert (c.outcome, c.differing, c.treatments, c.evidence["differing"]) == ("reproduced", 2, 4, "2/4")
    assert list(c.evidence["sections"]) == ["without", "run.1", "run.2", "run.3", "run.4"]
    assert c.evidence["differs"] == {n: {"3": {"control": "none", "treatment": "/etc/debian_version"}}
                                     for n in ("run.1", "run.3")}
    d = reading.decide_compare(rule, lines, 0)
    assert (d.outcome, d.rule, d.attempts) == ("reproduced", "compare.differs", 4)
    assert dict(d.evidence)["exit_status"] == 0


def test_too_few_and_too_many_repeated_sections(fds):
    rule = fds.read_rule(fds.variant("four-runs"))
    lines = (FDS / "sample-4.txt").read_text().splitlines()
    cut = lines[:lines.index("RUN 3 WITH THE SUSPECT")]
    assert sections.compare(rule, cut).reason == ("sections run.3, run.4 are missing: the marker "
                                                  "/^RUN [0-9]+ WITH THE SUSPECT$/ matched 2 of 4 times (lines 9, 17)")
    more = lines + ["RUN 5 WITH THE SUSPECT", "fd 3: none"]
    assert sections.compare(rule, more).reason == ("section run: its marker /^RUN [0-9]+ WITH THE SUSPECT$/ matched "
                                                   "5 times (lines 9, 17, 25, 33, 40), 4 declared (count)")


def test_normalisation_is_what_makes_equal_sections_equal(fds):
    """Each child gets a new pipe: without the substitution its inode differs in every section."""
    rule = fds.read_rule(fds.variant("differs"))
    lines = (FDS / "sample.txt").read_text().splitlines()
    assert sections.compare(rule, lines).evidence["differs"] == {
        "with": {"3": {"control": "none", "treatment": "/etc/debian_version"}}}
    raw = readrule.Compare(**{**rule.__dict__, "normalize": ()})
    assert sorted(sections.compare(raw, lines).evidence["differs"]["with"]) == ["1", "3"]


def test_unnamed_facts_are_compared_as_a_list():
    rule = readrule.Compare(control=readrule.Section("before", "^BEFORE$"),
                            treatments=(readrule.Section("after", "^AFTER$"),), facts=r"^open: (\S+)", value=1)
    c = sections.compare(rule, ["BEFORE", "open: /a", "open: /b", "AFTER", "open: /a", "open: /c", "open: /c"])
    assert c.evidence["differs"] == {"after": {"only_in_control": ["/b"], "only_in_treatment": ["/c", "/c"]}}
    assert c.evidence["sections"]["after"]["facts"] == ["/a", "/c", "/c"]
    c = sections.compare(rule, ["BEFORE", "open: /a", "open: /b", "AFTER", "open: /b", "open: /a"])
    assert c.evidence["differs"] == {"after": {"order": "the same facts in another order"}}


def test_a_line_matching_two_markers_is_an_error():
    rule = readrule.Compare(control=readrule.Section("without", "^RUN"),
                            treatments=(readrule.Section("with", "WITH$"),), facts="^fd ")
    c = sections.compare(rule, ["RUN WITHOUT", "fd 1", "RUN WITH", "fd 1"])
    assert c.outcome == "error"
    assert c.reason.startswith("line 3 matches the markers of without and with; each marker must match only its own "
                               "section's line")


def test_streams_keep_the_order_of_frames_and_choose_the_source():
    frames = [(1, b"RUN WITHOUT\nfd 1: a\n"), (2, b"warn: x\nfd 2:"), (1, b"RUN WITH\n"), (2, b" b\n"), (1, b"fd 1: c")]
    got = {}
    for source in ("stdout", "stderr", "both"):
        s = reading.Streams(source)
        for kind, data in frames:
            s.push(kind, data)
        got[source] = s.close()
    assert got["stdout"] == ["RUN WITHOUT", "fd 1: a", "RUN WITH", "fd 1: c"]
    assert got["stderr"] == ["warn: x", "fd 2: b"]
    assert got["both"] == ["RUN WITHOUT", "fd 1: a", "warn: x", "RUN WITH", "fd 2: b", "fd 1: c"]


def test_streams_stop_at_the_limit(monkeypatch):
    monkeypatch.setattr(reading, "MAX_OUTPUT", 10)
    s = reading.Streams("stdout")
    s.push(1, b"aaaa\nbbbb\ncccc\n")
    assert (s.close(), s.cut) == (["aaaa", "bbbb"], True)
    d = reading.decide_compare(readrule.Compare(control=readrule.Section("a", "^a"), treatments=(
        readrule.Section("b", "^b"),), facts="x"), ["a", "x", "b", "x"], 0, cut=True)
    assert dict(d.evidence)["output_cut"] == "at 10 bytes" and d.outcome == "not-reproduced"


def test_an_artifacts_file_is_read_as_lines(tmp_path):
    path = tmp_path / "out.txt"
    path.write_bytes(b"RUNNING WITHOUT THE SUSPECT\r\nfd 3: none\nRUN 1 WITH THE SUSPECT\nfd 3: /x")
    assert reading.file_lines(path) == (["RUNNING WITHOUT THE SUSPECT", "fd 3: none", "RUN 1 WITH THE SUSPECT",
                                         "fd 3: /x"], False)


def test_oom_is_an_error_whatever_the_sections_say(fds):
    rule = fds.read_rule(fds.variant("differs"))
    d = reading.decide_compare(rule, (FDS / "sample.txt").read_text().splitlines(), 137, oom=True)
    assert (d.outcome, d.rule) == ("error", "compare.none")
    assert d.reason == "the reproducer was killed by the OOM killer; its sections say nothing about a finished run"


def test_the_rule_as_the_record_describes_it(plain_c, fds):
    assert plain_c.describe() == (
        "compare in stdout: section without-lxc (control) against with-lxc; facts: group 2 of lines matching "
        "/^[0-9]+:([^:]*):(.*)$/, named by group 1; reproduced when a treatment's facts differ from the control's")
    file_rule = fds.read_rule(fds.variant("file"))
    assert file_rule.describe().startswith("compare in artifacts file fds.txt: section without (control) against with;")
    assert fds.read_rule(fds.variant("four-runs")).describe().startswith(
        "compare in stdout: section without (control) against run (x4);")


def test_both_streams_run_through_one_pipe(fds):
    """stdout and stderr are two pipes whose relative order no reader can know: `from: both` joins
    them in the container (repro 2>&1); the other sources leave the image's command alone."""
    sc = fds
    recipe = sc.targets(sc.variant("both"))[0]
    opts = runopts.container_options(sc, sc.variant("both"), recipe, "tag", "run", "none")
    assert opts["command"] == ["/bin/sh", "-c", 'exec "$@" 2>&1', "sh", "/opt/reprolab/bin/fds.sh", "l", "both"]
    argv = runopts.docker_argv(opts)
    assert argv[argv.index("tag"):] == ["tag", "/bin/sh", "-c", 'exec "$@" 2>&1', "sh", "/opt/reprolab/bin/fds.sh",
                                        "l", "both"]
    for name in ("differs", "stderr", "file"):
        v = sc.variant(name)
        assert "command" not in runopts.container_options(sc, v, sc.targets(v)[0], "tag", "run", "none")
