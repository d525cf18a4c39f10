"""Budgets scaled with an engine's measured speed: factors, caps, and what stays as written."""

from pathlib import Path

import pytest

from reprolab.engines import speed
from reprolab.runs import budget
from reprolab.scenarios import readrule
from reprolab.scenarios.scenario import Scenario, Variant


def scenario(timeout=30, read=None, variant_timeout=0):
    v = Variant(name="v", expect="not-reproduced", timeout=variant_timeout)
    return Scenario(name="s", title="t", summary="s", path=Path("/x/s.yaml"), image={}, run_command=("x",),
                    timeout=timeout, variants=(v,), read=read), v


def speed_of(fork_exec, cpu, ref_fork=400.0, ref_cpu=500.0):
    ref = {"fork_exec_per_s": ref_fork, "cpu_per_s": ref_cpu}
    return speed.compare({"fork_exec_per_s": fork_exec, "cpu_per_s": cpu}, ref)


def test_the_slowdown_is_the_larger_ratio_and_budgets_grow_by_it():
    facts = speed_of(20.0, 100.0)  # 20x slower at fork+exec, 5x at computing
    assert facts["ratio"] == {"fork_exec": 20.0, "cpu": 5.0} and facts["slowdown"] == 20.0
    s = budget.scale_of(facts)
    assert (s.factor, s.capped, s.unscaled) == (20.0, False, "")
    sc, v = scenario(timeout=30)
    b = budget.for_variant(sc, v, s)
    assert b.timeout == 600 and b.facts() == {"factor": 20.0, "timeout": {"written": 30, "scaled": 600}}
    assert b.note() == "budgets x20 for this engine: timeout 30 s -> 600 s"


def test_a_faster_engine_keeps_the_budgets_as_written():
    s = budget.scale_of(speed_of(800.0, 1000.0))
    assert s.factor == 1.0 and s.slowdown == 0.5
    sc, v = scenario(timeout=30)
    b = budget.for_variant(sc, v, s)
    assert b.timeout == 30 and b.note() == ""


def test_the_factor_is_capped_and_the_record_says_so():
    s = budget.scale_of(speed_of(4.0, 500.0))  # 100x slower: a broken guest
    assert (s.factor, s.slowdown, s.capped) == (budget.MAX_FACTOR, 100.0, True)
    sc, v = scenario(timeout=30)
    b = budget.for_variant(sc, v, s)
    assert b.timeout == 1200 and b.facts()["capped"] is True
    assert b.note() == "budgets x40 for this engine (capped at 40x; measured 100x): timeout 30 s -> 1200 s"


def test_no_scaled_budget_exceeds_an_hour_unless_written_so():
    s = budget.scale_of(speed_of(20.0, 500.0))
    assert budget.for_variant(*scenario(timeout=600), s).timeout == budget.MAX_SECONDS
    assert budget.scaled(5000, 20.0) == 5000  # written larger than the cap: kept as written
    assert budget.scaled(7, 2.5) == 18  # rounded up


def test_after_seconds_scales_and_stays_below_the_timeout():
    rule = readrule.Rule(reproduced_exit=(1,), after_seconds=25)
    s = budget.scale_of(speed_of(40.0, 500.0))  # x10
    b = budget.for_variant(*scenario(timeout=30, read=rule), s)
    assert (b.timeout, b.read.after_seconds) == (300, 250)
    assert b.facts()["after_seconds"] == {"written": 25, "scaled": 250}
    assert b.note() == "budgets x10 for this engine: timeout 30 s -> 300 s, read.after_seconds 25 s -> 250 s"
    capped = budget.for_variant(*scenario(timeout=1000, read=readrule.Rule(after_seconds=900)),
                                budget.scale_of(speed_of(40.0, 500.0)))
    assert (capped.timeout, capped.read.after_seconds) == (3600, 3500)  # the written 100 s gap is kept


