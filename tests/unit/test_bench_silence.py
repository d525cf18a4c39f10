"""bench/run.py's longest silence between timestamped progress lines (the cold run's 10 s goal)."""

import importlib.util

from conftest import ROOT

spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_the_longest_gap_and_the_line_that_ended_it():
    stderr = "\n".join(["pip noise without a stamp", "03:59:50 base debian:trixie: importing",
                        "03:59:58 still making debian:bullseye with debootstrap (9 s)",
                        "04:00:12 built reprolab/x:y-bookworm in 20.0s", "04:00:13 [1/2] x:y@bookworm: start"])
    assert bench.longest_silence(stderr) == (14, "built reprolab/x:y-bookworm in 20.0s")


def test_past_midnight_and_no_lines():
    assert bench.longest_silence("23:59:58 a\n00:00:03 b") == (5, "b")
    assert bench.longest_silence("") == (0, "")
