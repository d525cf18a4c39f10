"""The bases of a run are made sure of at once, each failure kept, and an interrupt stops them all."""

import threading
import time
from types import SimpleNamespace

import pytest

from reprolab.engines import bases
from reprolab.common.errors import EngineError


class FakeClient:
    """An engine on which every image is present with a made-up id (ensure_for looks the id up)."""
    class images:
        @staticmethod
        def get(name):
            return SimpleNamespace(id=f"sha256:{name}", labels={})


def recipe(suite):
    return SimpleNamespace(suite=suite, base=f"debian:{suite}")


def test_the_three_suites_are_made_at_once(monkeypatch):
    together = threading.Barrier(3, timeout=5)  # broken (and the test failed) when made one by one

    def ensure_suite(client, suite, progress, local, source, cancel):
        together.wait()
        return bases.Base(f"debian:{suite}", True, "debootstrap")

    monkeypatch.setattr(bases, "ensure_suite", ensure_suite)
    got = bases.ensure_for(FakeClient(), [recipe(s) for s in ("trixie", "bullseye", "bookworm", "bookworm")])
    assert list(got) == ["debian:bookworm", "debian:bullseye", "debian:trixie"]
    assert all(b.available and b.id == f"sha256:{name}" for name, b in got.items())


def test_the_first_failure_in_order_is_raised_after_all_have_ended(monkeypatch):
    ended = []

    def ensure_suite(client, suite, progress, local, source, cancel):
        if suite == "bookworm":
            time.sleep(0.3)
            ended.append(suite)
            return bases.Base(f"debian:{suite}", True, "debootstrap")
        ended.append(suite)
        raise EngineError(f"debootstrap {suite} failed: E: no route")

    monkeypatch.setattr(bases, "ensure_suite", ensure_suite)
    with pytest.raises(EngineError, match="debootstrap bullseye failed"):
        bases.ensure_for(FakeClient(), [recipe(s) for s in ("trixie", "bullseye", "bookworm")])
    assert sorted(ended) == ["bookworm", "bullseye", "trixie"]


def test_a_cancelled_process_is_killed_with_its_group(tmp_path):
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    start = time.monotonic()
    code, tail = bases._bounded(["sh", "-c", "echo I: Retrieving; sleep 30"], timeout=60, cancel=cancel)
    assert code is None and tail == ["I: Retrieving"]
    assert time.monotonic() - start < 10


def test_each_output_line_reports_how_far_along():
    seen = []
    code, tail = bases._bounded(["sh", "-c", "echo I: Retrieving libc6; echo; echo I: Unpacking libc6"], timeout=30,
                                on_line=seen.append)
    assert code == 0 and seen == ["I: Retrieving libc6", "I: Unpacking libc6"]