def test_an_exposure_in_attempts_needs_no_scaling():
    rule = readrule.Rule(reproduced_stdout="LEAK", attempt="^try", after_attempts=3000)
    b = budget.for_variant(*scenario(timeout=120, read=rule), budget.scale_of(speed_of(20.0, 500.0)))
    assert b.read.after_attempts == 3000 and "after_seconds" not in b.facts()


def test_a_variant_timeout_is_the_one_scaled():
    sc, v = scenario(timeout=30, variant_timeout=50)
    assert budget.for_variant(sc, v, budget.scale_of(speed_of(40.0, 500.0))).facts()["timeout"] == {
        "written": 50, "scaled": 500}


@pytest.mark.parametrize("facts, unscaled", [
    ({"error": "the calibration did not end within 120 s (read timed out)"},
     "calibration failed: the calibration did not end within 120 s (read timed out)"),
    (speed.compare({"fork_exec_per_s": 20.0, "cpu_per_s": 100.0}, {"error": "no Debian base image"}),
     "no ratio to the lab's host: the lab's host could not be measured: no Debian base image"),
    (None, "no ratio to the lab's host: not measured"),
])
def test_a_failed_calibration_leaves_budgets_unscaled_and_says_why(facts, unscaled):
    s = budget.scale_of(facts)
    assert (s.factor, s.unscaled) == (1.0, unscaled)
    b = budget.for_variant(*scenario(timeout=30), s)
    assert b.facts() == {"factor": 1.0, "timeout": {"written": 30, "scaled": 30}, "unscaled": unscaled}


def test_no_scale_measures_but_keeps_the_budgets():
    s = budget.scale_of(speed_of(20.0, 500.0), enabled=False)
    assert (s.factor, s.slowdown, s.unscaled) == (1.0, 20.0, "--no-scale: budgets as written")
    assert budget.for_variant(*scenario(timeout=30), s).timeout == 30


def test_a_hang_says_how_long_it_ran_in_host_equivalent_seconds():
    b = budget.for_variant(*scenario(timeout=30), budget.scale_of(speed_of(20.0, 500.0)))
    assert b.hang_reason(600.4) == ("no end within the 600 s timeout (30 s written, x20); container killed after "
                                    "600.4 s, 30.02 s host-equivalent (this engine measured 20x slower)")
    unscaled = budget.for_variant(*scenario(timeout=30), budget.scale_of(speed_of(20.0, 500.0), enabled=False))
    assert unscaled.hang_reason(30.2) == ("no end within the 30 s timeout; container killed after 30.2 s, "
                                          "1.51 s host-equivalent (this engine measured 20x slower)")
    plain = budget.for_variant(*scenario(timeout=30), budget.Scale())
    assert plain.hang_reason(30.1) == "no end within the 30 s timeout; container killed"
    host = budget.for_variant(*scenario(timeout=30), budget.scale_of(speed_of(400.0, 500.0)))  # the lab's host
    assert host.hang_reason(30.1) == "no end within the 30 s timeout; container killed"


def test_the_calibration_line_is_read_or_refused():
    good = ('{"fork_exec": 400, "fork_exec_failed": 0, "fork_exec_seconds": 1.0, "cpu_chunks": 250, '
            '"cpu_chunk_iterations": 200000, "cpu_seconds": 0.5}')
    assert speed.parse(good, 0, 2.1) == {"fork_exec_per_s": 400.0, "cpu_per_s": 500.0, "fork_exec": 400,
                                         "cpu_chunks": 250, "cpu_chunk_iterations": 200000,
                                         "container_seconds": 2.1}
    # what images/calibrate.c prints: the best of its rounds, and the totals beside it
    rounds = ('{"fork_exec": 129, "fork_exec_failed": 0, "fork_exec_seconds": 0.200684, "fork_exec_total": 392, '
              '"fork_exec_total_seconds": 1.014153, "cpu_chunks": 155, "cpu_chunk_iterations": 200000, '
              '"cpu_seconds": 0.200127, "cpu_chunks_total": 512, "cpu_total_seconds": 1.070242, "rounds": 5}')
    assert speed.parse(rounds, 0, 1.5) == {"fork_exec_per_s": 642.8, "cpu_per_s": 774.5, "fork_exec": 129,
                                           "cpu_chunks": 155, "cpu_chunk_iterations": 200000,
                                           "container_seconds": 1.5, "rounds": 5, "fork_exec_total": 392,
                                           "cpu_chunks_total": 512}
    assert speed.parse("Segmentation fault", 139, 0.3) == {
        "error": "the calibration printed no result (exit status 139): 'Segmentation fault'"}
    assert speed.parse('{"error": "seconds must lie in (0, 30]"}', 2, 0.1) == {
        "error": "the calibration failed: seconds must lie in (0, 30]"}
    assert speed.parse(good.replace('"fork_exec_failed": 0', '"fork_exec_failed": 1'), 1, 1.0) == {
        "error": "the calibration failed (exit status 1, 1 failed fork+exec, 400 made)"}


