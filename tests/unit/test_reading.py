"""Read rules: the pure matching logic, fed the real output of the upstream-style fixture reproducers."""

import subprocess
from pathlib import Path

import pytest

from reprolab.runs import reading
from reprolab.scenarios import catalog, readrule

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "read" / "upstream.yaml"
BIN = FIXTURE.parent / "upstream"


@pytest.fixture(scope="module")
def upstream():
    return catalog.load_one(FIXTURE)


def rule_of(sc, name):
    return sc.read_rule(sc.variant(name))


def run_exits_on_bug(*args):
    proc = subprocess.run(["sh", str(BIN / "exits-on-bug.sh"), *args], capture_output=True, text=True, timeout=30)
    return proc.returncode, proc.stdout.splitlines(), proc.stderr.splitlines()


def read(rule, stdout=(), stderr=()):
    r = reading.Reader(rule)
    for line in stdout:
        r.feed("stdout", line)
    for line in stderr:
        r.feed("stderr", line)
    return r


def loop_lines(path, count):
    """The first `count` lines of the looping reproducer, which then is killed as the lab would."""
    proc = subprocess.Popen(["sh", str(BIN / "loops.sh"), path], stdout=subprocess.PIPE, text=True)
    try:
        return [proc.stdout.readline().rstrip("\n") for _ in range(count)]
    finally:
        proc.kill()
        proc.wait()


def test_exit_status_in_the_set_is_reproduced(upstream):
    status, out, err = run_exits_on_bug("/")
    assert status == 2
    d = read(rule_of(upstream, "exit-bug"), out, err).decide(status, 0.1)
    assert (d.outcome, d.rule, dict(d.evidence)) == ("reproduced", "reproduced.exit_status", {"exit_status": 2})


def test_clean_exit_is_not_reproduced_and_an_unplanned_one_is_an_error(upstream):
    rule = rule_of(upstream, "exit-clean")
    status, out, err = run_exits_on_bug("/no/such/path")
    d = read(rule, out, err).decide(status, 0.1)
    assert (d.outcome, d.rule) == ("not-reproduced", "not_reproduced.exit_status")
    status, out, err = run_exits_on_bug("/no/such/path", "5")
    d = read(rule, out, err).decide(status, 0.1)
    assert (d.outcome, d.rule) == ("error", "none")
    assert d.reason == "the reproducer ended with exit status 5 after 0.1 s, with no match and before the declared exposure"


def test_stderr_line_is_the_evidence(upstream):
    status, out, err = run_exits_on_bug("/")
    d = read(rule_of(upstream, "panic-line"), out, err).decide(status, 0.1)
    assert (d.outcome, d.rule) == ("reproduced", "reproduced.stderr")
    assert dict(d.evidence)["matched"] == {"stream": "stderr", "line_number": 1, "line": "panic: / is there (leaked)",
                                           "pattern": "^panic: "}


def test_a_pattern_reads_only_its_own_stream(upstream):
    r = read(rule_of(upstream, "panic-line"), stdout=["panic: on stdout"])
    assert not r.settled() and r.decide(0, 0.1).outcome == "not-reproduced"


def test_looping_reproducer_settles_at_the_match(upstream):
    r = read(rule_of(upstream, "loop-found"), loop_lines("/", 2))
    assert r.settled()
    d = r.decide(137, 0.5, stopped=True)
    assert (d.outcome, d.rule) == ("reproduced", "reproduced.stdout")
    assert dict(d.evidence) == {"matched": {"stream": "stdout", "line_number": 2, "line": "FOUND / on attempt 1",
                                            "pattern": "^FOUND "}, "attempts": 1}


def test_looping_reproducer_without_match_settles_after_the_attempts(upstream):
    rule = rule_of(upstream, "loop-clean")
    r = read(rule, loop_lines("/no/such/path", 4))
    assert not r.settled()
    r.feed("stdout", "attempt 5")
    assert r.settled()
    d = r.decide(137, 1.2, stopped=True)
    assert (d.outcome, d.rule, dict(d.evidence)) == ("not-reproduced", "not_reproduced.after_attempts",
                                                     {"attempts": 5, "seconds": 1.2})


def test_exposure_in_seconds(upstream):
    rule = rule_of(upstream, "loop-clean-seconds")
    r = read(rule, loop_lines("/no/such/path", 3))
    assert not r.exposed(1.9) and r.exposed(2.0)
    assert r.decide(137, 2.1, stopped=True).rule == "not_reproduced.after_seconds"
    # stopped before its exposure (the timeout or an interrupt): not a not-reproduced
    assert r.decide(137, 1.0, stopped=True).outcome == "error"


def test_the_labs_kill_status_is_not_the_reproducers(upstream):
    rule = readrule.Rule(reproduced_exit=(137,), not_reproduced_exit=(0,), after_seconds=1)
    assert reading.Reader(rule).decide(137, 1.5, stopped=True).rule == "not_reproduced.after_seconds"
    assert reading.Reader(rule).decide(137, 0.5, oom=True).outcome == "error"


def test_lines_splits_chunks_and_bounds_long_lines():
    lines = reading.Lines()
    assert lines.push(b"att") == [] and lines.push(b"empt 1\nFOU") == ["attempt 1"]
    assert lines.push(b"ND x\r\n" + b"y" * (reading.MAX_LINE + 10)) == ["FOUND x"]
    (long,) = lines.close()
    assert len(long) == reading.MAX_LINE


def test_describe_names_both_sides(upstream):
    assert rule_of(upstream, "loop-clean").describe() == (
        "reproduced when stdout matches /^FOUND /; not-reproduced after 5 lines matching /^attempt [0-9]+$/ "
        "with no match")
