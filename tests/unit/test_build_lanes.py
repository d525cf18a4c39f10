"""The scheduling of a run's builds: one lane per base image (a suite's toolchain layer built once,
then found in the cache), the lanes at once, each lane in turn; skipped targets not built."""

import threading
import time
from types import SimpleNamespace

from reprolab.engines import bases, build


def target(scenario, variant, suite):
    return SimpleNamespace(scenario=SimpleNamespace(name=scenario), variant=SimpleNamespace(name=variant),
                           recipe=SimpleNamespace(suite=suite, base=f"debian:{suite}", layers=()))


TARGETS = [target(s, v, suite) for s in ("fd", "rmtree") for v in ("a", "b") for suite in ("bullseye", "bookworm", "trixie")]


def names(lane):
    return [f"{t.scenario.name}:{t.variant.name}@{t.recipe.suite}" for t in lane]


def test_one_lane_per_base_in_the_order_given_each_tag_once():
    got = build.lanes(TARGETS + TARGETS[:2])
    assert [names(lane) for lane in got] == [
        ["fd:a@bullseye", "fd:b@bullseye", "rmtree:a@bullseye", "rmtree:b@bullseye"],
        ["fd:a@bookworm", "fd:b@bookworm", "rmtree:a@bookworm", "rmtree:b@bookworm"],
        ["fd:a@trixie", "fd:b@trixie", "rmtree:a@trixie", "rmtree:b@trixie"]]


def test_skipped_targets_are_not_built():
    got = build.lanes(TARGETS, skip=lambda t: "needs cgroup v1" if t.scenario.name == "fd" else "")
    assert [names(lane) for lane in got] == [["rmtree:a@bullseye", "rmtree:b@bullseye"],
                                             ["rmtree:a@bookworm", "rmtree:b@bookworm"],
                                             ["rmtree:a@trixie", "rmtree:b@trixie"]]


def test_lanes_run_at_once_and_each_lane_in_turn(monkeypatch):
    firsts = threading.Barrier(3, timeout=5)  # the three suites' first builds together, or broken
    running, log = {}, []
    lock = threading.Lock()

    def build_target(client, t, base, progress, reuse, timeout):
        with lock:
            assert not running.get(t.recipe.suite), "two builds of one suite at once"
            running[t.recipe.suite] = True
        if t.scenario.name == "fd" and t.variant.name == "a":
            firsts.wait()
        time.sleep(0.01)
        with lock:
            running[t.recipe.suite] = False
            log.append(f"{t.scenario.name}:{t.variant.name}@{t.recipe.suite}")
        return SimpleNamespace(tag=f"reprolab/{t.scenario.name}:{t.variant.name}-{t.recipe.suite}"), \
            build.Built(True, "sha256:x", 0.01, 1, 0, "")

    monkeypatch.setattr(build, "build_target", build_target)
    ready = {f"debian:{s}": bases.Base(f"debian:{s}", True, "present", id="b") for s in ("bullseye", "bookworm", "trixie")}
    got = list(build.build_all(None, TARGETS, ready))
    assert sorted(tb.tag for tb in got) == sorted(f"reprolab/{s}:{v}-{suite}" for s in ("fd", "rmtree")
                                                  for v in ("a", "b") for suite in ("bullseye", "bookworm", "trixie"))
    for suite in ("bullseye", "bookworm", "trixie"):
        assert [x for x in log if x.endswith(suite)] == [f"{s}:{v}@{suite}" for s in ("fd", "rmtree") for v in ("a", "b")]
    assert all(tb.span[0] <= tb.span[1] for tb in got)


def test_an_engine_failure_is_that_builds_and_a_missing_base_is_a_skip(monkeypatch):
    def build_target(client, t, base, progress, reuse, timeout):
        raise ConnectionError("engine gone")

    monkeypatch.setattr(build, "build_target", build_target)
    ready = {"debian:bookworm": bases.Base("debian:bookworm", True, "present", id="b"),
             "debian:trixie": bases.Base("debian:trixie", False, "missing", "no trixie here")}
    got = {tb.tag: tb for tb in build.build_all(None, [target("x", "a", "bookworm"), target("x", "a", "trixie")], ready)}
    assert isinstance(got["reprolab/x:a-bookworm"].error, ConnectionError)
    assert got["reprolab/x:a-trixie"].skipped == "no trixie here" and got["reprolab/x:a-trixie"].built is None