def test_the_engines_progress_line_says_its_speed_and_what_the_budgets_get():
    from reprolab.runs import calibration
    facts = speed_of(20.0, 100.0)
    assert calibration.describe(facts, budget.scale_of(facts)) == (
        "speed: 20 fork+exec/s, 100 CPU loops/s; 20x slower at fork+exec, 5x at computing than the lab's host; "
        "budgets x20")
    assert calibration.describe(facts, budget.scale_of(facts, enabled=False)).endswith(
        "; budgets stay as written (--no-scale: budgets as written)")
    broken = speed_of(4.0, 500.0)
    assert calibration.describe(broken, budget.scale_of(broken)).endswith("; budgets x40 (capped; measured 100x)")
    failed = {"error": "the calibration image reprolab/calibrate:1 was not sent to this engine"}
    assert calibration.describe(failed, budget.scale_of(failed)) == (
        "speed: not measured (the calibration image reprolab/calibrate:1 was not sent to this engine); "
        "budgets stay as written")


def test_other_engines_are_compared_with_the_hosts_best_of_this_boot(tmp_path, monkeypatch):
    from reprolab.runs import calibration
    monkeypatch.setenv("REPROLAB_CACHE", str(tmp_path))
    first = calibration.best_of_boot({"fork_exec_per_s": 300.0, "cpu_per_s": 50.0, "measured": "t1"}, "boot-a")
    assert first == {"fork_exec_per_s": 300.0, "cpu_per_s": 50.0, "samples": 1, "updated": "t1"}
    # a loaded moment lowers no rate of the boot's best; a better one raises it
    second = calibration.best_of_boot({"fork_exec_per_s": 30.0, "cpu_per_s": 80.0, "measured": "t2"}, "boot-a")
    assert second == {"fork_exec_per_s": 300.0, "cpu_per_s": 80.0, "samples": 2, "updated": "t2"}
    # another boot starts again
    other = calibration.best_of_boot({"fork_exec_per_s": 30.0, "cpu_per_s": 80.0, "measured": "t3"}, "boot-b")
    assert other == {"fork_exec_per_s": 30.0, "cpu_per_s": 80.0, "samples": 1, "updated": "t3"}
    # an unreadable cache is ignored, not fatal
    for f in (tmp_path / "speed").iterdir():
        f.write_text("{not json")
    assert calibration.best_of_boot({"fork_exec_per_s": 1.0, "cpu_per_s": 2.0, "measured": "t4"}, "boot-a")["samples"] == 1


def test_a_compare_rule_keeps_its_reading_and_only_the_timeout_scales():
    # a compare rule (read.compare) has no exposure in seconds: it reads the whole output after the end
    rule = readrule.Compare(control=readrule.Section("control", "^WITHOUT"),
                            treatments=(readrule.Section("linked", "^WITH"),), facts="^[0-9]+:")
    b = budget.for_variant(*scenario(timeout=30, read=rule), budget.scale_of(speed_of(40.0, 500.0)))
    assert b.read is rule and b.timeout == 300 and "after_seconds" not in b.facts()
