"""Container creation versus the final sweep of a run with worker threads (fake engine)."""

import itertools
import threading
import types

import pytest

from reprolab.common import labels
from reprolab.engines.endpoints import Connected
from reprolab.runs import execute, session


class FakeEngine:
    """Just enough of docker-py's client for creating, listing and removing labelled containers."""

    def __init__(self):
        self.live = {}
        self.ids = itertools.count(1)
        self.containers = types.SimpleNamespace(list=self._list, get=lambda cid: self.live[cid])
        self.api = types.SimpleNamespace(create_host_config=lambda **kw: {}, create_container=self._create)

    def _create(self, image, labels, **kw):
        cid = f"c{next(self.ids)}"
        self.live[cid] = types.SimpleNamespace(id=cid, labels=labels, remove=lambda force, cid=cid: self.live.pop(cid))
        return {"Id": cid}

    def _list(self, all, filters):
        key, _, value = filters["label"].partition("=")
        return [c for c in list(self.live.values()) if c.labels.get(key) == value]


def test_no_container_is_created_after_the_sweep(tmp_path):
    engine = FakeEngine()
    s = session.Session(Connected(engine), [], tmp_path, ["lab.py"])
    inside, go = threading.Event(), threading.Event()

    def worker():  # a worker thread in the middle of creating its container when the run stops
        with s._creating():
            inside.set()
            go.wait(10)
            engine._create("img", {labels.RUN: s.run_id})

    w = threading.Thread(target=worker)
    w.start()
    assert inside.wait(10)
    stopper = threading.Thread(target=s._stop)
    stopper.start()
    stopper.join(0.5)  # without the fence the sweep is over by now and has found nothing
    go.set()
    w.join(10)
    stopper.join(10)
    assert engine.live == {}
    with pytest.raises(session.Stopped):
        with s._creating():
            pass


def test_run_container_creates_nothing_once_stopped(tmp_path):
    engine = FakeEngine()
    s = session.Session(Connected(engine), [], tmp_path, ["lab.py"])
    s._stop()
    opts = {"image": "img", "labels": {labels.RUN: s.run_id}, "network_mode": "none"}
    with pytest.raises(session.Stopped):
        execute.run_container(engine, opts, 5, tmp_path / "log", True, creating=s._creating)
    assert engine.live == {}
